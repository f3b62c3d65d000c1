"""`kf package` and `kf kernel test` beyond binary AUC: a multi-class run and stack and a kappa
run packaged, each kernel writing the submission kf itself wrote."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from kfold.kernel.dryrun import dry_run
from kfold.kernel.notebook import make_kernel
from kfold.package.build import build_package
from kfold.package.manifest import read_manifest
from kfold.workspace import Workspace
from tests.cli_helpers import graded_workspace, kf

RUN = "simple-cnn-32px"


@pytest.fixture(scope="module")
def multiclass_root(tmp_path_factory):
    """Synthetic chips of six defect classes, two 2-fold runs and their stacks: made once per
    module."""
    ws = Workspace.init(tmp_path_factory.mktemp("multiclass"), competition="nexperia-synth")
    kf(ws, "data", "synth", "--task", "multiclass", "--n-train", "60", "--n-test", "12",
       "--size", "32")
    kf(ws, "train", "--model", "simple-cnn", "--image-size", "32", "--epochs", "1",
       "--folds", "2", "--batch-size", "16")
    kf(ws, "train", "--model", "simple-cnn", "--image-size", "32", "--epochs", "1",
       "--folds", "2", "--batch-size", "16", "--tta", "flip", "--name", "b")
    kf(ws, "stack", "--runs", f"{RUN},b", "--blender", "mean")
    return ws.root


@pytest.fixture
def multiclass_ws(tmp_path, multiclass_root) -> Workspace:
    shutil.copytree(multiclass_root, tmp_path / "ws")
    return Workspace.load(tmp_path / "ws")


def test_a_multiclass_runs_kernel_writes_the_submission_kf_train_wrote(multiclass_ws):
    ws = multiclass_ws
    build_package(ws, [RUN, "b"], wheels=("tomli-w",))
    manifest = read_manifest(ws.root / "packages" / RUN)
    assert (manifest["task"], manifest["metric"]) == ("multiclass", "logloss")
    assert manifest["classes"] == sorted(manifest["classes"]) and len(manifest["classes"]) == 6
    assert manifest["submission"]["output"] == "probabilities"
    assert sum(manifest["runs"][RUN]["prevalence"]) == pytest.approx(1.0)
    make_kernel(ws, RUN, kernel="me/kf-multiclass")
    report = dry_run(ws, RUN)
    assert set(report.max_diff) == {RUN, "b"} and max(report.max_diff.values()) <= 1e-6
    kf_own = pd.read_csv(ws.submission_path(RUN))
    notebook = report.submission
    assert list(notebook.columns) == list(kf_own.columns) == list(
        pd.read_csv(ws.data_dir / "sample_submission.csv").columns)
    assert (notebook["id"] == kf_own["id"].astype(str)).all()
    values = notebook.drop(columns="id").astype(float).to_numpy()
    assert np.abs(values - kf_own.drop(columns="id").to_numpy()).max() <= 1e-6


def test_an_unknown_run_or_stack_is_named_before_its_task_is_read(multiclass_ws):
    from kfold.errors import KfError

    for name, says in (("nothere", "no run named 'nothere'"),
                       ("stack-nothere", "no run or stack named 'stack-nothere'")):
        with pytest.raises(KfError, match=says):
            build_package(multiclass_ws, [name], wheels=())
    assert not (multiclass_ws.root / "packages").exists()


def test_a_multiclass_kernel_narrowed_by_budget_keeps_the_lowest_loss_fold(multiclass_ws):
    ws = multiclass_ws
    build_package(ws, [RUN], wheels=())
    make_kernel(ws, RUN, kernel="me/kf-multiclass")
    report = dry_run(ws, RUN, hidden_test_size=1000)
    one_fold = max(report.costs.estimate(1000, [f"{RUN}/{t}"]) for t in ("fold0", "fold1"))
    spec = make_kernel(ws, RUN, kernel="me/kf-multiclass", budget=one_fold + 1e-6,
                       hidden_test_size=1000)
    losses = read_manifest(ws.root / "packages" / RUN)["runs"][RUN]["fold_auc"]
    assert spec.tags == {RUN: [f"fold{int(np.argmin(losses))}"]}
    assert max(dry_run(ws, RUN).max_diff.values()) <= 1e-6


def test_a_multiclass_stacks_kernel_writes_the_stacks_submission(multiclass_ws):
    ws = multiclass_ws
    build_package(ws, ["stack-mean"], wheels=())
    manifest = read_manifest(ws.root / "packages" / "stack-mean")
    stack = manifest["targets"]["stack-mean"]
    assert stack["runs"] == [RUN, "b"] and stack["blender"]["api"] == "output"
    assert len(stack["fold_auc"]) == 2
    make_kernel(ws, "stack-mean", kernel="me/kf-multiclass-stack")
    report = dry_run(ws, "stack-mean")
    assert max(report.max_diff.values()) <= 1e-6
    kf_own = pd.read_csv(ws.submission_path("stack-mean"))
    values = report.submission.drop(columns="id").astype(float).to_numpy()
    assert list(report.submission.columns) == list(kf_own.columns)
    assert np.abs(values - kf_own.drop(columns="id").to_numpy()).max() <= 1e-6


@pytest.fixture
def graded_ws(tmp_path):
    """Synthetic chips graded 0 to 4, trained as a regression: a kappa contest."""
    return graded_workspace(tmp_path / "kappa", epochs=1)


def test_a_kappa_kernel_cuts_grades_by_the_thresholds_kf_train_fitted(graded_ws):
    ws = graded_ws
    build_package(ws, [RUN], wheels=())
    manifest = read_manifest(ws.root / "packages" / RUN)
    sidecar = json.loads(ws.submission_path(RUN).with_suffix(".json").read_text())
    assert (manifest["task"], manifest["metric"]) == ("regression", "qwk")
    assert manifest["targets"][RUN]["kappa_thresholds"] == \
        sidecar["lineage"]["kappa_thresholds"]
    make_kernel(ws, RUN, kernel="me/kf-kappa")
    report = dry_run(ws, RUN)
    kf_own = pd.read_csv(ws.submission_path(RUN), dtype=str)
    assert report.submission.equals(kf_own)
    assert set(kf_own["label"].astype(int)) <= set(range(5))


def test_a_fold_scale_stacks_kernel_writes_the_stacks_submission(tmp_path):
    """A multi-label contest scored by mean column AUC: its stack blends each run's class
    columns on the fold scale, and the kernel maps the test predictions the same way."""
    ws = Workspace.init(tmp_path / "multilabel", competition="nexperia-synth")
    kf(ws, "data", "synth", "--task", "multilabel", "--n-train", "60", "--n-test", "12",
       "--size", "32")
    for name, tta in ((RUN, "none"), ("b", "flip")):
        kf(ws, "train", "--model", "simple-cnn", "--image-size", "32", "--epochs", "1",
           "--folds", "2", "--batch-size", "16", "--tta", tta, "--name", name)
    kf(ws, "stack", "--runs", f"{RUN},b", "--blender", "logreg")
    assert json.loads(ws.submission_path("stack-logreg").with_suffix(".json").read_text())[
        "lineage"]["scale"] == "fold"
    build_package(ws, ["stack-logreg"], wheels=())
    make_kernel(ws, "stack-logreg", kernel="me/kf-multilabel-stack")
    report = dry_run(ws, "stack-logreg")
    assert max(report.max_diff.values()) <= 1e-6
    kf_own = pd.read_csv(ws.submission_path("stack-logreg"))
    assert list(report.submission.columns) == list(kf_own.columns)
    values = report.submission.drop(columns="id").astype(float).to_numpy()
    assert np.abs(values - kf_own.drop(columns="id").to_numpy()).max() <= 1e-6
