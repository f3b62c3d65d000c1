"""Today's quota comes from Kaggle (its limits and its list of our submissions) in kf plan,
kf submit and kf submissions; from the ledger, labelled offline, when Kaggle does not answer."""

from __future__ import annotations

import pytest
from kaggle_helpers import isolate_credentials, make_competition, write_kaggle_json
from typer.testing import CliRunner

from kfold.cli import app
from kfold.kaggle import flow
from kfold.kaggle.client import KaggleClient
from kfold.kaggle.planner import make_plan
from kfold.kaggle.quota import OFFLINE
from kfold.kaggle.sandbox import SandboxServer

CANDS = [("good", 0.15, 0.95), ("ok", 0.3, 0.90), ("weak", 0.6, 0.80)]


@pytest.fixture
def env(tmp_path, monkeypatch):
    """kfold.toml allows 5 a day; Kaggle allows 2."""
    isolate_credentials(monkeypatch, tmp_path)
    write_kaggle_json(tmp_path / "cfg", username="tester")
    ws = make_competition(tmp_path / "ws", daily_limit=5, candidates=CANDS)
    server = SandboxServer.from_workspace(ws, daily_limit=2, score_delay_s=0.0).start()
    monkeypatch.setenv("KF_KAGGLE_ENDPOINT", server.url)
    yield ws, server, KaggleClient(ws.config.competition, backoff_s=0.01)
    server.stop()


def test_plan_counts_slots_from_kaggle_and_merges_website_submissions(env):
    ws, server, c = env
    assert make_plan(ws, client=c).slots_left == 2  # not the ledger's 5
    c.upload(ws.submission_path("weak"), "on the website")  # bypasses the ledger
    plan = make_plan(ws, client=c)
    assert plan.slots_left == 1 and plan.quota.added == 1 and plan.quota.online
    assert [r.name for r in plan.rows if r.today] == ["good"]
    assert "weak" not in [r.name for r in plan.rows]  # merged: it is submitted now
    assert "1 submission(s) left today (Kaggle: 1 used today, allows 1 more" in plan.quota.text()


def test_submissions_view_quota_is_kaggles(env):
    ws, server, c = env
    c.upload(ws.submission_path("weak"), "on the website")
    view = flow.submissions_view(ws, client=c)
    assert len(view.rows) == 1 and view.rows[0]["source"] == "remote"
    assert view.quota.used_today == 1 and view.quota.left == 1


def test_server_down_plan_says_offline(env):
    ws, server, c = env
    server.stop()
    plan = make_plan(ws, client=c)
    assert not plan.quota.online and plan.slots_left == 5
    assert plan.quota.text().startswith(f"5 submission(s) left today ({OFFLINE} (cannot reach")


def test_dry_run_spends_nothing(env):
    ws, server, c = env
    res = flow.submit(ws, None, "", dry_run=True, client=c)
    assert res.status == "dry run" and res.ref is None and res.file.name == "good.csv"
    assert res.left_today == 2 and res.quota.online
    assert "StartSubmissionUpload" not in server.state.calls
    assert flow.submissions_view(ws, client=c).rows == []
    server.stop()  # offline, a dry run still validates and says where the figure comes from
    res = flow.submit(ws, None, "", dry_run=True, client=c)
    assert not res.quota.online and res.left_today == 5


def test_cli_dry_run_and_offline_plan(env):
    ws, server, _ = env
    runner = CliRunner()
    r = runner.invoke(app, ["submit", "--dry-run", "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    assert "dry run: good.csv" in r.output and "nothing was uploaded" in r.output
    assert "2 submission(s) left today (Kaggle" in r.output
    r = runner.invoke(app, ["plan", "--offline", "-w", str(ws.root)])
    assert r.exit_code == 0 and OFFLINE in r.output, r.output
    assert server.state.calls.count("GetSubmissionLimits") == 1  # only the dry run asked
