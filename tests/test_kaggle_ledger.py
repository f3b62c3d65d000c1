"""The ledger keeps history: candidates (files kf wrote, which may change) apart from
submissions (what was submitted, as it was); a ledger written by an earlier kf migrates."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kfold.errors import KfError
from kfold.kaggle import flow
from kfold.kaggle.export import submission_records
from kfold.kaggle.ledger import MIGRATIONS, Ledger
from kfold.kaggle.planner import make_plan
from kfold.submission import write_submission
from tests.kaggle_helpers import sandbox

FIXTURE = Path(__file__).parent / "fixtures" / "ledger_v2.sqlite"  # written by schema 2's kf


@pytest.fixture
def old_ledger(tmp_path) -> Path:
    path = tmp_path / "submissions" / "ledger.sqlite"
    path.parent.mkdir()
    shutil.copyfile(FIXTURE, path)
    return path


def _rows(led: Ledger) -> list[dict]:
    return [dict(r) for r in led.submissions("synth-defects")]


def test_a_schema_2_ledger_migrates_with_its_submissions_named_as_submitted(old_ledger):
    with Ledger(old_ledger) as led:
        assert led.schema_version == len(MIGRATIONS) == 3
        rows = _rows(led)
        cands = {c["name"]: c for c in led.candidates()}
    assert [(r["ref"], r["name"], r["cv_auc"], r["status"], r["public_score"]) for r in rows] == [
        (101, "fold-mean", 0.8803, "complete", 0.9267),
        (102, "stack-mean", 0.88016, "complete", 0.9301),
        (103, None, None, "complete", 0.91)]  # made on the website: kf never knew its content
    assert json.loads(rows[0]["lineage"]) == {"kind": "fold-mean",
                                              "runs": ["efficientnet-lite0-seed1"]}
    assert rows[0]["message"] == "first try" and rows[0]["archive"] == "archive/aaaaaaaaaaaaaaaa.csv"
    assert set(cands) == {"fold-mean", "stack-mean"}
    assert cands["fold-mean"]["path"] == str(old_ledger.parent.resolve() / "fold-mean.csv")


def test_reading_an_old_ledger_migrates_a_copy_and_writes_nothing(old_ledger):
    before = old_ledger.read_bytes()
    with Ledger(old_ledger, read_only=True) as led:
        assert [r["name"] for r in _rows(led)][:2] == ["fold-mean", "stack-mean"]
    assert old_ledger.read_bytes() == before
    assert not Path(f"{old_ledger}-wal").exists()


def test_the_same_bytes_under_another_name_are_another_candidate(old_ledger):
    a = "a" * 64
    with Ledger(old_ledger) as led:
        led.add_candidate(a, old_ledger.parent / "stack-hillclimb.csv", "stack-hillclimb",
                          0.8725, {"kind": "stack", "blender": "hillclimb"}, None)
        assert {c["name"] for c in led.candidates() if c["sha256"] == a} == {
            "fold-mean", "stack-hillclimb"}
        assert led.candidate(a, "fold-mean")["cv_auc"] == 0.8803
        assert led.candidate(a)["name"] == "stack-hillclimb"  # the one registered last
        assert _rows(led)[0]["name"] == "fold-mean" and _rows(led)[0]["cv_auc"] == 0.8803


@pytest.mark.parametrize("column, value", [
    ("name", "stack-hillclimb"), ("cv_auc", 0.5), ("lineage", "{}"), ("message", "edited"),
    ("sha256", "c" * 64), ("file", "other.csv")])
def test_a_submitted_row_refuses_any_change_but_kaggles_answer(old_ledger, column, value):
    with Ledger(old_ledger) as led:
        with pytest.raises(sqlite3.IntegrityError, match="a submission is history"):
            led.db.execute(f"UPDATE submissions SET {column}=? WHERE ref=101", (value,))
        led.db.execute("UPDATE submissions SET private_score=0.93 WHERE ref=101")
        assert _rows(led)[0]["private_score"] == 0.93


def test_kaggle_answering_the_same_again_rewrites_nothing(old_ledger):
    from types import SimpleNamespace

    with Ledger(old_ledger) as led:
        before = _rows(led)[0]
        led.update_remote("synth-defects", SimpleNamespace(
            ref=101, status="complete", public_score=0.9267, private_score=None, error=""),
            adopt=False)
        assert _rows(led)[0] == before


# --- against the stand-in Kaggle ------------------------------------------------------------
@pytest.fixture
def env(tmp_path, monkeypatch):
    with sandbox(tmp_path, monkeypatch, [("fold-mean", 0.15, 0.8803), ("stack-mean", 0.3, 0.88)],
                 daily_limit=5) as env:
        yield env


def _raw(ws, ref: int) -> tuple:
    """The submission row exactly as stored (every column)."""
    db = sqlite3.connect(ws.ledger_path)
    try:
        return db.execute("SELECT * FROM submissions WHERE ref=?", (ref,)).fetchone()
    finally:
        db.close()


def test_a_restack_writing_the_submitted_bytes_again_changes_no_submission_row(env):
    """Hill climbing that picks one run writes that run's bytes under a stack's name: a new
    candidate, never a rename of what was submitted (its name, CV, lineage, plan entry)."""
    ws, _, c = env
    sub = flow.submit(ws, ws.submission_path("fold-mean"), "fold mean", client=c, wait=True,
                      poll_s=0.01)
    before = _raw(ws, sub.ref)
    preds = pd.read_csv(ws.submission_path("fold-mean"), dtype={"id": str})
    write_submission(ws, "stack-hillclimb", preds.rename(columns={"label": "pred"}), 0.8725,
                     {"kind": "stack", "blender": "hillclimb", "runs": ["fold-mean", "x"]})
    assert ws.submission_path("stack-hillclimb").read_bytes() == \
        ws.submission_path("fold-mean").read_bytes()

    view = flow.submissions_view(ws, client=c)
    plan = make_plan(ws, client=c)
    records = submission_records(view)
    assert _raw(ws, sub.ref) == before  # byte for byte, every column
    (row,) = records
    assert (row["name"], row["cv_auc"], row["lineage"]) == (
        "fold-mean", 0.8803, {"runs": ["fold-mean"], "blender": None, "metric": "auc"})
    pick = next(s for s in plan.final if s.ref == sub.ref)
    assert pick.label == f"fold-mean (ref {sub.ref})" and pick.cv == 0.8803
    assert "stack-hillclimb" not in " ".join(s.reason for s in plan.final)
    with Ledger(ws.ledger_path) as led:
        assert {cand["name"] for cand in led.candidates()} >= {"fold-mean", "stack-hillclimb"}


# --- property: no command rewrites history ---------------------------------------------------
# What each command writes under submissions/, through write_submission as they do: a run's
# fold mean (kf train), its retrain (kf retrain), a blend (kf stack); the contents are drawn
# from a few prediction vectors, so the same bytes come back under other names.
WRITERS = {
    "train": lambda run: (run, {"kind": "fold-mean", "runs": [run]}),
    "retrain": lambda run: (f"{run}-full", {"kind": "retrain", "runs": [run]}),
    "stack": lambda blender: (f"stack-{blender}", {"kind": "stack", "blender": blender,
                                                   "runs": ["run-a", "run-b"]}),
}
ARGS = {"train": ("run-a", "run-b"), "retrain": ("run-a", "run-b"),
        "stack": ("mean", "hillclimb")}
HISTORY = ("ref", "name", "sha256", "cv_auc", "lineage", "message", "file")

write_cmd = st.sampled_from(sorted(WRITERS)).flatmap(lambda cmd: st.tuples(
    st.just(cmd), st.sampled_from(ARGS[cmd]), st.integers(0, 2),
    st.sampled_from([0.81, 0.85, 0.9])))
submit_cmd = st.tuples(st.just("submit"), st.integers(0, 5), st.booleans())


def _run(ws, client, command, contents) -> None:
    """One command; a refusal (a duplicate) is a KfError like the command line's."""
    if command[0] == "submit":
        files = sorted(ws.submissions_dir.glob("*.csv"))
        if files:
            _, pick, force = command
            with contextlib.suppress(KfError):
                flow.submit(ws, files[pick % len(files)], f"try {pick}", client=client,
                            force=force)
        return
    cmd, arg, content, cv = command
    name, lineage = WRITERS[cmd](arg)
    write_submission(ws, name, contents[content], cv, lineage)


