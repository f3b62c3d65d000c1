"""kf plan with uncertainty: expected private scores from the shake-up simulation, the final
two as a hedge, intervals on the public-vs-CV fit, public scores far outside their CV."""

from __future__ import annotations

import numpy as np
import pytest

from kfold import artifacts
from kfold.bench.stack import write_workspace
from kfold.kaggle.outlook import candidate_outlook
from kfold.kaggle.planner import fit_public_vs_cv, make_plan
from kfold.stack.blenders import auc
from kfold.submission import write_submission
from tests.kaggle_helpers import record_scored


@pytest.fixture
def ws(tmp_path):
    """Three runs with OOF and test predictions, each written as a submission candidate."""
    ws = write_workspace(tmp_path, n_rows=1500, n_runs=3, n_test=400, seed=7)
    for run in ("run0", "run1", "run2"):
        oof = artifacts.read_oof(ws.oof_path(run))
        test = artifacts.read_test_preds(ws.test_path(run))[["id", "pred"]]
        write_submission(ws, run, test, auc(oof["target"], oof["pred"]), {"runs": [run]})
    return ws


def cv_of(ws, run):
    oof = artifacts.read_oof(ws.oof_path(run))
    return auc(oof["target"], oof["pred"])


def test_without_public_scores_the_plan_ranks_by_simulated_private_and_says_so(ws):
    plan = make_plan(ws, offline=True)
    assert any("no public score is known yet" in n for n in plan.notes)
    assert "no public score is known yet" in plan.fit.text
    for r in plan.rows:
        assert r.private_low < r.expected_private < r.private_high
        assert r.expected_private == pytest.approx(r.cv, abs=0.01)  # unbiased: around CV
    best = max(plan.rows, key=lambda r: r.expected_private)
    assert plan.rows[0].name == best.name
    first, second = plan.final
    assert first.name == best.name and "expected private" in first.reason
    assert second.name != first.name and "least correlated" in second.reason
    assert "P(it beats the first on private)" in second.reason


def test_a_public_score_far_outside_its_cv_is_flagged(ws):
    record_scored(ws, "run0", 1, 0.999)  # far above what a CV near 0.8 allows
    plan = make_plan(ws, offline=True)
    flagged = [n for n in plan.notes if "far outside" in n]
    assert len(flagged) == 1 and flagged[0].startswith("run0") and "leak" in flagged[0]


def test_expected_private_given_a_public_score(ws):
    outlook, notes = candidate_outlook(ws, {r: cv_of(ws, r) for r in ("run0", "run1")})
    assert notes == [] and "run0" in outlook
    free = outlook.expect("run0")
    lucky = outlook.expect("run0", public=free.public_mean + 2 * free.public_sd)
    assert abs(lucky.public_z - 2) < 1e-9 and not lucky.far_outside
    # knowing the public part narrows the private range
    assert lucky.high - lucky.low < free.high - free.low
    shifted = outlook.expect("run0", shift=-0.02)
    assert shifted.private == pytest.approx(free.private - 0.02)


def test_candidates_whose_oof_no_longer_matches_are_left_to_cv(ws):
    outlook, notes = candidate_outlook(ws, {"run0": 0.5, "run1": cv_of(ws, "run1")})
    assert "run0" not in outlook and "run1" in outlook
    assert any("no longer matches" in n for n in notes)


def test_fit_reports_slope_and_prediction_intervals():
    rng = np.random.default_rng(0)
    cv = np.linspace(0.80, 0.95, 30)
    fit = fit_public_vs_cv(cv, 0.8 * cv + 0.15 + rng.normal(0, 0.005, 30))
    lo, hi = fit.slope_interval()
    assert lo < 0.8 < hi and "slope 95%" in fit.text
    new_cv = rng.uniform(0.8, 0.95, 2000)
    new_public = 0.8 * new_cv + 0.15 + rng.normal(0, 0.005, 2000)
    bands = np.array([fit.interval(c) for c in new_cv])
    covered = ((bands[:, 0] <= new_public) & (new_public <= bands[:, 1])).mean()
    assert 0.9 < covered < 0.99
    offset = fit_public_vs_cv(np.array([0.9, 0.91, 0.92]), np.array([0.88, 0.90, 0.90]))
    assert offset.slope_interval() is None and offset.interval(0.9) is not None
    assert fit_public_vs_cv(np.array([0.9]), np.array([0.88])).interval(0.9) is None


def test_a_level_shift_never_carries_the_private_range_past_a_perfect_score(ws):
    outlook, _ = candidate_outlook(ws, {"run0": cv_of(ws, "run0")})
    for e in (outlook.expect("run0", shift=0.4), outlook.expect("run0", public=0.99, shift=0.2)):
        assert 0.0 <= e.low <= e.private <= e.high <= 1.0


def test_a_second_pick_that_never_beats_the_first_is_said_to_be_no_hedge(tmp_path):
    ws = write_workspace(tmp_path, n_rows=600, n_runs=1, n_test=200, seed=3)
    oof = artifacts.read_oof(ws.oof_path("run0"))
    test = artifacts.read_test_preds(ws.test_path("run0"))[["id", "pred"]]
    write_submission(ws, "run0", test, auc(oof["target"], oof["pred"]), {"runs": ["run0"]})
    rng = np.random.default_rng(0)
    noise = oof.assign(pred=rng.random(len(oof)))  # a coin: it never beats run0
    artifacts.write_oof(ws.oof_path("noise"), noise)
    write_submission(ws, "noise", test.assign(pred=rng.random(len(test))),
                     auc(noise["target"], noise["pred"]), {"runs": ["noise"]})
    first, second = make_plan(ws, offline=True).final
    assert (first.name, second.name) == ("run0", "noise")
    assert "P(it beats the first on private) = 0.00 in the simulation: not a hedge" in second.reason
