"""`kf package`: weights, manifest and wheels of runs and stacks, checked before writing."""

import json
import subprocess
import sys
import zipfile

import pytest
from typer.testing import CliRunner

from kfold.atomic import file_sha256
from kfold.cli import app
from kfold.errors import KfError
from kfold.package.build import build_package
from kfold.package.manifest import MANIFEST, read_manifest

BLENDED = ["stack-mean", "stack-rank", "stack-logreg", "stack-lightgbm", "stack-hillclimb"]


def test_a_package_holds_every_fold_model_a_manifest_with_hashes_and_wheels(trained_ws):
    report = build_package(trained_ws, ["stack-hillclimb", "a"], wheels=("tomli-w",))
    folder = trained_ws.root / "packages" / "stack-hillclimb"
    assert report.folder == folder and report.runs == ["a", "b"]
    manifest = read_manifest(folder)
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert files - {MANIFEST} == set(manifest["files"])
    assert {f"models/{r}/fold{k}.pt" for r in "ab" for k in (0, 1)} <= files
    for rel, sha in manifest["files"].items():
        assert file_sha256(folder / rel) == sha
    assert manifest["task"] == "binary" and manifest["classes"] == ["good_0", "bad_1"]
    assert list(manifest["targets"]) == ["stack-hillclimb", "a"]
    stack = manifest["targets"]["stack-hillclimb"]
    assert stack["runs"] == ["a", "b"] and stack["blender"]["name"] == "hillclimb"
    assert len(stack["fold_auc"]) == 2 and (folder / stack["blender"]["file"]).exists()
    b = manifest["runs"]["b"]
    assert b["tta"] == "flip" and b["image_size"] == 32 and b["tags"] == ["fold0", "fold1"]
    assert b["preprocessing"] == {"crop": 0, "threshold": None, "binarize": None}
    assert len(b["fold_auc"]) == 2
    assert sorted(report.wheels) == ["kfold-0.1.0-py3-none-any.whl",
                                     "tomli_w-1.2.0-py3-none-any.whl"]
    assert report.size_bytes == sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def test_a_changed_file_is_caught_by_the_manifest(trained_ws):
    folder = build_package(trained_ws, ["a"], wheels=()).folder
    (folder / "models" / "a" / "fold1.pt").write_bytes(b"not weights")
    with pytest.raises(KfError, match="does not match its manifest.*fold1.pt"):
        read_manifest(folder)


def test_packaging_again_replaces_the_package_and_clears_an_interrupted_one(trained_ws):
    build_package(trained_ws, ["a", "b"], wheels=())
    stray = trained_ws.root / "packages" / ".a.partial-99999"
    stray.mkdir()
    build_package(trained_ws, ["a"], wheels=())
    assert not stray.exists()
    assert list(read_manifest(trained_ws.root / "packages" / "a")["runs"]) == ["a"]


def test_the_kf_wheel_installs_offline_into_a_fresh_venv(trained_ws, tmp_path):
    folder = build_package(trained_ws, ["a"], wheels=("tomli-w",)).folder
    wheels = sorted(str(p) for p in (folder / "wheels").glob("*.whl"))
    with zipfile.ZipFile(wheels[0]) as z:
        assert "kfold/infer.py" in z.namelist()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages",
                    str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "-q",
                    "--no-index", "--no-deps", "--ignore-installed", *wheels], check=True)
    out = subprocess.run([python, "-c", "import kfold.infer, tomli_w; print(kfold.__file__)"],
                         check=True, capture_output=True, text=True, cwd=tmp_path,
                         env={"PATH": "/usr/bin:/bin"}).stdout
    assert out.strip().startswith(str(venv))


# --- bad input: one error, nothing written --------------------------------------------------
def _refused(ws, names, match, **kw):
    with pytest.raises(KfError, match=match):
        build_package(ws, names, wheels=(), **kw)
    assert not (ws.root / "packages").exists()


def test_a_run_without_saved_fold_weights_is_refused(trained_ws):
    (trained_ws.run_dir("b") / "fold1.pt").unlink()
    _refused(trained_ws, ["stack-mean"], r"run 'b' has no saved weights for fold1")


def test_a_stack_whose_runs_are_gone_is_refused(trained_ws):
    import shutil

    shutil.rmtree(trained_ws.run_dir("a"))
    _refused(trained_ws, ["stack-logreg"], r"stack 'stack-logreg' blends run\(s\) \['a'\] that are gone")


def test_a_run_of_another_task_than_the_workspaces_data_is_refused(trained_ws):
    path = trained_ws.run_json("a")
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "task": "multiclass", "classes": ["x", "y", "z"]}))
    _refused(trained_ws, ["b", "a"], "'a' is a multiclass run but the workspace's data reads "
             "as binary")


def test_a_package_over_the_size_limit_is_refused(trained_ws):
    _refused(trained_ws, ["a"], "over the 1e-06 GB limit of a Kaggle dataset", size_limit_gb=1e-6)


def test_unknown_names_and_foreign_folders_are_refused(trained_ws, tmp_path):
    _refused(trained_ws, ["nope"], "no run named 'nope'")
    _refused(trained_ws, ["stack-nope"], "no run or stack named 'stack-nope'")
    with pytest.raises(KfError, match="no such package is installed"):
        build_package(trained_ws, ["a"], wheels=("no-such-dist-kf",))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(KfError, match="is not a kf package"):
        build_package(trained_ws, ["a"], out=tmp_path / "mine", wheels=())
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_cli_reports_the_size_and_errors_in_one_line(trained_ws):
    runner = CliRunner()
    ok = runner.invoke(app, ["package", "stack-rank", "-w", str(trained_ws.root),
                             "--no-extra-wheels"])
    assert ok.exit_code == 0, ok.output
    assert "packaged stack-rank (runs a, b)" in ok.output and "MiB" in ok.output
    manifest = json.loads((trained_ws.root / "packages/stack-rank" / MANIFEST).read_text())
    assert manifest["targets"]["stack-rank"]["blender"]["name"] == "rank"
    bad = runner.invoke(app, ["package", "zzz", "-w", str(trained_ws.root)])
    assert bad.exit_code == 2 and bad.output.count("error:") == 1
