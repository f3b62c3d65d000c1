"""kf pseudo and kf distill on every kind of contest, on the command line: a multi-class fold
learns class probabilities (soft cross-entropy), a multi-label fold per-label probabilities,
a regression fold predicted numbers; the runs validate on the real labels and print the
contest's metric; a regression takes every test image and refuses a confidence; the Keras
backend is taught as the torch one (soft targets, sample weights), retrain included."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from kfold import artifacts
from kfold.cli import app
from kfold.data.sources import discover
from kfold.train.pseudo import PseudoOptions, labels_of, select, sureness
from kfold.workspace import Workspace
from tests.cli_helpers import kf
from tests.execute_helpers import spy_fold_data
from tests.test_cli import _one_line_error

runner = CliRunner()
TRAIN = ["--image-size", "32", "--epochs", "1", "--batch-size", "16"]
TITLES = {"multiclass": "log loss", "multilabel": "mean column AUC", "regression": "RMSE"}
PICK = {"multiclass": ["--top-share", "0.5"], "multilabel": ["--top-share", "0.5"],
        "regression": []}


@pytest.fixture
def source(tmp_path, request):
    """A `task` workspace (60 training, 12 test chips at 32 px) with a 2-fold run `src`."""
    ws = Workspace.init(tmp_path / "ws", competition="nexperia-synth")
    kf(ws, "data", "synth", "--task", request.param, "--n-train", "60", "--n-test", "12",
       "--size", "32")
    kf(ws, "train", "--model", "simple-cnn", "--folds", "2", *TRAIN, "--name", "src")
    return ws


@pytest.mark.parametrize("source", list(TITLES), indirect=True)
def test_pseudo_and_distill_teach_every_task(source, monkeypatch):
    ws, seen = source, spy_fold_data(monkeypatch)
    task = discover(ws).task
    width = len(task.classes) if task.kind != "regression" else 1
    out = kf(ws, "pseudo", "--from", "src", *PICK[task.kind], "--epochs", "1")
    assert f"OOF {TITLES[task.kind]}" in out
    record = artifacts.read_run(ws, "src-pseudo")
    test = artifacts.read_test_preds(ws.test_path("src"), task.kind).set_index("id")
    for k in range(2):
        fold = seen[("src-pseudo", f"fold{k}")]
        rows = record.taught_by["test_rows"][f"fold{k}"]
        picked = fold.train_y[-len(rows):]
        columns = artifacts.pred_columns(task.kind, task.classes, f"pred_fold{k}")
        # fold k's pseudo-targets are its own fold model's predictions of those rows
        np.testing.assert_allclose(picked.reshape(len(rows), -1), test.loc[rows, columns])
        assert fold.train_y.shape[1:] == ((width,) if task.kind != "regression" else ())
        if task.kind == "regression":
            assert len(rows) == len(test)  # every test image, no confidence
    oof = artifacts.read_oof(ws.oof_path("src-pseudo"), task.kind)
    assert sorted(oof["id"]) == sorted(discover(ws).train["id"])

    out = kf(ws, "distill", "--teacher", "src", *TRAIN)
    assert f"OOF {TITLES[task.kind]}" in out
    teacher = artifacts.read_oof(ws.oof_path("src"), task.kind).set_index("id")
    student, twin = seen[("src-distilled", "fold0")], seen[("src-distilled-hard", "fold0")]
    folds = artifacts.read_folds(ws.folds_path, task.kind).set_index("id")
    ids = folds.index[folds["fold"] != 0]
    want = teacher.loc[ids, artifacts.pred_columns(task.kind, task.classes)].to_numpy()
    np.testing.assert_allclose(np.sort(student.train_y.reshape(len(ids), -1), 0), np.sort(want, 0))
    np.testing.assert_array_equal(student.val_y, twin.val_y)  # both validate on the labels
    report = artifacts.read_run(ws, "src-distilled").taught_by["report"]
    assert report["metric"] == artifacts.read_run(ws, "src").metric
    assert report["teacher_auc"] == pytest.approx(artifacts.read_run(ws, "src").oof_auc)


def test_multiclass_confidence_is_the_likeliest_class_and_top_share_is_per_class():
    p = np.array([[0.7, 0.2, 0.1], [0.5, 0.4, 0.1], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    assert select(p, "multiclass", PseudoOptions(confidence=0.6)).tolist() == [True, False, True, False]
    # predicted classes 0, 0, 2, 2: half of each, the surer first
    assert select(p, "multiclass", PseudoOptions(top_share=0.5)).tolist() == [True, False, True, False]
    hard = labels_of(p, "multiclass", PseudoOptions(top_share=1, labels="hard"))
    assert hard.tolist() == [[1, 0, 0], [1, 0, 0], [0, 0, 1], [0, 0, 1]]


def test_a_multilabel_row_is_as_sure_as_its_least_sure_label():
    p = np.array([[0.95, 0.02], [0.95, 0.4], [0.1, 0.9], [0.8, 0.1]])
    sure, group = sureness(p, "multilabel")
    np.testing.assert_allclose(sure, [0.95, 0.6, 0.9, 0.8])
    assert group[0] == group[3] != group[2]  # predicted label sets {0}, {0}, {1}
    assert select(p, "multilabel", PseudoOptions(confidence=0.85)).tolist() == [True, False, True, False]
    hard = labels_of(p, "multilabel", PseudoOptions(top_share=1, labels="hard"))
    assert hard.tolist() == [[1, 0], [1, 0], [0, 1], [1, 0]]


@pytest.mark.parametrize("source", ["regression"], indirect=True)
@pytest.mark.parametrize("args", [["--confidence", "0.9"], ["--top-share", "0.5"],
                                  ["--labels", "hard"]])
def test_a_regression_refuses_a_confidence_and_writes_nothing(source, args):
    before = sorted(p.relative_to(source.root) for p in source.root.rglob("*"))
    result = runner.invoke(app, ["pseudo", "--from", "src", *args, "-w", str(source.root)])
    _one_line_error(result, "predicted numbers")
    assert sorted(p.relative_to(source.root) for p in source.root.rglob("*")) == before


@pytest.mark.parametrize("source", ["multiclass"], indirect=True)
def test_keras_runs_are_taught_and_retrained_like_torch_runs(source, monkeypatch):
    ws, seen = source, spy_fold_data(monkeypatch)
    kf(ws, "train", "--backend", "keras", "--model", "simple-cnn", "--folds", "2", *TRAIN,
       "--name", "k")
    kf(ws, "pseudo", "--from", "k", "--top-share", "0.5")
    kf(ws, "distill", "--teacher", "k", "--backend", "keras", *TRAIN)
    kf(ws, "retrain", "--run", "k-pseudo")
    width = len(discover(ws).task.classes)
    for run in ("k-pseudo", "k-distilled"):
        fold = seen[(run, "fold0")]
        assert fold.train_y.shape[1:] == (width,) and fold.train_w is not None
        record = artifacts.read_run(ws, run)
        assert record.backend == "keras" and record.taught_by["source"] == "k"
    full = seen[("k-pseudo", "full")]
    assert len(full.train_x) == len(discover(ws).train) + len(
        artifacts.read_run(ws, "k-pseudo").taught_by["retrain"]["test_rows"])
    assert ws.full_test_path("k-pseudo").exists()


def test_keras_takes_soft_targets_only_in_a_taught_fold():
    from kfold.backends import Head
    from kfold.backends.keras.fold import check_fold_data
    from kfold.errors import KfError
    from kfold.train_config import TrainConfig

    cfg, x = TrainConfig(backend="keras", image_size=32), np.zeros((4, 32, 32), np.uint8)
    head = Head("multiclass", 3, "logloss")
    soft = np.full((4, 3), 1 / 3)
    check_fold_data(cfg, x, soft, None, None, head, taught=True)
    with pytest.raises(KfError, match="class indices"):
        check_fold_data(cfg, x, soft, None, None, head)
    with pytest.raises(KfError, match="rows of 3 probabilities"):
        check_fold_data(cfg, x, soft * 4, None, None, head, taught=True)
    with pytest.raises(KfError, match="pos-weight"):
        check_fold_data(TrainConfig(backend="keras", image_size=32, pos_weight=2.0), x,
                        np.full(4, 0.3), None, None, Head(), taught=True)
