"""Stacking inputs of any width: several runs of one contest aligned as an (n, runs, C)
stack, and runs of different contests refused in one line naming the two runs."""

import numpy as np
import pytest

from kfold import artifacts
from kfold.bench.stack import write_task_workspace, write_workspace
from kfold.errors import KfError

RUNS = ["run0", "run1", "run2"]


@pytest.fixture
def multiclass(tmp_path):
    return write_task_workspace(tmp_path, "multiclass", n_rows=300, n_runs=3, n_test=40)


@pytest.mark.parametrize("task, width", [("multiclass", 4), ("multilabel", 4),
                                         ("regression", 1)])
def test_runs_of_any_task_load_as_rows_by_runs_by_classes(tmp_path, task, width):
    ws = write_task_workspace(tmp_path, task, n_rows=300, n_runs=3, n_test=40)
    stack = artifacts.load_oof_stack(ws, RUNS)
    assert stack.preds.shape == (300, 3, width)
    assert stack.contest.task == task and len(stack.contest.classes) == (width if width > 1 else 0)
    oof = artifacts.read_oof(ws.oof_path("run1"), task).sort_values("id")
    columns = artifacts.pred_columns(task, stack.contest.classes)
    np.testing.assert_array_equal(stack.preds[:, 1, :], oof[columns].to_numpy())
    assert list(stack.rows.columns) == ["id", "target", "fold"]
    assert stack.fingerprint == artifacts.folds_fingerprint(oof)


def test_binary_runs_load_as_one_column_each_as_before(tmp_path):
    ws = write_workspace(tmp_path, n_rows=200, n_runs=2, n_test=20)
    stack = artifacts.load_oof_stack(ws, ["run0", "run1"])
    aligned = artifacts.load_aligned_oof(ws, ["run0", "run1"])
    assert stack.contest == artifacts.Contest("binary", (), "auc")
    np.testing.assert_array_equal(stack.preds[:, :, 0], aligned[["run0", "run1"]].to_numpy())


def _edit_record(ws, run, **changes):
    artifacts.update_run(ws, run, **changes)


@pytest.mark.parametrize("change, message", [
    ({"task": "multilabel"}, r"'run0' and 'run2' differ in task \(multiclass vs multilabel\)"),
    ({"classes": ["c1", "c0", "c2", "c3"]}, r"'run0' and 'run2' differ in classes"),
    ({"metric": "accuracy"}, r"'run0' and 'run2' differ in metric \(logloss vs accuracy\)"),
])
def test_runs_of_different_contests_are_refused_naming_both(multiclass, change, message):
    _edit_record(multiclass, "run2", **change)
    with pytest.raises(KfError, match=message):
        artifacts.load_oof_stack(multiclass, RUNS)
    assert artifacts.load_oof_stack(multiclass, RUNS[:2]).preds.shape == (300, 2, 4)


def test_a_file_whose_class_columns_are_not_its_runs_is_refused(multiclass):
    oof = artifacts.read_oof(multiclass.oof_path("run1"), "multiclass")
    renamed = oof.rename(columns={"pred:c0": "pred:zz"})
    renamed.to_parquet(multiclass.oof_path("run1"))
    with pytest.raises(KfError, match=r"run1.parquet: class columns .*'zz'.* are not"):
        artifacts.load_oof_stack(multiclass, RUNS)


def test_runs_on_other_rows_or_folds_are_refused_as_for_binary(multiclass):
    oof = artifacts.read_oof(multiclass.oof_path("run1"), "multiclass")
    oof.assign(fold=(oof["fold"] + 1) % 5).to_parquet(multiclass.oof_path("run1"))
    with pytest.raises(KfError, match="'run0' and 'run1' were trained on different fold splits"):
        artifacts.load_oof_stack(multiclass, RUNS)


# --- kf stack of any width, without writing ----------------------------------------------
def test_a_multiclass_stack_is_scored_in_log_loss_lower_first(multiclass):
    from kfold.stack import stack_runs

    report = stack_runs(multiclass, write=False)
    assert report.metric == "logloss" and report.scale == "raw"
    scores = [s.score for s in report.scores]
    assert scores == sorted(scores)  # lower log loss is better: best first
    assert report.verdict(report.score("logreg")) == "better"
    best = report.best_run
    assert best.diff == 0 and all(s.diff >= 0 for s in report.scores if s.kind == "run")
    for s in report.scores:
        assert s.interval.low <= s.score <= s.interval.high