def _history(ws) -> dict[int, tuple]:
    with Ledger(ws.ledger_path, read_only=True) as led:
        return {r["ref"]: tuple(r[k] for k in HISTORY)
                for r in led.submissions(ws.config.competition) if r["ref"] is not None}


@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commands=st.lists(st.one_of(write_cmd, submit_cmd), min_size=2, max_size=6))
@example(commands=[("stack", "hillclimb", 0, 0.81), ("submit", 1, True)])  # issue 25's case
def test_no_sequence_of_stack_train_retrain_submit_changes_a_submission_row(
        commands, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seq")
    with pytest.MonkeyPatch.context() as mp, sandbox(tmp, mp, [], daily_limit=50) as (ws, _, c):
        ids = pd.read_csv(ws.data_dir / "sample_submission.csv", dtype={"id": str})["id"]
        rng = np.random.default_rng(0)
        contents = [pd.DataFrame({"id": ids, "pred": rng.random(len(ids)).round(4)})
                    for _ in range(3)]
        seen: dict[int, tuple] = {}
        for command in [("train", "run-a", 0, 0.85), ("submit", 0, False), *commands]:
            _run(ws, c, command, contents)
            now = _history(ws)
            assert {ref: now.get(ref) for ref in seen} == seen, command
            seen.update(now)
