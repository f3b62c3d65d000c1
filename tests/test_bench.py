"""`kf bench` runs each case side by side and prints ratios (speeds are not asserted)."""

import importlib.util

import pytest
from typer.testing import CliRunner

from kfold.bench import CASES, bench_workspace, case, pipeline, train
from kfold.cli import app


def test_pipeline_and_train_cases_report_rates_and_ratios(tmp_path):
    ws = bench_workspace(tmp_path, n=40, source_size=64)
    rows = pipeline.run(ws, size=32, batch_size=8, epochs=1)
    rows += train.run(ws, size=32, batch_size=8, epochs=1)
    rates = [r["img/s"] for r in rows if "img/s" in r]
    ratios = [r["ratio"] for r in rows if "ratio" in r]
    assert len(rates) == 4 and all(r > 0 for r in rates)
    assert len(ratios) == 2 and all(r > 0 for r in ratios)


def test_every_case_is_a_module_of_the_package():
    assert all(importlib.util.find_spec(f"kfold.bench.{name.replace('-', '_')}") for name in CASES)
    assert callable(case("stack"))
    assert CASES[-1] == "keras"  # TensorFlow in the process slows PyTorch: keras runs last


def test_cli_runs_a_case_and_prints_its_rows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["bench", "--case", "pipeline", "--n-images", "20",
                                      "--size", "32"])
    assert result.exit_code == 0, result.output
    assert "cached / per-epoch decode" in result.stdout


def test_root_keeps_the_benchs_workspace_for_a_rerun_to_resume(tmp_path):
    args = ["bench", "--case", "pipeline", "--n-images", "20", "--size", "32", "--root",
            str(tmp_path / "kept")]
    assert CliRunner().invoke(app, args).exit_code == 0
    images = sorted((tmp_path / "kept" / "data" / "train").rglob("*.jpg"))
    stamps = [p.stat().st_mtime_ns for p in images]
    assert len(images) == 20 and CliRunner().invoke(app, args).exit_code == 0
    assert [p.stat().st_mtime_ns for p in images] == stamps  # the data was not drawn again


@pytest.mark.parametrize("setup, args, says", [
    ("file", [], "is a file"),
    ("workspace", [], "holds no earlier bench"),
    ("bench of 20", ["--n-images", "30"], "earlier bench's 20 images; pass --n-images 20"),
])
def test_root_is_refused_when_the_bench_could_overwrite_or_mix_data(tmp_path, setup, args, says):
    root = tmp_path / "root"
    if setup == "file":
        root.write_text("x")
    elif setup == "workspace":
        root.mkdir()
        (root / "kfold.toml").write_text("competition = 'mine'\n")
    else:
        root.mkdir()
        (root / "bench.json").write_text('{"n_images": 20}')
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = CliRunner().invoke(app, ["bench", "--case", "pipeline", "--root", str(root), *args])
    assert result.exit_code == 2 and says in result.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


def test_unknown_case_is_one_clear_line():
    result = CliRunner().invoke(app, ["bench", "--case", "nope"])
    assert result.exit_code == 2 and "unknown bench case" in result.stderr


def test_memory_case_measures_both_ways_in_fresh_processes():
    from kfold.bench import memory

    rows = memory.run(sizes=(300,), device="cpu")
    assert [r["what"] for r in rows] == list(memory.MODES)
    assert all(r["images"] == 300 and r["cache_MB"] > 4 and r["peak_RSS_MB"] > r["imports_MB"]
               for r in rows)
