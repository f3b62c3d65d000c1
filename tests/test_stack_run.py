"""`stack_runs`: honest checks, fold-honest OOF, refit for test, artifacts that are runs."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import StackingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import PredefinedSplit, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from kfold import artifacts
from kfold.bench.stack import write_workspace
from kfold.errors import KfError
from kfold.metrics import auc
from kfold.stack import create_blender, list_blenders, stack_runs
from kfold.stack.blenders import BLENDERS, logit
from kfold.stack.cv import cross_fit
from kfold.stats.foldscale import self_scale as rank_to_reference
from tests.record_helpers import run_record

FITTED = [name for name, cls in BLENDERS.items() if cls.learns]


@pytest.fixture(scope="module")
def stacked(tmp_path_factory):
    """Two complementary noisy predictors, stacked once with every blender."""
    ws = write_workspace(tmp_path_factory.mktemp("ws"), n_rows=2000, n_runs=2, seed=0)
    return ws, stack_runs(ws)


@pytest.fixture
def ws(tmp_path):
    return write_workspace(tmp_path, n_rows=600, n_runs=3, n_test=100, seed=3)


def _xyf(ws, runs):
    df = artifacts.load_aligned_oof(ws, runs)
    return df[runs].to_numpy(), df["target"].to_numpy(), df["fold"].to_numpy()


# --- what the user gets --------------------------------------------------------------------
def test_every_blender_beats_each_single_run(stacked):
    _, report = stacked
    best_single = report.best_run.oof_auc
    for meta in list_blenders():
        assert report.score(meta).oof_auc > best_single + 0.03, meta


@pytest.mark.parametrize("meta", FITTED)
def test_fitted_blenders_do_not_lose_to_mean(stacked, meta):
    _, report = stacked
    assert report.score(meta).oof_auc >= report.score("mean").oof_auc


def test_report_rows_hold_fold_scores_and_gain(stacked):
    _, report = stacked
    assert [s.oof_auc for s in report.scores] == sorted((s.oof_auc for s in report.scores),
                                                        reverse=True)
    assert {s.name for s in report.scores} == {"run0", "run1"} | {f"stack-{m}" for m in
                                                                  list_blenders()}
    for s in report.scores:
        assert 0.5 < s.fold_auc_mean < 1 and 0 < s.fold_auc_std < 0.1
        assert s.gain == pytest.approx(s.oof_auc - report.best_run.oof_auc)
    assert report.score("hillclimb").learned["weights"].keys() == {"run0", "run1"}


def test_every_score_carries_a_delong_interval_and_a_paired_test(stacked):
    _, report = stacked
    best = report.best_run
    assert best.vs_best is None
    for s in report.scores:
        assert s.interval.low < s.oof_auc < s.interval.high
        if s is not best:
            assert s.vs_best.diff == pytest.approx(s.gain)
    # complementary runs: every blender's gain is real, far outside noise
    for meta in list_blenders():
        gain = report.score(meta).vs_best
        assert gain.low > 0 and gain.p_value < 1e-6 and not report.score(meta).within_noise


def test_a_gain_within_noise_is_marked(tmp_path):
    """Stacking a run with a near-copy of itself gains nothing the data can see."""
    from kfold.stack.render import verdict

    ws = write_workspace(tmp_path, n_rows=800, n_runs=1, seed=4)
    oof = artifacts.read_oof(ws.oof_path("run0"))
    jitter = np.random.default_rng(0).normal(0, 1e-4, len(oof))
    artifacts.write_oof(ws.oof_path("copy"), oof.assign(pred=np.clip(oof["pred"] + jitter, 0, 1)))
    test = artifacts.read_test_preds(ws.test_path("run0"))
    artifacts.write_test_preds(ws.test_path("copy"), test)
    report = stack_runs(ws, blenders="mean", write=False)
    mean = report.score("mean")
    assert mean.within_noise and verdict(mean) == "within noise"
    assert verdict(report.best_run) == "best run"


def test_stack_artifacts_are_runs_with_the_same_folds(stacked):
    ws, report = stacked
    runs = report.runs + [f"stack-{m}" for m in list_blenders()]
    aligned = artifacts.load_aligned_oof(ws, runs)  # same ids, targets, folds fingerprint
    assert artifacts.folds_fingerprint(aligned) == report.folds_fingerprint
    for meta in list_blenders():
        test = artifacts.read_test_preds(ws.test_path(f"stack-{meta}"))
        assert len(test) == 500
        sub = pd.read_csv(ws.submission_path(f"stack-{meta}"))
        assert len(sub) == 500
        side = json.loads(ws.submission_path(f"stack-{meta}").with_suffix(".json").read_text())
        assert side["cv_auc"] == pytest.approx(report.score(meta).oof_auc)
        lineage = side["lineage"]
        assert lineage["runs"] == ["run0", "run1"] and lineage["blender"] == meta
        assert lineage["test_predictions"] == "fold-mean"
        assert lineage["test_files"] == ["oof/run0.test.parquet", "oof/run1.test.parquet"]


def test_runs_of_different_backends_and_image_sizes_stack_when_folds_match(ws):
    artifacts.write_run(ws, run_record("run0", model="simple_cnn", config={"image_size": 64}))
    artifacts.write_run(ws, run_record("run1", model="vgg16", backend="keras",
                                       config={"image_size": 224}))
    stack_runs(ws, blenders="logreg")
    side = json.loads(ws.submission_path("stack-logreg").with_suffix(".json").read_text())
    assert side["lineage"]["run_info"] == {
        "run0": {"model": "simple_cnn", "backend": "torch", "image_size": 64},
        "run1": {"model": "vgg16", "backend": "keras", "image_size": 224},
    }


def test_a_stack_can_be_stacked_again_but_not_overwritten(stacked):
    ws, _ = stacked
    report = stack_runs(ws, runs=["run0", "stack-logreg"], blenders="mean", write=False)
    assert report.runs == ["run0", "stack-logreg"]
    with pytest.raises(KfError, match=r"--runs includes \['stack-mean'\], which this stack would"):
        stack_runs(ws, runs=["run0", "stack-mean"], blenders="mean")


def test_default_runs_exclude_earlier_stacks(stacked):
    ws, _ = stacked
    again = stack_runs(ws, blenders="mean", write=False)
    assert again.runs == ["run0", "run1"]


def test_test_predictions_come_from_the_blender_refitted_on_all_oof_rows(ws):
    runs = ["run0", "run1", "run2"]
    X, y, _ = _xyf(ws, runs)
    stack_runs(ws, blenders="logreg", scale="raw")
    T = np.column_stack([artifacts.read_test_preds(ws.test_path(r)).sort_values("id")["pred"]
                         for r in runs])
    expected = create_blender("logreg").fit(X, y).predict_proba(T)
    got = artifacts.read_test_preds(ws.test_path("stack-logreg")).sort_values("id")["pred"]
    np.testing.assert_allclose(got, expected, atol=1e-12)


# --- fold honesty --------------------------------------------------------------------------
@pytest.mark.parametrize("meta", list_blenders())
def test_fold_k_predictions_never_use_fold_k_targets(ws, meta):
    X, y, folds = _xyf(ws, ["run0", "run1", "run2"])
    before = cross_fit(create_blender(meta), X, y, folds)
    rng = np.random.default_rng(0)
    for k in np.unique(folds):
        y_perm = y.copy()
        held = folds == k
        y_perm[held] = rng.permutation(y[held])
        y_perm[np.flatnonzero(held)[:5]] = 1 - y_perm[np.flatnonzero(held)[:5]]  # and flip some
        after = cross_fit(create_blender(meta), X, y_perm, folds)
        np.testing.assert_array_equal(after[held], before[held])
        if create_blender(meta).learns and meta != "hillclimb":
            assert not np.array_equal(after[~held], before[~held])  # the check can fail


def test_logreg_stack_agrees_with_sklearn_stacking_classifier(ws):
    """Same fixture, same folds: kfold's logreg stack == StackingClassifier's final estimator."""
    runs = ["run0", "run1", "run2"]
    X, y, folds = _xyf(ws, runs)

    class Column(ClassifierMixin, BaseEstimator):  # a "base model" whose CV predictions are X[:, j]
        def __init__(self, j=0):
            self.j = j

        def fit(self, Z, t):
            self.classes_ = np.array([0, 1])
            return self

        def predict_proba(self, Z):
            return np.column_stack([1 - Z[:, self.j], Z[:, self.j]])

        def predict(self, Z):
            return (Z[:, self.j] > 0.5).astype(int)

    final = make_pipeline(FunctionTransformer(logit),
                          LogisticRegression(C=1.0, max_iter=1000, tol=1e-8))
    cv = PredefinedSplit(folds)
    sk = StackingClassifier([(r, Column(j)) for j, r in enumerate(runs)], final_estimator=final,
                            cv=cv, stack_method="predict_proba").fit(X, y)
    T = np.random.default_rng(1).random((50, 3))
    ours = create_blender("logreg").fit(X, y).predict_proba(T)
    np.testing.assert_allclose(ours, sk.predict_proba(T)[:, 1], atol=1e-5)
    # and the fold-honest OOF equals cross_val_predict of the meta-model on the same folds
    oof_sk = cross_val_predict(final, X, y, cv=cv, method="predict_proba")[:, 1]
    np.testing.assert_allclose(cross_fit(create_blender("logreg"), X, y, folds), oof_sk,
                               atol=1e-5)


# --- refusals ------------------------------------------------------------------------------
def _other_split(ws, run):
    df = artifacts.read_oof(ws.oof_path(run))
    df["fold"] = (df["fold"] + 1) % df["fold"].nunique()
    df.to_parquet(ws.oof_path(run))


def _edit_oof(ws, run, change):
    """Rewrite run's OOF file with `change(df)` applied, bypassing the writer's checks."""
    df = artifacts.read_oof(ws.oof_path(run))
    change(df).to_parquet(ws.oof_path(run))


def _set(df, row, col, value):
    df.loc[row, col] = value
    return df


def _missing_ids(ws, run):
    _edit_oof(ws, run, lambda df: df.iloc[10:])


def _nan(ws, run):
    _edit_oof(ws, run, lambda df: _set(df, 3, "pred", np.nan))


def _out_of_range(ws, run):
    _edit_oof(ws, run, lambda df: _set(df, 3, "pred", 1.5))


def _other_targets(ws, run):
    _edit_oof(ws, run, lambda df: _set(df, 0, "target", 1 - df.loc[0, "target"]))


def _missing_ids_no_folds_csv(ws, run):
    _missing_ids(ws, run)
    ws.folds_path.unlink()


def _other_targets_no_folds_csv(ws, run):
    _other_targets(ws, run)
    ws.folds_path.unlink()


def _sample_submission_has_more_ids(ws, run):
    ids = artifacts.read_test_preds(ws.test_path(run))["id"].tolist() + ["extra1"]
    ws.data_dir.mkdir(exist_ok=True)
    pd.DataFrame({"id": ids, "label": 0.5}).to_csv(ws.data_dir / "sample_submission.csv",
                                                  index=False)


def _no_test(ws, run):
    ws.test_path(run).unlink()


def _test_ids_differ(ws, run):
    df = artifacts.read_test_preds(ws.test_path(run))
    df.iloc[1:].to_parquet(ws.test_path(run))


def _test_nan(ws, run):
    df = artifacts.read_test_preds(ws.test_path(run))
    df.loc[0, "pred"] = np.nan
    df.to_parquet(ws.test_path(run))


@pytest.mark.parametrize(
    "spoil, kwargs, match",
    [
        (_other_split, {"runs": ["run0", "run2"]},
         r"run 'run2' was trained on another fold split \(\w+\) than folds.csv"),
        (_missing_ids, {}, (r"run 'run2' has OOF rows for other ids than folds.csv "
                           r"\(590 vs 600 rows; 10 missing")),
        (_missing_ids_no_folds_csv, {},
         r"runs 'run0' and 'run2' have different ids \(600 vs 590 rows"),
        (_nan, {}, r"run2.parquet: 1 prediction\(s\) are NaN or outside \[0, 1\]"),
        (_out_of_range, {}, r"run2.parquet: 1 prediction\(s\) are NaN or outside \[0, 1\]"),
        (_other_targets, {}, r"run 'run2' has 1 target\(s\) that differ from folds.csv"),
        (_other_targets_no_folds_csv, {}, "runs 'run0' and 'run2' have different targets"),
        (_no_test, {}, r"no test predictions for run\(s\) \['run2'\]"),
        (_test_ids_differ, {}, "runs 'run0' and 'run2' have test predictions for different ids"),
        (_sample_submission_has_more_ids, {},
         r"lack 1 id\(s\) of sample_submission.csv \(first: \['extra1'\]\)"),
        (_test_nan, {}, r"run2.test.parquet: 1 prediction\(s\) are NaN"),
        (None, {"use_full": True}, ("--use-full needs 100%-retrain predictions for every run; "
                                   r"missing for \['run0', 'run1', 'run2'\]")),
        (None, {"runs": ["run0"]}, r"needs at least two runs; --runs named only \['run0'\]"),
        (None, {"runs": ["run0", "nope"]}, r"no OOF predictions for run\(s\) \['nope'\]"),
        (None, {"blenders": "mean,xgb"}, r"unknown blender\(s\) \['xgb'\]"),
    ],
)
def test_misaligned_or_broken_runs_are_refused(ws, spoil, kwargs, match):
    if spoil:
        spoil(ws, "run2")
    with pytest.raises(KfError, match=match):
        stack_runs(ws, **{"blenders": "mean", **kwargs})
    assert not ws.oof_path("stack-mean").exists()  # nothing half-written


def test_default_mode_skips_a_run_on_another_split_with_a_note(ws):
    _other_split(ws, "run2")
    report = stack_runs(ws, blenders="mean", write=False)
    assert report.runs == ["run0", "run1"]
    assert len(report.notes) == 1 and "skipped 'run2': trained on another fold split" in \
        report.notes[0]


def test_default_mode_needs_two_runs_on_the_current_split(ws):
    _other_split(ws, "run1")
    _other_split(ws, "run2")
    with pytest.raises(KfError, match=r"at least two runs on the current folds; found \['run0'\]"):
        stack_runs(ws, blenders="mean", write=False)


# --- --use-full ----------------------------------------------------------------------------
def test_rank_to_reference_keeps_order_and_takes_reference_scale():
    values = np.array([0.9, 0.1, 0.5, 0.7])
    reference = np.linspace(0.0, 0.2, 101)
    out = rank_to_reference(values, reference)
    assert list(np.argsort(out)) == list(np.argsort(values))
    assert out.max() <= 0.2 and out.min() >= 0.0


def test_use_full_blends_rank_normalised_retrain_predictions(ws):
    runs = ["run0", "run1", "run2"]
    for r in runs:  # a retrained model on another scale: squashed towards 0
        t = artifacts.read_test_preds(ws.test_path(r))
        artifacts.write_test_preds(ws.full_test_path(r), t.assign(pred=t["pred"] ** 3)[["id", "pred"]])
    report = stack_runs(ws, blenders="mean,hillclimb", use_full=True, scale="raw")
    assert report.test_source == "full-retrain, raw"
    side = json.loads(ws.submission_path("stack-mean").with_suffix(".json").read_text())
    assert side["lineage"]["test_predictions"] == "full" and side["lineage"]["scale"] == "raw"
    assert side["lineage"]["test_files"][0] == "oof/run0.full.test.parquet"
    # cubing does not change ranks, so the rank-normalised blend equals blending the
    # fold-mean predictions mapped the same way
    X, _, _ = _xyf(ws, runs)
    fold_mean = np.column_stack([rank_to_reference(
        artifacts.read_test_preds(ws.test_path(r)).sort_values("id")["pred"].to_numpy(), X[:, j])
        for j, r in enumerate(runs)])
    got = artifacts.read_test_preds(ws.test_path("stack-mean")).sort_values("id")["pred"]
    np.testing.assert_allclose(got, fold_mean.mean(axis=1), atol=1e-12)


def test_lightgbm_logit_and_rank_features_score_alike(stacked):
    """Trees only see order: the two feature choices differ by binning noise only."""
    ws, report = stacked
    X, y, folds = _xyf(ws, ["run0", "run1"])
    rank_auc = auc(y, cross_fit(create_blender("lightgbm", features="rank"), X, y, folds))
    assert rank_auc == pytest.approx(report.score("lightgbm").oof_auc, abs=0.005)
