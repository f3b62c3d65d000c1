"""`kf runs` compares experiments: sorting, stacks as rows, only the settings that differ,
the best public score of any submission derived from a run, CV vs public plot."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from kfold import artifacts, atomic
from kfold.bench.stack import write_workspace
from kfold.cli import app
from kfold.kaggle.ledger import Ledger
from kfold.runs import (
    differing_settings,
    plot_cv_vs_public,
    render_run_notes,
    render_runs,
    runs_summary,
)
from kfold.stack.blenders import auc
from tests.record_helpers import fold_result, run_record

runner = CliRunner()


def _run_json(ws, name, created, **config):
    oof = artifacts.read_oof(ws.oof_path(name))
    folds = [fold_result(int(k), auc(g["target"], g["pred"])) for k, g in oof.groupby("fold")]
    cfg = {"image_size": 32, "epochs": 3, "lr": 0.001, "model": "simple-cnn", **config}
    artifacts.write_run(ws, run_record(name, config=cfg, folds=folds, created_utc=created,
                                       oof_auc=auc(oof["target"], oof["pred"])))


def _scored(ws, ref, name, runs, cv, public, competition=None):
    """A scored submission of candidate `name` (lineage `runs`) in the ledger."""
    sha = f"{ref:064d}"
    slug = competition or ws.config.competition
    with Ledger(ws.ledger_path) as led:
        led.add_candidate(sha, ws.submissions_dir / f"{name}.csv", name, cv, {"runs": runs},
                          None)
        res = led.reserve(slug, sha, f"{name}.csv", "m", 99, name=name,
                          cv_auc=cv, lineage={"runs": runs})
        led.mark_submitted(res, ref)
        led.update_remote(slug, SimpleNamespace(
            ref=ref, status="complete", public_score=public, private_score=None, error=None),
            adopt=False)


@pytest.fixture
def ws(tmp_path):
    ws = write_workspace(tmp_path, n_rows=400, n_runs=2, seed=1)
    _run_json(ws, "run0", "2026-11-30T10:00:00+00:00", lr=0.01)
    _run_json(ws, "run1", "2026-11-30T12:00:00+00:00")
    oof = artifacts.read_oof(ws.oof_path("run0"))
    artifacts.write_oof(ws.oof_path("stack-mean"), oof.assign(
        pred=(oof["pred"] + artifacts.read_oof(ws.oof_path("run1"))["pred"]) / 2))
    atomic.write_json(ws.submission_path("stack-mean").with_suffix(".json"), {
        "name": "stack-mean", "cv_auc": 0.9, "created_utc": "2026-11-30T13:00:00+00:00",
        "lineage": {"kind": "stack", "blender": "mean", "runs": ["run0", "run1"]}})
    _scored(ws, 1, "run1", ["run1"], 0.80, 0.71)
    _scored(ws, 2, "stack-mean", ["run0", "run1"], 0.90, 0.83)
    return ws


def test_stacks_are_rows_and_public_scores_follow_lineage(ws):
    rows = {r["run"]: r for r in runs_summary(ws)}
    assert set(rows) == {"run0", "run1", "stack-mean"}
    stack = rows["stack-mean"]
    assert stack["model"] == "stack: mean" and stack["backend"] == "of 2 runs"
    assert stack["oof_auc_low"] is not None  # the DeLong interval covers stacks too
    assert stack["best_public"] == pytest.approx(0.83)
    assert rows["run0"]["best_public"] == pytest.approx(0.83)  # only through the stack
    assert rows["run1"]["best_public"] == pytest.approx(0.83)  # its own 0.71 < the stack's


def test_sort_by_oof_time_or_name(ws):
    by_oof = [r["oof_auc"] for r in runs_summary(ws, sort="oof")]
    assert by_oof == sorted(by_oof, reverse=True)
    assert [r["run"] for r in runs_summary(ws, sort="time")] == ["stack-mean", "run1", "run0"]
    assert [r["run"] for r in runs_summary(ws, sort="name")] == ["run0", "run1", "stack-mean"]
    r = runner.invoke(app, ["runs", "--sort", "size", "-w", str(ws.root)])
    assert r.exit_code == 2 and "--sort 'size': choose one of oof, time, name" in r.output


def test_only_settings_that_differ_get_a_column(ws):
    rows = runs_summary(ws)
    assert differing_settings(rows) == ["lr"]
    table = render_runs(rows)
    headers = [c.header for c in table.columns]
    assert headers[-1] == "lr" and headers.count("epochs") == 1 and "public" in headers


def test_a_160_column_table_shows_every_column(ws):
    """Piped output is 160 columns wide: with settings, notes, tags and a commit, no column is
    squeezed out of sight (the notes have their own table)."""
    from rich.console import Console

    for i, name in enumerate(("run0", "run1")):
        _run_json(ws, name, f"2026-11-30T1{i}:00:00+00:00", lr=0.01 * (i + 1), epochs=3 + i,
                  batch_size=32 * (i + 1), augment=["d4", "none"][i])
        rec = artifacts.read_run(ws, name)
        artifacts.write_run(ws, rec.__class__(**{**rec.__dict__, "note": f"try {i}",
                                                  "tags": ["baseline"], "git_commit": "abc1234567"}))
    rows = runs_summary(ws)
    console = Console(width=160, record=True)
    console.print(render_runs(rows))
    console.print(render_run_notes(rows))
    text = console.export_text()
    for word in ("simple-cnn", "stack: mean", "epochs=4", "batch_size=64", "augment=d4",
                 "lr=0.02", "public", "0.8300", "try 0", "try 1", "baseline", "abc1234567"):
        assert word in text, word
    assert max(len(line) for line in text.splitlines()) <= 160


def test_a_stack_rerun_on_other_runs_does_not_inherit_the_old_public_score(ws):
    atomic.write_json(ws.submission_path("stack-mean").with_suffix(".json"), {
        "name": "stack-mean", "cv_auc": 0.9, "created_utc": "2026-11-30T14:00:00+00:00",
        "lineage": {"kind": "stack", "blender": "mean", "runs": ["run1"]}})
    rows = {r["run"]: r for r in runs_summary(ws)}
    assert rows["stack-mean"]["best_public"] is None  # 0.83 was the two-run stack's
    assert rows["run0"]["best_public"] == pytest.approx(0.83)


def test_a_website_file_name_any_characters_is_listed_not_refused(ws):
    _scored(ws, 3, "my sub (1)", ["run0"], 0.85, 0.90)  # made on the website, merged
    rows = {r["run"]: r for r in runs_summary(ws)}
    assert rows["run0"]["best_public"] == pytest.approx(0.90)


def test_plot_cv_vs_public(ws):
    png = plot_cv_vs_public(ws)
    assert png == ws.submissions_dir / "cv_vs_public.png" and png.read_bytes()[:4] == b"\x89PNG"
    r = runner.invoke(app, ["runs", "--plot", "-w", str(ws.root)])
    assert r.exit_code == 0 and "cv_vs_public.png" in r.output


def test_json_rows_carry_settings_and_public(ws):
    r = runner.invoke(app, ["runs", "--format", "json", "-w", str(ws.root)])
    rows = {x["run"]: x for x in json.loads(r.stdout)}
    assert rows["run0"]["config"]["lr"] == 0.01 and rows["stack-mean"]["best_public"] == 0.83


def _many_settings(ws):
    for i, name in enumerate(("run0", "run1")):
        _run_json(ws, name, f"2026-11-30T1{i}:00:00+00:00", lr=0.01 * (i + 1), epochs=3 + i,
                  batch_size=32 * (i + 1), augment=["d4", "none"][i], dropout=0.1 * i,
                  weight_decay=0.0001 * (i + 1), patience=3 + i, backbone_lr_scale=0.1 * (i + 1),
                  train_mode=["head", "finetune"][i], unfreeze_after=2 + i, crop=48 + i)


def test_a_narrow_terminal_leaves_columns_out_by_priority_instead_of_squeezing_them(ws):
    from rich.console import Console

    _many_settings(ws)
    console = Console(width=100, record=True)
    console.print(render_runs(runs_summary(ws), width=100))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "│ simple-cnn " in text and "┃ px ┃" in text  # not squeezed to nothing
    assert ("left out to fit 100 columns: settings that differ, time s, epochs, p"
            in " ".join(text.split()))
    headers = [c.header for c in render_runs(runs_summary(ws), width=100).columns]
    assert headers[:3] == ["run", "model", "px"] and "OOF AUC\n±95%" in headers


def test_piped_output_shows_every_column_at_full_width(ws):
    _many_settings(ws)
    r = runner.invoke(app, ["runs", "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) > 160 and "…" not in r.stdout
    for header in ("backbone_lr_scale", "train_mode", "unfreeze_after", "crop", "time s"):
        assert header in r.stdout, header


def test_public_scores_are_those_of_the_competition_named(ws):
    _scored(ws, 7, "run0", ["run0"], 0.85, 0.97, competition="other-contest")
    r = runner.invoke(app, ["runs", "-c", "other-contest", "--format", "json", "-w",
                            str(ws.root)])
    assert r.exit_code == 0, r.output
    public = {row["run"]: row["best_public"] for row in json.loads(r.stdout)}
    assert public == {"run0": 0.97, "run1": None, "stack-mean": None}
    assert {r["run"]: r["best_public"] for r in runs_summary(ws)}["run0"] == pytest.approx(0.83)
    r = runner.invoke(app, ["runs", "-c", "third-contest", "--plot", "-w", str(ws.root)])
    assert r.exit_code == 0 and "no scored submission with a CV yet" in r.output
