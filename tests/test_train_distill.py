"""kf distill: the student's training images learn the teacher's OOF soft predictions (test
images only with --with-test, from the teacher's fold-k model), it validates on the real
labels beside its hard-label twin, the report compares scores and inference time, and a
teacher without OOF predictions (or on another split) is refused with nothing written."""

import dataclasses

import numpy as np
import pytest

from kfold import artifacts
from kfold.errors import KfError
from kfold.train.distill import distill_run, distill_teacher
from kfold.train.run import train_run
from tests.execute_helpers import spy_fold_data
from tests.test_cli import _one_line_error, kf

OPTIONS = {"image_size": 32, "epochs": 1, "batch_size": 16}


@pytest.fixture
def teacher(workspace, tiny_cfg):
    train_run(workspace, dataclasses.replace(tiny_cfg, epochs=1), "t")
    return workspace


def test_student_learns_oof_soft_targets_and_its_twin_the_labels(teacher, monkeypatch):
    ws, seen = teacher, spy_fold_data(monkeypatch)
    report = distill_run(ws, "t", OPTIONS, "s")
    oof = artifacts.read_oof(ws.oof_path("t")).set_index("id")
    folds = artifacts.read_folds(ws.folds_path).set_index("id")
    for k in range(2):
        student, twin = seen[("s", f"fold{k}")], seen[("s-hard", f"fold{k}")]
        ids = folds.index[folds["fold"] != k]
        assert len(student.train_x) == len(ids)  # no test rows without --with-test
        assert np.allclose(sorted(student.train_y), sorted(oof.loc[ids, "pred"]))
        assert set(np.unique(twin.train_y)) <= {0, 1}
        assert np.array_equal(student.val_y, twin.val_y)  # both validate on the labels
    meta = artifacts.read_run(ws, "s")
    assert meta.taught_by["kind"] == "distill" and meta.taught_by["train_targets"] == "oof"
    assert meta.taught_by["report"]["teacher_models"] == 2
    assert report.student_auc == meta.oof_auc
    assert report.hard_auc == artifacts.read_run(ws, "s-hard").oof_auc
    assert report.teacher_seconds > 0 and report.student_seconds > 0


def test_with_test_fold_k_learns_every_test_image_from_the_teachers_fold_k_model(teacher):
    folds = artifacts.read_folds(teacher.folds_path)
    got = distill_teacher(teacher, "t", folds, with_test=True, test_weight=0.3)
    test = artifacts.read_test_preds(teacher.test_path("t")).set_index("id")
    for k in range(2):
        assert got.fold_targets[k].sort_index().equals(test[[f"pred_fold{k}"]].sort_index())
    assert got.test_weight == 0.3


def test_rerun_trains_nothing_again(teacher):
    distill_run(teacher, "t", OPTIONS, "s")
    result = kf("distill", "--teacher", "t", "--name", "s", "--image-size", "32",
                "--epochs", "1", "--batch-size", "16", ws=teacher)
    assert result.exit_code == 0, result.output
    assert "already trained, skipping" in result.output
    assert "s-hard (same model, hard labels)" in result.output


def _stack_of(ws, run, name="stack-mean"):
    artifacts.write_oof(ws.oof_path(name), artifacts.read_oof(ws.oof_path(run)))
    artifacts.write_test_preds(ws.test_path(name),
                               artifacts.read_test_preds(ws.test_path(run))[["id", "pred"]])


@pytest.mark.parametrize("args, fragment", [
    (["--teacher", "nope"], "has no OOF predictions"),
    (["--teacher", "stack-mean"], "has no OOF predictions"),  # no sidecar naming its runs
    (["--teacher", "t", "--test-weight", "0"], "--test-weight must be"),
    (["--teacher", "t", "--epochs", "0"], "--epochs 0 must be"),
])
def test_bad_distill_input_is_one_error_line_and_writes_nothing(teacher, args, fragment):
    _stack_of(teacher, "t")
    before = sorted(p.relative_to(teacher.root) for p in teacher.root.rglob("*"))
    _one_line_error(kf("distill", *args, "--image-size", "32", ws=teacher), fragment)
    assert sorted(p.relative_to(teacher.root) for p in teacher.root.rglob("*")) == before


def test_a_teacher_without_oof_or_per_fold_tests_or_on_another_split_is_refused(teacher):
    ws = teacher
    folds = artifacts.read_folds(ws.folds_path)
    with pytest.raises(KfError, match="another fold split"):
        distill_teacher(ws, "t", folds.assign(fold=1 - folds["fold"]), with_test=False,
                        test_weight=1.0)
    _stack_of(ws, "t")
    with pytest.raises(KfError, match="per-fold test predictions"):
        distill_teacher(ws, "stack-mean", folds, with_test=True, test_weight=1.0)
    ws.oof_path("t").unlink()
    with pytest.raises(KfError, match="has no OOF predictions"):
        distill_teacher(ws, "t", folds, with_test=False, test_weight=1.0)


def test_the_students_retrain_learns_every_training_images_oof_soft_target(teacher,
                                                                          monkeypatch):
    ws = teacher
    distill_run(ws, "t", OPTIONS, "s", with_test=True, test_weight=0.3)
    seen = spy_fold_data(monkeypatch)
    result = kf("retrain", "--run", "s", ws=ws)
    assert result.exit_code == 0, result.output
    full = seen[("s", "full")]
    oof = artifacts.read_oof(ws.oof_path("t"))
    mean = artifacts.read_test_preds(ws.test_path("t"))["pred"]
    n_train = len(oof)
    np.testing.assert_allclose(np.sort(full.train_y[:n_train]), np.sort(oof["pred"]))
    np.testing.assert_allclose(np.sort(full.train_y[n_train:]), np.sort(mean))
    assert (full.train_w[n_train:] == 0.3).all()
    retrain = artifacts.read_run(ws, "s").taught_by["retrain"]
    assert retrain["train_targets"] == "oof" and len(retrain["test_rows"]) == len(mean)
