"""`kf shakeup` on a workspace: runs from oof/, the competition's sizes, table/JSON/CSV, PNG."""

import csv
import io
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from kfold import artifacts
from kfold.bench.stack import write_workspace
from kfold.cli import app
from kfold.competition import resolve_public_fraction
from kfold.errors import KfError
from kfold.stack.shakeup import shakeup_runs
from kfold.workspace import Workspace


@pytest.fixture
def ws(tmp_path):
    return write_workspace(tmp_path, n_rows=1500, n_runs=3, n_test=600, seed=2)


def kf(ws, *args):
    return CliRunner().invoke(app, ["shakeup", "-w", str(ws.root), "--n", "200", *args])


def test_simulates_the_test_set_size_and_writes_a_png(ws):
    report = shakeup_runs(ws, n_splits=200)
    s = report.summary()
    assert (s["test_rows"], s["test_rows_source"]) == (600, "oof/run0.test.parquet")
    assert s["public_rows"] == 180 and s["private_rows"] == 420
    assert report.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = report.rows()
    assert [r["run"] for r in rows] == sorted(["run0", "run1", "run2"], key=lambda r: -auc_of(ws, r))
    assert rows[0]["p_beats_best"] is None and all(0 <= r["p_beats_best"] <= 1 for r in rows[1:])
    assert sum(r["p_private_top"] for r in rows) == pytest.approx(1.0)


def auc_of(ws, run):
    from kfold.stack.blenders import auc

    oof = artifacts.read_oof(ws.oof_path(run))
    return auc(oof["target"], oof["pred"])


def test_cli_table_json_and_csv(ws):
    table = kf(ws)
    assert table.exit_code == 0, table.output
    assert "P(beats best)" in table.output and "shakeup.png" in table.output
    data = json.loads(kf(ws, "--format", "json").stdout)
    assert data["splits"] == 200 and len(data["per_run"]) == 3
    assert 0 <= data["rank_disagreement"] <= 1
    rows = list(csv.DictReader(io.StringIO(kf(ws, "--format", "csv").stdout)))
    assert [r["run"] for r in rows] == [r["run"] for r in data["per_run"]]
    assert {float(r["rank_disagreement"]) for r in rows} == {data["rank_disagreement"]}
    assert float(rows[1]["p_beats_best"]) == data["per_run"][1]["p_beats_best"]


def test_public_fraction_comes_from_option_toml_solution_or_assumption(ws):
    assert resolve_public_fraction(ws) == (0.3, "assumed (set public_fraction in kfold.toml)")
    ws.data_dir.mkdir(exist_ok=True)
    pd.DataFrame({"id": range(10), "Usage": ["Public"] * 4 + ["Private"] * 6}).to_csv(
        ws.data_dir / "solution.csv", index=False)
    assert resolve_public_fraction(ws) == (0.4, "data/solution.csv")
    ws = Workspace.init(ws.root, public_fraction=0.25)
    assert resolve_public_fraction(ws) == (0.25, "kfold.toml")
    assert resolve_public_fraction(ws, 0.5) == (0.5, "--public-fraction")
    assert "public_fraction = 0.25" in (ws.root / "kfold.toml").read_text()


@pytest.mark.parametrize("value", ["0", "1", "-0.1", "1.5"])
def test_public_fraction_outside_unit_interval_is_one_line(ws, value):
    result = kf(ws, "--public-fraction", value)
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and "outside (0, 1)" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--public-fraction", "abc"], "Invalid value for '--public-fraction'"),
    (["--public-fraction", "nan"], "outside (0, 1)"),
    (["--n", "abc"], "Invalid value for '--n'"),
    (["--n", "-5"], "at least one split"),
    (["--seed", "-1"], "--seed -1"),
])
def test_bad_options_are_one_error_line_and_exit_2(ws, args, message):
    result = kf(ws, *args, "--format", "json")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr


def test_a_png_path_kf_cannot_write_is_one_line(ws, tmp_path):
    (tmp_path / "afile").write_text("x")
    result = kf(ws, "--png", str(tmp_path / "afile" / "shakeup.png"))
    assert result.exit_code == 2 and "is a file, not a folder" in result.stderr
    result = kf(ws, "--png", str(tmp_path))
    assert result.exit_code == 2 and "it is a folder" in result.stderr


def test_bad_fraction_in_kfold_toml_names_the_file(ws):
    Workspace.init(ws.root, public_fraction=2.0)
    result = kf(ws)
    assert result.exit_code == 2 and "kfold.toml: public_fraction" in result.stderr


def test_runs_on_another_fold_split_are_refused(ws):
    oof = artifacts.read_oof(ws.oof_path("run1"))
    artifacts.write_oof(ws.oof_path("run1"), oof.assign(fold=(oof["fold"] + 1) % 5))
    with pytest.raises(KfError, match="another fold split"):
        shakeup_runs(ws, ["run0", "run1"], n_splits=10, png=False)
    report = shakeup_runs(ws, n_splits=10, png=False)  # default: skipped, with a note
    assert "run1" not in report.sim.names and any("run1" in n for n in report.notes)


def test_unknown_run_and_a_test_set_larger_than_the_oof_rows(ws):
    result = kf(ws, "--runs", "nope")
    assert result.exit_code == 2 and "nope" in result.stderr
    report = shakeup_runs(ws, n_splits=10, test_rows=99999, png=False)
    assert report.test_rows == 1500 and any("larger than" in n for n in report.notes)
