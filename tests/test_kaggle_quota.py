"""Today's quota comes from Kaggle (its limits and its list of our submissions) in kf plan,
kf submit and kf submissions; from the ledger, labelled offline, when Kaggle does not answer."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from kfold.cli import app
from kfold.errors import KfError
from kfold.kaggle import flow
from kfold.kaggle.client import KaggleClient
from kfold.kaggle.planner import make_plan
from kfold.kaggle.quota import OFFLINE
from kfold.kaggle.sandbox import SandboxServer
from tests.kaggle_helpers import isolate_credentials, make_competition, write_kaggle_json

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


def test_kagglesdk_environment_switch_is_honoured(env, monkeypatch):
    """KAGGLE_API_ENVIRONMENT (kagglesdk's own switch, as for the kaggle CLI) picks the host
    when KF_KAGGLE_ENDPOINT is unset; here TEST's host is pointed at the stand-in."""
    from kagglesdk.kaggle_env import KaggleEnv, _env_to_endpoint

    ws, server, _ = env
    monkeypatch.delenv("KF_KAGGLE_ENDPOINT")
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "TEST")
    monkeypatch.setitem(_env_to_endpoint, KaggleEnv.TEST, server.url)
    c = KaggleClient(ws.config.competition, backoff_s=0.01)
    assert c.where == server.url and c.limits().num_allowed_now == 2
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "NOWHERE")
    with pytest.raises(KfError, match="KAGGLE_API_ENVIRONMENT='NOWHERE'"):
        KaggleClient(ws.config.competition)


def test_a_server_without_the_limits_call_counts_from_its_list(env, monkeypatch):
    """GetSubmissionLimits answered 404 (a server that lacks it): the quota is the ledger
    merged with Kaggle's list, online, and the line says the limits are unavailable."""
    from kfold.kaggle.sandbox import api

    ws, server, c = env
    monkeypatch.delitem(api.HANDLERS, "GetSubmissionLimits")
    c.upload(ws.submission_path("weak"), "on the website")
    plan = make_plan(ws, client=c)
    assert plan.quota.online and plan.quota.used_today == 1 and plan.slots_left == 4
    assert "submission limits are unavailable (HTTP 404)" in plan.quota.text()
    res = flow.submit(ws, ws.submission_path("good"), "m", client=c)
    assert res.ref is not None and res.left_today == 3


def test_a_server_ignoring_page_tokens_is_read_once(env, monkeypatch):
    from kfold.kaggle.sandbox import api

    ws, server, c = env
    c.upload(ws.submission_path("weak"), "on the website")
    monkeypatch.setattr(api, "_page", lambda rows, body: (rows, "always-the-same"))
    assert len(c.submissions()) == 1
    assert server.state.calls.count("ListSubmissions") == 2
