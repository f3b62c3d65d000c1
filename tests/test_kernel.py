"""`kf kernel` and `kf kernel test`: the notebook, its metadata, and the offline dry run."""

import json

import nbformat
import pytest
from typer.testing import CliRunner

from kfold.cli import app
from kfold.errors import KfError
from kfold.kernel.budget import Costs, keep_within
from kfold.kernel.dryrun import dry_run
from kfold.kernel.notebook import METADATA, NOTEBOOK, make_kernel
from kfold.package.build import build_package

BLENDED = ["stack-mean", "stack-rank", "stack-logreg", "stack-lightgbm", "stack-hillclimb"]


@pytest.fixture
def kernel_ws(trained_ws):
    """Every run and stack packaged as packages/a, and its kernel written."""
    build_package(trained_ws, ["a", "b", *BLENDED], wheels=("tomli-w",))
    make_kernel(trained_ws, "a", kernel="me/kf-test-kernel")
    return trained_ws


def test_the_kernel_metadata_turns_the_internet_off_and_names_its_sources(kernel_ws):
    folder = kernel_ws.root / "kernels" / "a"
    meta = json.loads((folder / METADATA).read_text())
    assert meta["id"] == "me/kf-test-kernel" and meta["title"] == "kf-test-kernel"
    assert meta["enable_internet"] is False and meta["enable_gpu"] is False
    assert meta["dataset_sources"] == ["me/a-kf-package"] and meta["competition_sources"] == ["nexperia-synth"]
    assert meta["code_file"] == NOTEBOOK and meta["kernel_type"] == "notebook"
    nbformat.validate(nbformat.read(folder / NOTEBOOK, as_version=4))
    spec = make_kernel(kernel_ws, "a", kernel="me/kf-test-kernel", gpu=True, target="stack-rank")
    meta = json.loads((folder / METADATA).read_text())
    assert meta["enable_gpu"] is True and meta["machine_shape"] == "NvidiaTeslaT4"
    assert spec.target == "stack-rank" and "device='cuda'" in (folder / NOTEBOOK).read_text()


@pytest.mark.parametrize("options, match", [
    ({"kernel": "no-owner"}, "--kernel 'no-owner' is not owner/name"),
    ({"kernel": "me/abc"}, "is not owner/name"),
    ({"kernel": "me/kf-test", "dataset": "x"}, "--dataset 'x' is not owner/name"),
    ({"kernel": "me/kf-test", "target": "zzz"}, "--target 'zzz': the package holds"),
    ({"kernel": "me/kf-test", "gpu": True, "machine_shape": "NvidiaTeslaP100"}, "is retired"),
    ({"kernel": "me/kf-test", "budget": 60.0}, "needs the timings of a dry run"),
])
def test_bad_kernel_options_are_refused_before_anything_is_written(kernel_ws, options, match):
    (kernel_ws.root / "kernels" / "a" / "kf-kernel.json").unlink()
    with pytest.raises(KfError, match=match):
        make_kernel(kernel_ws, "a", **options)
    assert not (kernel_ws.root / "kernels" / "a" / "kf-kernel.json").exists()


def test_the_dry_run_reproduces_kf_predictions_of_every_run_and_blender(kernel_ws):
    report = dry_run(kernel_ws, "a", hidden_test_size=1000)
    assert set(report.max_diff) == {"a", "b", *BLENDED}
    assert max(report.max_diff.values()) <= 1e-6
    assert report.images == 16 and report.images_per_second > 0
    assert set(report.costs.model_seconds) == {f"{r}/fold{k}" for r in "ab" for k in (0, 1)}
    assert report.fits and report.estimate_seconds == pytest.approx(
        report.costs.overhead_seconds + 1000 * report.costs.per_image_seconds(None))
    # --budget then keeps what fits and the dry run checks the narrower kernel too
    tight = report.costs.estimate(1000, ["a/fold0", "b/fold0", "b/fold1"]) + 1e-6
    spec = make_kernel(kernel_ws, "a", kernel="me/kf-test-kernel", target="stack-logreg",
                       budget=tight, hidden_test_size=1000)
    assert sum(map(len, spec.tags.values())) < 4 and set(spec.tags) == {"a", "b"}
    assert max(dry_run(kernel_ws, "a").max_diff.values()) <= 1e-6


FAILURES = [
    ("import urllib.request\nurllib.request.urlopen('http://example.com', timeout=5)",
     "needs the internet"),
    ("raise ValueError('boom')", "Notebook Threw Exception: ValueError: boom"),
    ("import time\ntime.sleep(30)", "Notebook Timeout"),
]


@pytest.mark.parametrize("cell, match", FAILURES)
def test_kaggle_failure_classes_are_caught_by_the_dry_run(kernel_ws, cell, match):
    path = kernel_ws.root / "kernels" / "a" / NOTEBOOK
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(1, nbformat.v4.new_code_cell(cell))
    nbformat.write(nb, path)
    with pytest.raises(KfError, match=match):
        dry_run(kernel_ws, "a", runtime_limit=3 if "sleep" in cell else 600)


def test_a_notebook_that_writes_no_submission_is_caught(kernel_ws):
    path = kernel_ws.root / "kernels" / "a" / NOTEBOOK
    nb = nbformat.read(path, as_version=4)
    nb.cells = nb.cells[:1] + [nbformat.v4.new_code_cell("print('nothing')")]
    nbformat.write(nb, path)
    with pytest.raises(KfError, match="Submission CSV Not Found"):
        dry_run(kernel_ws, "a")


MANIFEST = {"targets": {"s": {"runs": ["a", "b"]}},
            "runs": {"a": {"tags": ["fold0", "fold1"], "fold_auc": [0.7, 0.9]},
                     "b": {"tags": ["fold0", "fold1"], "fold_auc": [0.8, 0.6]}}}
COSTS = Costs(images=10, overhead_seconds=5.0, decode_seconds=0.0,
              model_seconds={"a/fold0": 1.0, "a/fold1": 1.0, "b/fold0": 1.0, "b/fold1": 1.0})


def test_the_runtime_estimate_grows_linearly_with_the_hidden_test_size():
    assert COSTS.estimate(0, None) == 5.0
    assert COSTS.estimate(100, None) == pytest.approx(45.0)
    assert COSTS.estimate(200, None) - COSTS.estimate(100, None) == pytest.approx(40.0)
    assert COSTS.estimate(100, ["a/fold1"]) == pytest.approx(15.0)


def test_the_budget_keeps_each_runs_best_fold_then_the_next_best_that_fit():
    assert keep_within(MANIFEST, "s", COSTS, 100, 25.0) == {"a": ["fold1"], "b": ["fold0"]}
    assert keep_within(MANIFEST, "s", COSTS, 100, 35.0) == {"a": ["fold0", "fold1"],
                                                            "b": ["fold0"]}
    with pytest.raises(KfError, match="even one fold model per run needs 25 s"):
        keep_within(MANIFEST, "s", COSTS, 100, 20.0)


def test_cli_writes_the_kernel_and_refuses_a_missing_one(trained_ws):
    runner = CliRunner()
    root = str(trained_ws.root)
    assert runner.invoke(app, ["package", "a", "-w", root, "--no-extra-wheels"]).exit_code == 0
    ok = runner.invoke(app, ["kernel", "a", "--kernel", "me/kf-cli-kernel", "-w", root])
    assert ok.exit_code == 0, ok.output
    assert "me/kf-cli-kernel submits a" in ok.output
    bad = runner.invoke(app, ["kernel", "test", "nope", "-w", root])
    assert bad.exit_code == 2 and "error: no kernel at" in bad.output
