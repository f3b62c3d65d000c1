"""`kf runs` on contests not scored by AUC: a multi-class workspace (log loss, lower is
better) and a regression one (RMSE): runs ranked in the metric's direction, each score with a
paired bootstrap interval and its difference to the best run over the same rows, and every
header and caption naming the metric (no "AUC")."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from kfold import artifacts
from kfold.cli import app
from kfold.runs import render_runs, runs_summary
from kfold.scoring import get_metric
from kfold.stats.bootstrap import paired_bootstrap
from kfold.workspace import Workspace
from tests.record_helpers import fold_result, run_record

N, FOLDS = 600, 3
CLASSES = ["good", "scratch", "stain"]


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _outputs(task: str, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Targets and three runs: `best`, its near-copy `twin`, and a clearly worse `weak`."""
    if task == "multiclass":
        y = rng.integers(0, len(CLASSES), N)
        shared = rng.normal(size=(N, len(CLASSES))) + 1.5 * np.eye(len(CLASSES))[y]
        return y, {"best": _softmax(shared),
                   "twin": _softmax(shared + rng.normal(0, 1e-3, shared.shape)),
                   "weak": _softmax(0.3 * shared + rng.normal(size=shared.shape))}
    y = rng.normal(5, 2, N)
    shared = y + rng.normal(0, 1, N)
    return y, {"best": shared, "twin": shared + rng.normal(0, 1e-3, N),
               "weak": y + rng.normal(0, 2.5, N)}


def _workspace(root, task: str, metric: str) -> tuple[Workspace, np.ndarray, dict]:
    rng = np.random.default_rng(0)
    ws = Workspace.init(root)
    ws.oof_dir.mkdir(parents=True, exist_ok=True)
    y, outputs = _outputs(task, rng)
    folds = np.arange(N) % FOLDS
    ids = [f"img{i:04d}" for i in range(N)]  # sorted as the readers sort them
    classes = CLASSES if task == "multiclass" else []
    columns = artifacts.pred_columns(task, classes)
    m = get_metric(metric)
    for name, out in outputs.items():
        frame = pd.DataFrame(out.reshape(N, -1), columns=columns)
        artifacts.write_oof(ws.oof_path(name), frame.assign(id=ids, target=y, fold=folds),
                            task, classes)
        fold_scores = [fold_result(k, m.score(y[folds == k], out[folds == k]))
                       for k in range(FOLDS)]
        artifacts.write_run(ws, run_record(name, task=task, classes=classes, metric=metric,
                                           folds=fold_scores, oof_auc=m.score(y, out)))
    return ws, y, outputs


CASES = {"multiclass": ("logloss", "log loss ↓"), "regression": ("rmse", "RMSE ↓")}


@pytest.fixture(params=list(CASES))
def case(request, tmp_path):
    task = request.param
    ws, y, outputs = _workspace(tmp_path, task, CASES[task][0])
    return ws, y, outputs, CASES[task]


def test_runs_rank_lowest_first_with_paired_bootstrap_intervals(case):
    ws, y, outputs, (metric, _) = case
    rows = runs_summary(ws)
    scores = [r["oof_auc"] for r in rows]
    assert scores == sorted(scores) and rows[-1]["run"] == "weak"  # lower is better
    expected = {b.run: b for b in paired_bootstrap(y, outputs, get_metric(metric))}
    for r in rows:
        b = expected[r["run"]]
        assert r["metric"] == metric
        assert r["oof_auc"] == pytest.approx(b.score)
        assert (r["oof_auc_low"], r["oof_auc_high"]) == pytest.approx((b.low, b.high))
        assert r["oof_auc_low"] <= r["oof_auc"] <= r["oof_auc_high"]
        assert r["vs_best_p"] is None  # a bootstrap has no p-value
    best, twin, weak = rows  # best and its near-copy, either way round
    assert best["vs_best"] is None and best["within_noise"] is None
    b = expected[twin["run"]]
    assert (twin["vs_best"], twin["vs_best_low"], twin["vs_best_high"]) == pytest.approx(
        (b.diff, b.diff_low, b.diff_high))
    assert twin["within_noise"] is True
    assert weak["vs_best"] > 0 and weak["vs_best_low"] > 0 and weak["within_noise"] is False


def test_a_run_on_other_rows_gets_its_interval_but_no_difference(case):
    ws, *_ = case
    oof = artifacts.read_oof(ws.oof_path("weak"), artifacts.read_run(ws, "weak").task)
    task = artifacts.read_run(ws, "weak").task
    artifacts.write_oof(ws.oof_path("weak"), oof.iloc[:-10], task,
                        artifacts.classes_of(oof))
    weak = next(r for r in runs_summary(ws) if r["run"] == "weak")
    assert weak["oof_auc_low"] is not None and weak["vs_best"] is None


def test_the_table_names_the_metric_and_its_direction_and_never_auc(case):
    ws, _, _, (_, label) = case
    result = CliRunner().invoke(app, ["runs", "-w", str(ws.root)])
    assert result.exit_code == 0, result.output
    assert "AUC" not in result.output and "DeLong" not in result.output
    assert "paired bootstrap" in result.output and "lower is better" in result.output
    table = render_runs(runs_summary(ws), width=None)
    headers = [c.header for c in table.columns]
    assert f"OOF {label}\n±95%" in headers
    assert "pooled" not in headers and "p" not in headers  # AUC's fold scale; DeLong's p


def test_json_keeps_the_keys_and_adds_the_metric(case):
    ws, _, _, (metric, _) = case
    result = CliRunner().invoke(app, ["runs", "-w", str(ws.root), "--format", "json"])
    rows = json.loads(result.stdout)
    assert {r["metric"] for r in rows} == {metric}
    assert {"oof_auc", "oof_auc_low", "oof_auc_high", "vs_best", "vs_best_low",
            "vs_best_high", "vs_best_p", "within_noise"} <= set(rows[0])


def test_a_stack_is_scored_in_the_metric_of_the_runs_it_blends(case):
    ws, y, outputs, (metric, _) = case
    task = artifacts.read_run(ws, "best").task
    oof = artifacts.read_oof(ws.oof_path("best"), task)
    artifacts.write_oof(ws.oof_path("stack-mean"), oof, task, artifacts.classes_of(oof))
    stack = next(r for r in runs_summary(ws) if r["run"] == "stack-mean")
    m = get_metric(metric)
    assert stack["metric"] == metric
    assert stack["oof_auc"] == pytest.approx(m.score(y, outputs["best"]))
    folds = np.arange(N) % FOLDS
    assert stack["fold_aucs"] == pytest.approx(
        [m.score(y[folds == k], outputs["best"][folds == k]) for k in range(FOLDS)])
