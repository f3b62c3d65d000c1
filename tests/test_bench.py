"""`kf bench` runs each case side by side and prints ratios (speeds are not asserted)."""

from typer.testing import CliRunner

from kfold.bench import bench_pipeline, bench_train, bench_workspace
from kfold.cli import app


def test_pipeline_and_train_cases_report_rates_and_ratios(tmp_path):
    ws = bench_workspace(tmp_path, n=40, source_size=64)
    rows = bench_pipeline(ws, size=32, batch_size=8, epochs=1)
    rows += bench_train(ws, size=32, batch_size=8, epochs=1)
    rates = [r["img/s"] for r in rows if "img/s" in r]
    ratios = [r["ratio"] for r in rows if "ratio" in r]
    assert len(rates) == 4 and all(r > 0 for r in rates)
    assert len(ratios) == 2 and all(r > 0 for r in ratios)


def test_unknown_case_is_one_clear_line():
    result = CliRunner().invoke(app, ["bench", "--case", "nope"])
    assert result.exit_code == 2 and "unknown bench case" in result.stderr
