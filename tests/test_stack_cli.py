"""`kf stack` on the command line, the pictures for choosing runs, and the bench case."""

import pytest
from typer.testing import CliRunner

from kfold.bench.stack import bench_stacking, write_workspace
from kfold.cli import app
from kfold.stack import list_blenders, plot_runs, stack_runs

runner = CliRunner()


@pytest.fixture
def ws(tmp_path):
    return write_workspace(tmp_path, n_rows=500, n_runs=3, n_test=80, seed=5)


def test_kf_stack_prints_the_leaderboard_and_writes_every_blend(ws):
    result = runner.invoke(app, ["stack", "-w", str(ws.root)])
    assert result.exit_code == 0, result.output
    for name in ["run0", "run1", "run2"] + [f"stack-{m}" for m in list_blenders()]:
        assert name in result.output
    assert "OOF AUC" in result.output and "fold AUC" in result.output
    assert "held on the test labels in" in result.output  # the best stack's track record
    for blender in list_blenders():
        assert ws.oof_path(f"stack-{blender}").exists()
        assert ws.test_path(f"stack-{blender}").exists()
        assert ws.submission_path(f"stack-{blender}").with_suffix(".json").exists()


def test_kf_stack_with_named_runs_and_one_blender(ws):
    result = runner.invoke(app, ["stack", "-w", str(ws.root), "--runs", "run0,run2",
                                 "--meta", "hillclimb"])  # --meta: the old name, kept
    assert result.exit_code == 0, result.output
    assert "stack-hillclimb" in result.output and "run1" not in result.output
    assert not ws.oof_path("stack-mean").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--blender", "xgb"], "unknown blender(s) ['xgb']"),
        (["--runs", "run0"], "needs at least two runs"),
        (["--use-full"], "--use-full needs 100%-retrain predictions"),
        (["--scale", "log"], "--scale 'log': choose one of fold, raw"),
    ],
)
def test_kf_stack_user_errors_are_one_line_and_exit_2(ws, args, message):
    result = runner.invoke(app, ["stack", "-w", str(ws.root), *args])
    assert result.exit_code == 2
    assert message in result.output.replace("\n", " ") or message in str(result.stderr)
    assert "Traceback" not in result.output


def test_plot_runs_writes_a_correlation_heatmap_and_roc_curves(ws, tmp_path):
    stack_runs(ws, blenders="mean")
    paths = plot_runs(ws, None, tmp_path / "plots")
    assert [p.name for p in paths] == ["oof_corr.png", "oof_roc.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_stacking_reports_seconds_per_blender():
    rows = bench_stacking(n_rows=1000, n_runs=3)
    assert [r["blender"] for r in rows] == list_blenders() + ["total"]
    assert all(r["seconds"] >= 0 and 0.5 < r["oof_auc"] <= 1 for r in rows)
