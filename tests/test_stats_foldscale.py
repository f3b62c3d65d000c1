"""Fold-aware scores and the fold scale: a run whose fold models are good but on different
scales is scored by what each fold model ranks, and its test rows land on its OOF rows' scale."""

import json

import numpy as np
import pandas as pd
import pytest

from kfold import artifacts
from kfold.metrics import auc
from kfold.stack import list_blenders, stack_runs
from kfold.stats.foldscale import (
    fold_scores,
    map_test_to_fold_scale,
    quantiles,
    self_scale,
    to_fold_scale,
)
from kfold.workspace import Workspace

N_FOLDS, PER_FOLD = 3, 200


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _shifted_runs(shifts: dict[str, list[float]], seed: int = 0):
    """y, folds and {run: OOF predictions}: every fold holds the same targets and each run
    the same latent scores in every fold (so each fold model ranks identically), pushed by
    the run's own logit shift per fold. Runs have independent noise: a blend beats each."""
    rng = np.random.default_rng(seed)
    y1 = (rng.random(PER_FOLD) < 0.3).astype(int)
    y = np.tile(y1, N_FOLDS)
    folds = np.repeat(np.arange(N_FOLDS), PER_FOLD)
    preds = {}
    for run, shift in shifts.items():
        latent = np.tile(y1 + rng.normal(0, 0.8, PER_FOLD), N_FOLDS)
        preds[run] = _sigmoid(latent - 0.5 + np.repeat(shift, PER_FOLD))
    return y, folds, preds


DRIFT = {"a": [0.0, 2.5, -2.0], "b": [-1.5, 0.0, 3.0]}


def test_fold_normalised_score_equals_the_fold_scores_and_pooling_loses():
    y, folds, preds = _shifted_runs(DRIFT)
    for pred in preds.values():
        s = fold_scores(y, pred, folds)
        assert s.per_fold == pytest.approx([s.per_fold[0]] * N_FOLDS)
        assert s.normalised == pytest.approx(s.per_fold[0]) == pytest.approx(s.fold_mean)
        assert s.pooled < s.normalised - 0.02 and s.drift


def test_no_drift_means_pooled_and_normalised_agree_and_no_flag():
    y, folds, preds = _shifted_runs({"a": [0.0] * N_FOLDS})
    s = fold_scores(y, preds["a"], folds)
    assert s.pooled == pytest.approx(s.normalised) and not s.drift


def test_fold_scores_take_any_metric():
    y, folds, preds = _shifted_runs(DRIFT)
    s = fold_scores(y, preds["a"], folds, metric=lambda t, p: float(np.mean(p[t == 1])))
    assert s.per_fold == pytest.approx([preds["a"][(folds == k) & (y == 1)].mean()
                                        for k in range(N_FOLDS)])


def test_the_test_row_transform_maps_a_fold_models_validation_predictions_onto_the_oof_values():
    y, folds, preds = _shifted_runs(DRIFT)
    oof = preds["a"]
    # test row i is predicted by fold model k exactly as it predicted its OOF row i
    fold_test = np.column_stack([oof[folds == k] for k in range(N_FOLDS)])
    on_scale = to_fold_scale(oof, folds)
    for reference in (None, np.linspace(0.1, 0.6, 50)):
        got = map_test_to_fold_scale(oof, folds, fold_test, reference)
        expected = to_fold_scale(oof, folds, reference)
        for k in range(N_FOLDS):  # each fold's OOF rows got the same values (same ranks)
            np.testing.assert_allclose(got, expected[folds == k])
    assert on_scale.min() > 0 and on_scale.max() < 1


def test_one_models_predictions_take_the_reference_distribution_in_their_own_order():
    values = np.array([0.9, 0.1, 0.5, 0.7])
    out = self_scale(values, np.linspace(0.0, 0.2, 101))
    assert list(np.argsort(out)) == list(np.argsort(values)) and 0 <= out.min() <= out.max() <= 0.2
    np.testing.assert_allclose(self_scale(values), quantiles(values, values))


def _workspace(root, shifts, seed=0) -> Workspace:
    """folds.csv, OOF and per-fold test files of `_shifted_runs`; the test rows are fresh
    latent draws predicted by every fold model with its fold's shift."""
    ws = Workspace.init(root, n_folds=N_FOLDS)
    y, folds, preds = _shifted_runs(shifts, seed)
    ids = [f"img{i:04d}" for i in range(len(y))]
    frame = pd.DataFrame({"id": ids, "target": y, "fold": folds})
    frame.to_csv(ws.folds_path, index=False)
    ws.oof_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed + 1)
    for run, shift in shifts.items():
        artifacts.write_oof(ws.oof_path(run), frame.assign(pred=preds[run]))
        latent = rng.normal(0.3, 1.0, 100)
        test = pd.DataFrame({"id": [f"t{i:03d}" for i in range(100)]})
        for k in range(N_FOLDS):
            test[f"pred_fold{k}"] = _sigmoid(latent - 0.5 + shift[k])
        test["pred"] = test[[f"pred_fold{k}" for k in range(N_FOLDS)]].mean(axis=1)
        artifacts.write_test_preds(ws.test_path(run), test)
    return ws


