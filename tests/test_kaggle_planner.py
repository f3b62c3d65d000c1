"""kf plan: the public-vs-CV fit, candidate ranking, final selections."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kfold.kaggle.planner import fit_public_vs_cv, make_plan
from kfold.submission import write_submission
from tests.kaggle_helpers import make_competition, record_scored


def test_fit_recovers_a_line_and_its_spread():
    rng = np.random.default_rng(0)
    cv = np.linspace(0.80, 0.95, 20)
    noise = rng.normal(0, 0.005, 20)
    fit = fit_public_vs_cv(cv, 0.8 * cv + 0.15 + noise)
    assert fit.n == 20 and fit.slope == pytest.approx(0.8, abs=0.1)
    assert fit.spread == pytest.approx(0.005, abs=0.002)
    assert fit.predict(0.9) == pytest.approx(0.87, abs=0.005)


@pytest.mark.parametrize("cv,public,slope,intercept", [
    ([], [], 1.0, 0.0),
    ([0.9], [0.88], 1.0, -0.02),
    ([0.9, 0.92], [0.89, 0.90], 1.0, -0.015),
    ([0.60, 0.61, 0.62], [0.64, 0.73, 0.72], 1.0, 0.26 / 3),  # < 5 points: offset only
])
def test_fit_with_few_points_is_an_offset(cv, public, slope, intercept):
    fit = fit_public_vs_cv(np.array(cv), np.array(public))
    assert (fit.slope, fit.n) == (slope, len(cv))
    assert fit.intercept == pytest.approx(intercept)


def test_one_scored_submission_says_its_spread_is_unknown():
    text = fit_public_vs_cv(np.array([0.9]), np.array([0.88])).text
    assert "spread unknown from one submission" in text and "nan" not in text


def test_an_offset_fit_reports_the_offset_interval():
    from scipy.stats import t

    gaps = np.array([-0.01, 0.02, 0.005])
    fit = fit_public_vs_cv(np.array([0.90, 0.91, 0.93]), np.array([0.90, 0.91, 0.93]) + gaps)
    half = t.ppf(0.975, 2) * gaps.std(ddof=1) / np.sqrt(3)
    assert fit.offset_interval() == pytest.approx((gaps.mean() - half, gaps.mean() + half))
    assert "offset 95% [" in fit.text
    assert fit_public_vs_cv(np.array([0.9]), np.array([0.91])).offset_interval() is None
    line = fit_public_vs_cv(np.linspace(0.8, 0.9, 6), np.linspace(0.8, 0.9, 6) + [0, .01] * 3)
    assert line.offset_interval() is None and line.slope_interval() is not None


def test_predicted_public_stays_a_valid_auc():
    fit = fit_public_vs_cv(np.linspace(0.6, 0.7, 6), np.linspace(0.5, 0.9, 6))
    assert fit.slope > 3
    assert fit.predict(0.2) == 0.0 and fit.predict(0.99) == 1.0


def test_plan_ranks_diverse_candidates_above_near_copies(tmp_path):
    ws = make_competition(tmp_path, candidates=[("base", 0.2, 0.90)], daily_limit=3)
    base = pd.read_csv(ws.submission_path("base"), dtype={"id": str})
    record_scored(ws, "base", 1, 0.89)
    ids = base["id"]
    # a near-copy with a slightly better CV, and a genuinely different model with the same CV
    write_submission(ws, "copy", pd.DataFrame({"id": ids, "pred": base["label"] * 0.99}),
                     0.901, {})
    rng = np.random.default_rng(5)
    other = np.clip(base["label"] + rng.normal(0, 0.3, len(ids)), 0, 1)
    write_submission(ws, "other", pd.DataFrame({"id": ids, "pred": other}), 0.901, {})
    plan = make_plan(ws)
    assert [r.name for r in plan.rows] == ["other", "copy"]
    copy = next(r for r in plan.rows if r.name == "copy")
    assert copy.diversity < 0.005 and any("near-copies" in n for n in plan.notes)
    assert plan.slots_left == 2 and [r.today for r in plan.rows] == [True, True]
    assert plan.rows[0].predicted_public == pytest.approx(0.901 - 0.01)


def test_plan_lists_candidates_by_expected_private_score(tmp_path):
    """However different their predictions, candidates come best expected private first."""
    ws = make_competition(tmp_path, candidates=[("base", 0.2, 0.90)], daily_limit=2)
    base = pd.read_csv(ws.submission_path("base"), dtype={"id": str})
    record_scored(ws, "base", 1, 0.88)
    rng = np.random.default_rng(3)
    for name, noise, cv in (("close", 0.05, 0.93), ("far", 0.4, 0.91), ("mid", 0.2, 0.92)):
        pred = np.clip(base["label"] + rng.normal(0, noise, len(base)), 0, 1)
        write_submission(ws, name, pd.DataFrame({"id": base["id"], "pred": pred}), cv, {})
    plan = make_plan(ws)
    assert [r.name for r in plan.rows] == ["close", "mid", "far"]
    expected = [r.expected_private for r in plan.rows]
    assert expected == sorted(expected, reverse=True)
    assert expected[0] == pytest.approx(0.93 - 0.02)  # CV moved by the level public showed
    assert [r.today for r in plan.rows] == [True, False, False]


def test_final_selection_prefers_cv_over_a_lucky_public_score(tmp_path):
    ws = make_competition(tmp_path, candidates=[("solid", 0.15, 0.95), ("lucky", 0.5, 0.86),
                                                ("mid", 0.3, 0.90), ("low", 0.6, 0.84)])
    record_scored(ws, "solid", 1, 0.93)
    record_scored(ws, "lucky", 2, 0.97)  # best public, much lower CV
    record_scored(ws, "mid", 3, 0.89)
    record_scored(ws, "low", 4, 0.83)
    plan = make_plan(ws)
    first, second = plan.final
    assert first.name == "solid"
    assert "lucky" in first.reason and "CV is the less noisy guide" in first.reason
    assert second.name == "mid" and "hedge" in second.reason
    assert plan.fit.n == 4 and plan.fit.spread > 0


def test_a_public_score_far_off_the_other_submissions_line_is_flagged_without_oof(tmp_path):
    """Hand-made files have no OOF predictions to simulate: the leave-one-out fit of the
    other scored submissions judges them (its 99.7% prediction interval)."""
    cands = [(f"m{i}", 0.2, 0.80 + 0.02 * i) for i in range(6)]
    ws = make_competition(tmp_path, candidates=cands, daily_limit=10)
    offsets = [-0.010, -0.012, -0.009, -0.011, -0.010, +0.07]  # m5: far above its line
    for i, ((name, _, cv), off) in enumerate(zip(cands, offsets), 1):
        record_scored(ws, name, i, cv + off)
    flagged = [n for n in make_plan(ws).notes if "far outside" in n]
    assert len(flagged) == 1 and flagged[0].startswith("m5 (ref 6): public 0.9700 is far outside")
    assert "leak" in flagged[0] and "99.7%" in flagged[0]


def test_the_same_bytes_under_two_names_are_one_plan_row(tmp_path):
    ws = make_competition(tmp_path, candidates=[("run-a", 0.2, 0.90)])
    preds = pd.read_csv(ws.submission_path("run-a"), dtype={"id": str})
    write_submission(ws, "stack-hillclimb", preds.rename(columns={"label": "pred"}), 0.88,
                     {"kind": "stack", "blender": "hillclimb", "runs": ["run-a", "run-b"]})
    assert [r.name for r in make_plan(ws, offline=True).rows] == ["run-a"]
