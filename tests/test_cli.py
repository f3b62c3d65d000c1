"""The CLI end to end on tiny data, one clear line for each bad input, and its layering."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import kfold
from kfold.cli import app
from kfold.data.sources import discover
from kfold.errors import KfError

runner = CliRunner()


def kf(*args, ws=None):
    argv = [*args, *(["--workspace", str(ws.root)] if ws is not None else [])]
    return runner.invoke(app, argv)


def test_synth_check_folds_train_runs(tmp_path):
    ws_dir = tmp_path / "ws"
    ws_dir.mkdir()
    (ws_dir / "kfold.toml").write_text("n_folds = 2\nimage_size = 32\n")
    result = runner.invoke(app, ["data", "synth", "--workspace", str(ws_dir), "--n-train", "40",
                                 "--n-test", "10", "--size", "40"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["data", "check", "-w", str(ws_dir)]).exit_code == 0
    result = runner.invoke(app, ["folds", "-w", str(ws_dir)])
    assert "fingerprint" in result.output
    result = runner.invoke(app, ["train", "-w", str(ws_dir), "--epochs", "1",
                                 "--batch-size", "16"])
    assert result.exit_code == 0, result.output
    assert "OOF AUC" in result.output and "submission:" in result.output
    assert (ws_dir / "oof" / "simple-cnn-32px.parquet").exists()
    result = runner.invoke(app, ["runs", "-w", str(ws_dir)])
    assert "simple-cnn-32px" in result.output


def _one_line_error(result, fragment):
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("error:"), result.stderr
    assert fragment in " ".join(lines), result.stderr
    assert "Traceback" not in result.output


def _remove_class(ws):
    shutil.rmtree(ws.data_dir / "train" / "bad_1")
    (ws.data_dir / "train" / "bad_1").mkdir()


def _corrupt_image(ws):
    path = discover(ws).train["path"].iat[0]
    open(path, "wb").write(b"not a jpeg")


def _table_layout_with_wrong_columns(ws):
    train = discover(ws).train
    pd.DataFrame({"image": train["id"], "y": train["target"]}).to_csv(
        ws.data_dir / "train.csv", index=False)


@pytest.mark.parametrize("damage, args, fragment", [
    (lambda ws: shutil.rmtree(ws.data_dir), ["train"], "no data folder"),
    (_table_layout_with_wrong_columns, ["train"], "has no 'id' column"),
    (_corrupt_image, ["train"], "unreadable training image"),
    (_remove_class, ["train"], "has no images"),
    (lambda ws: None, ["train", "--folds", "40"], "use fewer folds"),
    (lambda ws: None, ["train", "--model", "simple-cn"], "did you mean simple-cnn"),
    (lambda ws: None, ["train", "--tta", "x"], "--tta x must be none, flip or d4"),
])
def test_bad_input_is_one_clear_line(workspace, damage, args, fragment):
    damage(workspace)
    _one_line_error(kf(*args, "--epochs", "1", ws=workspace), fragment)
    assert not (workspace.oof_dir).exists() or not any(workspace.oof_dir.iterdir())


def test_folds_of_another_split_are_refused(workspace):
    assert kf("train", "--epochs", "1", ws=workspace).exit_code == 0
    _one_line_error(kf("folds", "--seed", "5", ws=workspace), "holds another split")
    assert kf("folds", "--seed", "5", "--force", ws=workspace).exit_code == 0
    _one_line_error(kf("train", "--epochs", "1", ws=workspace), "not made with --seed 0")
    _one_line_error(kf("train", "--epochs", "1", "--seed", "5", ws=workspace),
                    "exists with other settings {'seed': (0, 5)}")


def test_installed_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "kfold", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "train" in out.stdout


def _cli_imports(path) -> set[str]:
    """The kfold.cli modules `path` imports (absolute imports; kfold has no relative ones)."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names
                                     if node.module in ("kfold", "kfold.cli")]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n == "kfold.cli" or n.startswith("kfold.cli.")}
    return found


def test_only_the_cli_imports_the_cli():
    package = Path(kfold.__file__).parent
    offenders = {
        str(p.relative_to(package)): _cli_imports(p) for p in package.rglob("*.py")
        if p.parent.name != "cli" and p.name != "__main__.py" and _cli_imports(p)
    }
    assert offenders == {}


def test_command_modules_import_no_other_command_module():
    for path in (Path(kfold.__file__).parent / "cli").glob("*.py"):
        if path.name != "__init__.py":
            assert _cli_imports(path) <= {"kfold.cli._common", "kfold.cli._options"}, path.name


def test_a_user_error_prints_user_data_without_markup(workspace, monkeypatch):
    def refuse(ws, **kw):
        raise KfError("column pred has 3 NaN (first: [nan]) in [bold]x.csv")

    monkeypatch.setattr("kfold.runs.runs_summary", refuse)
    _one_line_error(kf("runs", ws=workspace), "(first: [nan]) in [bold]x.csv")


def test_an_unexpected_exception_is_one_line_and_a_traceback_file(workspace, monkeypatch):
    def broken(ws, **kw):
        raise ZeroDivisionError("[deep] inside")

    monkeypatch.setattr("kfold.runs.runs_summary", broken)
    result = kf("runs", ws=workspace)
    assert result.exit_code == 1
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: unexpected ZeroDivisionError: [deep]")
    report = Path(lines[0].rsplit("full traceback in ", 1)[1].rstrip(")"))
    assert "Traceback" in report.read_text() and "broken" in report.read_text()
    assert "Traceback" not in result.output
    report.unlink()


def test_every_table_is_built_by_views():
    package = Path(kfold.__file__).parent
    users = {str(p.relative_to(package)) for p in package.rglob("*.py")
             if "rich.table" in p.read_text()}
    assert users == {"views.py"}


@pytest.mark.parametrize("args, fragment", [
    (["--bogus"], "No such option: --bogus"),
    (["shakeu"], "No such command 'shakeu'. Did you mean 'shakeup'?"),
    (["shakeup", "--n", "x"], "Invalid value for '--n'"),
    (["submission", "download", "abc"], "Invalid value for 'ref'"),
    (["runs", "--format"], "requires an argument"),
])
def test_a_command_line_click_cannot_parse_is_one_error_line(args, fragment):
    result = kf(*args)
    _one_line_error(result, fragment)
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""


def test_a_group_alone_still_shows_its_help():
    result = kf("submission")
    assert "download" in result.output and "error:" not in result.output
