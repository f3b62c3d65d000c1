"""kf plan for a contest not scored by AUC (here a binary one scored by log loss): candidates
ranked lowest first, each with its CV's paired bootstrap interval in place of the AUC's
shake-up simulation (and the plan says so), the public-vs-CV fit not clipped to [0, 1], and
every header naming the metric."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from kfold import artifacts
from kfold.bench.stack import write_workspace
from kfold.cli import app
from kfold.intervals import OofRows, intervals
from kfold.kaggle.planner import make_plan
from kfold.scoring import get_metric
from kfold.submission import read_sidecar, write_submission
from kfold.workspace import Workspace
from tests.kaggle_helpers import record_scored

LOGLOSS = get_metric("logloss")


def _rows(ws, run) -> OofRows:
    oof = artifacts.read_oof(ws.oof_path(run))
    y = oof["target"].to_numpy()
    return OofRows(oof["id"], oof["target"], oof["fold"].to_numpy(), y, oof["pred"].to_numpy())


@pytest.fixture
def ws(tmp_path):
    ws = write_workspace(tmp_path, n_rows=1500, n_runs=3, n_test=400, seed=7)
    ws = Workspace.init(ws.root, metric="logloss")
    for run in ("run0", "run1", "run2"):
        rows = _rows(ws, run)
        test = artifacts.read_test_preds(ws.test_path(run))[["id", "pred"]]
        write_submission(ws, run, test, LOGLOSS.score(rows.y, rows.output), {"runs": [run]})
    return ws


def test_the_sidecar_names_the_metric_its_cv_scores(ws):
    assert read_sidecar(ws.submission_path("run0"))["lineage"]["metric"] == "logloss"


def test_candidates_rank_lowest_log_loss_first_with_bootstrap_intervals(ws):
    plan = make_plan(ws, offline=True)
    assert plan.metric.name == "logloss"
    expected = [r.expected_private for r in plan.rows]
    assert expected == sorted(expected) and len(expected) == 3
    for r in plan.rows:
        iv = intervals({r.name: _rows(ws, r.name)}, LOGLOSS)[r.name]
        assert r.expected_private == pytest.approx(r.cv)  # nothing scored: no level shift
        assert (r.private_low, r.private_high) == pytest.approx((iv.low, iv.high))
    assert any("no shake-up simulation for log loss" in n for n in plan.notes)
    first, second = plan.final
    assert first.name == plan.rows[0].name and "bootstrap" in first.reason
    assert "P(it beats" not in second.reason  # nothing simulated, nothing claimed


def test_the_public_fit_is_not_clipped_to_one(ws):
    record_scored(ws, "run0", 1, public=1.9)  # a log loss far above any AUC's range
    plan = make_plan(ws, offline=True)
    assert all(r.predicted_public > 1.0 for r in plan.rows)
    assert all(r.expected_private > 1.0 for r in plan.rows)


def test_the_table_names_log_loss_and_never_auc(ws):
    result = CliRunner().invoke(app, ["plan", "-w", str(ws.root), "--offline"])
    assert result.exit_code == 0, result.output
    assert "CV log loss ↓" in result.output and "lower is better" in result.output
    assert "AUC" not in result.output.replace("simulates AUC", "")


def test_a_rank_metric_is_scored_on_the_fold_scale_by_plan_as_by_every_command(tmp_path):
    """pAUC, like every AUC, is scored on the fold scale by kf train, runs, stack and plan:
    a candidate whose CV is that score gets its bootstrap interval; one whose CV was taken
    as written (mixing the fold models' scales) is named, not silently re-scored."""
    from dataclasses import replace

    from kfold.stats.foldscale import columns_to_fold_scale

    ws = write_workspace(tmp_path, n_rows=1500, n_runs=2, n_test=400, seed=7, drift=0.5)
    ws = Workspace.init(ws.root, metric="pauc")  # drift: fold models on their own scales
    pauc = get_metric("pauc")
    raw = _rows(ws, "run1")
    scaled = replace(raw, output=columns_to_fold_scale(raw.output, raw.folds))
    assert abs(pauc.score(raw.y, raw.output) - pauc.score(scaled.y, scaled.output)) > 0.01
    for run, on_scale in (("run0", True), ("run1", False)):
        rows = _rows(ws, run)
        output = columns_to_fold_scale(rows.output, rows.folds) if on_scale else rows.output
        test = artifacts.read_test_preds(ws.test_path(run))[["id", "pred"]]
        write_submission(ws, run, test, pauc.score(rows.y, output), {"runs": [run]})
    plan = make_plan(ws, offline=True)
    stale = [n for n in plan.notes if "no longer matches" in n]
    assert len(stale) == 1 and stale[0].startswith("run1: oof/run1.parquet no longer matches")
    (run0,) = [r for r in plan.rows if r.name == "run0"]
    assert run0.private_low is not None and run0.private_low <= run0.cv <= run0.private_high