def test_fold_aware_blends_are_at_least_the_best_run_and_beat_raw_ones(tmp_path):
    ws = _workspace(tmp_path, DRIFT)
    fold = stack_runs(ws, write=False)
    raw = stack_runs(ws, write=False, scale="raw")
    assert all(s.drift for s in fold.scores if s.kind == "run")
    assert any("different scales" in n for n in fold.notes)
    for blender in list_blenders():
        assert fold.score(blender).oof_auc >= fold.best_run.oof_auc, blender
        assert fold.score(blender).oof_auc > raw.score(blender).oof_auc, blender


def test_without_drift_fold_aware_and_raw_blends_agree(tmp_path):
    ws = _workspace(tmp_path, {"a": [0.0] * N_FOLDS, "b": [0.0] * N_FOLDS})
    fold = stack_runs(ws, write=False)
    raw = stack_runs(ws, write=False, scale="raw")
    assert not fold.notes
    for blender in list_blenders():
        assert fold.score(blender).oof_auc == pytest.approx(raw.score(blender).oof_auc,
                                                            abs=0.005), blender


def test_the_blend_sees_test_rows_on_the_oof_rows_scale(tmp_path):
    ws = _workspace(tmp_path, DRIFT)
    stack_runs(ws, blenders="mean")
    expected = []
    for run in DRIFT:
        oof = artifacts.read_oof(ws.oof_path(run))
        test = artifacts.read_test_preds(ws.test_path(run)).sort_values("id")
        cols = test[[f"pred_fold{k}" for k in range(N_FOLDS)]].to_numpy()
        expected.append(map_test_to_fold_scale(oof["pred"], oof["fold"], cols, test["pred"]))
    got = artifacts.read_test_preds(ws.test_path("stack-mean")).sort_values("id")["pred"]
    np.testing.assert_allclose(got, np.mean(expected, axis=0), atol=1e-12)
    side = artifacts.read_oof(ws.oof_path("stack-mean"))
    assert auc(side["target"], side["pred"]) > 0.5


def test_use_full_puts_each_retrain_on_the_fold_scale_by_its_own_order(tmp_path):
    ws = _workspace(tmp_path, DRIFT)
    expected = []
    for run in DRIFT:  # a retrain on another scale (cubed): only its order is used
        t = artifacts.read_test_preds(ws.test_path(run)).sort_values("id")
        artifacts.write_test_preds(ws.full_test_path(run),
                                   t.assign(pred=t["pred"] ** 3)[["id", "pred"]])
        expected.append(self_scale(t["pred"].to_numpy(), t["pred"].to_numpy()))
    report = stack_runs(ws, blenders="mean", use_full=True)
    assert report.test_source == "full-retrain, fold scale"
    got = artifacts.read_test_preds(ws.test_path("stack-mean")).sort_values("id")["pred"]
    np.testing.assert_allclose(got, np.mean(expected, axis=0), atol=1e-12)


def test_kf_runs_stack_and_shakeup_rank_by_the_same_fold_normalised_score(tmp_path):
    from kfold.runs import runs_summary
    from kfold.stack.shakeup import shakeup_runs
    from tests.record_helpers import fold_result, run_record

    ws = _workspace(tmp_path, DRIFT)
    for run in DRIFT:
        artifacts.write_run(ws, run_record(run, folds=[fold_result(k, 0.5) for k in range(3)]))
    report = stack_runs(ws, blenders="mean")
    listed = {r["run"]: r for r in runs_summary(ws)}
    shaken = {r["run"]: r for r in shakeup_runs(ws, n_splits=50, png=False).rows()}
    for s in report.scores:
        assert listed[s.name]["oof_auc"] == pytest.approx(s.oof_auc)
        assert shaken[s.name]["oof_auc"] == pytest.approx(s.oof_auc)
        assert listed[s.name]["pooled"] == pytest.approx(s.pooled_auc)
    assert listed["a"]["drift"] and listed["b"]["drift"]
    side = json.loads(ws.submission_path("stack-mean").with_suffix(".json").read_text())
    assert side["cv_auc"] == pytest.approx(report.score("mean").oof_auc)  # what kf plan ranks by
