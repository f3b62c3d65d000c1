"""`kf runs`: every run's OOF AUC with its DeLong interval and the paired test against the
best run; scriptable as JSON or CSV."""

import csv
import io
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from kfold import artifacts
from kfold.bench.stack import write_workspace
from kfold.cli import app
from kfold.runs import runs_summary
from kfold.stack.blenders import auc
from kfold.stats import auc_interval, paired_difference, to_fold_scale
from tests.record_helpers import fold_result, run_record


def _run_json(ws, name):
    oof = artifacts.read_oof(ws.oof_path(name))
    folds = [fold_result(int(k), auc(g["target"], g["pred"])) for k, g in oof.groupby("fold")]
    artifacts.write_run(ws, run_record(name, model="simple_cnn", config={"image_size": 32},
                                       folds=folds, oof_auc=auc(oof["target"], oof["pred"])))


@pytest.fixture
def ws(tmp_path):
    ws = write_workspace(tmp_path, n_rows=1200, n_runs=2, seed=1)
    oof = artifacts.read_oof(ws.oof_path("run0"))  # the better of the two: its near-copy
    assert auc(oof["target"], oof["pred"]) > auc(*artifacts.read_oof(ws.oof_path("run1"))[
        ["target", "pred"]].T.to_numpy())
    noise = np.random.default_rng(0).normal(0, 1e-4, len(oof))
    artifacts.write_oof(ws.oof_path("twin"), oof.assign(pred=np.clip(oof["pred"] + noise, 0, 1)))
    blur = np.random.default_rng(1).random(len(oof))
    artifacts.write_oof(ws.oof_path("weak"), oof.assign(pred=0.2 * oof["pred"] + 0.8 * blur))
    for name in ("run0", "run1", "twin", "weak"):
        _run_json(ws, name)
    return ws


def _on_fold_scale(ws, name):
    oof = artifacts.read_oof(ws.oof_path(name)).sort_values("id")
    return oof.assign(pred=to_fold_scale(oof["pred"], oof["fold"]))


def test_rows_carry_delong_intervals_and_paired_tests_against_the_best_on_the_fold_scale(ws):
    rows = {r["run"]: r for r in runs_summary(ws)}
    best = max(rows.values(), key=lambda r: r["oof_auc"])
    assert best["vs_best"] is None
    y = artifacts.read_oof(ws.oof_path("run1")).sort_values("id")
    for name, r in rows.items():
        oof = _on_fold_scale(ws, name)
        iv = auc_interval(oof["target"], oof["pred"])
        assert r["oof_auc"] == pytest.approx(auc(oof["target"], oof["pred"]))
        assert (r["oof_auc_low"], r["oof_auc_high"]) == pytest.approx((iv.low, iv.high))
        if r is not best:
            ref = _on_fold_scale(ws, best["run"])
            d = paired_difference(y["target"], oof["pred"], ref["pred"])
            assert r["vs_best"] == pytest.approx(d.diff) and r["vs_best_p"] == pytest.approx(d.p_value)
    other = ({"run0", "twin"} - {best["run"]}).pop()  # near-copies: within noise
    assert rows[other]["within_noise"] is True and rows["weak"]["within_noise"] is False


def test_table_shows_intervals_and_the_noise_mark(ws):
    result = CliRunner().invoke(app, ["runs", "-w", str(ws.root)])
    assert result.exit_code == 0, result.output
    assert "±95%" in result.output and " ≈ " in result.output and "within noise" in result.output


def test_table_leaves_out_columns_no_run_fills_and_keeps_every_name_whole(ws):
    out = CliRunner().invoke(app, ["runs", "-w", str(ws.root)]).output
    header = next(line for line in out.splitlines() if "┃ run" in line)
    assert "pointing" not in header and "public" not in header and "100%" not in header
    assert all(f"│ {name} " in out for name in ("run0", "run1", "twin", "weak"))


def test_no_runs_is_an_empty_list_and_a_csv_header(tmp_path):
    import pandas as pd

    ws = write_workspace(tmp_path, n_rows=100, n_runs=2)
    as_json = CliRunner().invoke(app, ["runs", "-w", str(ws.root), "--format", "json"])
    assert as_json.exit_code == 0 and json.loads(as_json.stdout) == []
    as_csv = CliRunner().invoke(app, ["runs", "-w", str(ws.root), "--format", "csv"])
    frame = pd.read_csv(io.StringIO(as_csv.stdout))
    assert len(frame) == 0 and {"run", "oof_auc_low", "vs_best_p"} <= set(frame.columns)


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_json_and_csv_hold_the_same_rows(ws, fmt):
    result = CliRunner().invoke(app, ["runs", "-w", str(ws.root), "--format", fmt])
    assert result.exit_code == 0, result.output
    if fmt == "json":
        rows = json.loads(result.stdout)
    else:
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["run"] for r in rows] == [r["run"] for r in runs_summary(ws)]
    assert {"oof_auc", "oof_auc_low", "oof_auc_high", "vs_best", "vs_best_p",
            "within_noise"} <= set(rows[0])


def test_unknown_format_is_one_line(ws):
    result = CliRunner().invoke(app, ["runs", "-w", str(ws.root), "--format", "xml"])
    assert result.exit_code == 2 and "table, json, csv" in result.output