def test_fold_scale_is_refused_for_a_metric_that_scores_probabilities(multiclass):
    from kfold.stack import stack_runs

    with pytest.raises(KfError, match="--scale fold .* log loss scores probabilities"):
        stack_runs(multiclass, write=False, scale="fold")


def test_a_multilabel_auc_stack_blends_on_the_fold_scale(tmp_path):
    from kfold.stack import stack_runs

    ws = write_task_workspace(tmp_path, "multilabel", n_rows=400, n_runs=3, n_test=40)
    report = stack_runs(ws, blenders="mean,logreg", write=False)
    assert report.scale == "fold" and report.test_source == "fold models, fold scale"
    assert [s.name for s in report.scores][:2] == ["stack-logreg", "stack-mean"]
    raw = stack_runs(ws, blenders="mean", write=False, scale="raw")
    assert raw.score("mean").score == pytest.approx(report.score("mean").score, abs=0.02)


def test_a_binary_contest_scored_by_log_loss_is_stacked_in_log_loss(tmp_path):
    from kfold.stack import stack_runs
    from kfold.stack.shakeup import shakeup_runs

    ws = write_task_workspace(tmp_path, "binary", metric="logloss", n_rows=600, n_runs=2,
                              n_test=40)
    report = stack_runs(ws, blenders="mean,logreg,hillclimb", write=False)
    assert report.metric == "logloss" and report.scale == "raw"
    assert report.verdict(report.score("logreg")) == "better"
    shaken = shakeup_runs(ws, n_splits=30, png=False)
    assert shaken.metric == "logloss" and [r["run"] for r in shaken.rows()] == ["run0", "run1"]


def test_use_full_blends_the_retrains_test_predictions(multiclass):
    from kfold.stack import stack_runs

    for run in RUNS:
        test = artifacts.read_test_preds(multiclass.test_path(run), "multiclass")
        columns = artifacts.pred_columns("multiclass", ("c0", "c1", "c2", "c3"))
        artifacts.write_test_preds(multiclass.full_test_path(run), test[["id", *columns]],
                                   "multiclass", ("c0", "c1", "c2", "c3"))
    report = stack_runs(multiclass, blenders="mean", use_full=True, write=False)
    assert report.test_source == "full-retrain, raw"
    (multiclass.full_test_path("run2")).unlink()
    with pytest.raises(KfError, match="--use-full needs 100%-retrain predictions"):
        stack_runs(multiclass, blenders="mean", use_full=True, write=False)


@pytest.mark.parametrize("task, metric, scale", [
    ("multiclass", "map@5", "raw"), ("multiclass", "qwk", "raw"),
    ("multilabel", "f1-micro", "raw"), ("binary", "pauc", "fold"),
])
def test_every_kind_of_metric_stacks_and_shakes_up_in_its_own_terms(tmp_path, task, metric,
                                                                     scale):
    from kfold.scoring import get_metric
    from kfold.stack import stack_runs
    from kfold.stack.shakeup import shakeup_runs

    ws = write_task_workspace(tmp_path, task, metric=metric, n_rows=300, n_runs=2, n_test=20)
    report = stack_runs(ws, blenders="mean,hillclimb", write=False)
    assert (report.metric, report.scale) == (metric, scale)
    m = get_metric(metric)
    scores = [s.score for s in report.scores]
    assert np.isfinite(scores).all() and report.scores[0].score == scores[m.best(scores)]
    shaken = shakeup_runs(ws, n_splits=10, png=False)
    assert shaken.summary()["metric"] == metric and len(shaken.rows()) == 2


def test_a_binary_run_naming_its_classes_stacks_with_runs_and_stacks_that_do_not(tmp_path):
    from tests.record_helpers import run_record

    ws = write_workspace(tmp_path, n_rows=200, n_runs=2, n_test=20)
    artifacts.write_run(ws, run_record("run1", classes=["good", "bad"]))
    stack = artifacts.load_oof_stack(ws, ["run0", "run1"])  # run0: no record, classes unnamed
    assert stack.contest == artifacts.Contest("binary", (), "auc")
    artifacts.write_run(ws, run_record("run0", classes=["bad", "good"]))
    with pytest.raises(KfError, match="differ in classes"):
        artifacts.load_oof_stack(ws, ["run0", "run1"])
