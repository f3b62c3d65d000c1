"""Kaggle parity: every past submission (all pages), downloading an old submission, the usual
400/403/404 refusals as one line with the fix, and scriptable output (--format, --export)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from kagglesdk.competitions.types.competition_api_service import ApiListSubmissionsRequest
from typer.testing import CliRunner

from kfold.cli import app
from kfold.kaggle.client import KaggleClient
from kfold.kaggle.sandbox import SandboxServer
from tests.kaggle_helpers import isolate_credentials, make_competition, write_kaggle_json

CANDS = [("alpha", 0.15, 0.95), ("beta", 0.3, 0.91), ("gamma", 0.6, 0.85)]


@pytest.fixture
def env(tmp_path, monkeypatch):
    isolate_credentials(monkeypatch, tmp_path)
    write_kaggle_json(tmp_path / "cfg", username="parity")
    ws = make_competition(tmp_path / "ws", daily_limit=10, candidates=CANDS)
    servers = []

    def serve(**kw):
        server = SandboxServer.from_workspace(ws, score_delay_s=0.0, **kw).start()
        monkeypatch.setenv("KF_KAGGLE_ENDPOINT", server.url)
        servers.append(server)
        return server

    yield ws, serve
    for s in servers:
        s.stop()


def kf(ws, *args):
    return CliRunner().invoke(app, [*args, "-w", str(ws.root)])


def submit_all(ws):
    for name, _, _ in CANDS:
        r = kf(ws, "submit", str(ws.submission_path(name)), "-m", f"m-{name}", "--wait")
        assert r.exit_code == 0, r.output


def test_every_page_of_submissions_is_read(env):
    ws, serve = env
    server = serve()
    submit_all(ws)
    client = KaggleClient(ws.config.competition)
    assert len(client.submissions()) == 3
    server.state.calls.clear()
    page_size_one = list(client._pages("list", ApiListSubmissionsRequest, 1,
                                       "list_submissions", 10))
    assert len(page_size_one) == 3 and server.state.calls.count("ListSubmissions") == 3


def test_an_old_submission_downloads_byte_for_byte(env):
    ws, serve = env
    server = serve()
    submit_all(ws)
    sub = server.state.submissions[0]
    r = kf(ws, "submission", "download", str(sub.ref))
    assert r.exit_code == 0, r.output
    path = ws.submissions_dir / "downloads" / f"{sub.ref}-{sub.file_name}"
    assert path.read_bytes() == sub.content
    r = kf(ws, "submission", "download", "12345", "--out", str(ws.root / "x.csv"))
    assert r.exit_code == 2 and "submission 12345 of nexperia-synth could not be downloaded" in r.stderr
    assert "Submission not found" in r.stderr and "no submission of that ref" in r.stderr


@pytest.mark.parametrize("setup, args, expected", [
    ({"joined": False}, ["submit", "-m", "x"], "you have not joined"),
    ({"joined": False}, ["data", "download"], "Join Competition"),
    ({"rules_accepted": False}, ["submit", "-m", "x"], "rules of 'nexperia-synth' are not accepted"),
    ({"rules_accepted": False}, ["submissions", "--format", "json"], "/rules"),
    ({}, ["submissions", "--competition", "no-such-contest"], "no competition named 'no-such-contest'"),
])
def test_kaggle_refusals_are_one_line_saying_which_and_how_to_fix(env, setup, args, expected):
    ws, serve = env
    serve(**setup)
    r = kf(ws, *args)
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in r.output


def test_submissions_as_json_csv_and_export_with_lineage_and_hash(env):
    ws, serve = env
    serve()
    submit_all(ws)
    as_json = kf(ws, "submissions", "--format", "json")
    rows = json.loads(as_json.stdout)
    assert "quota: " in as_json.stderr and "left today (Kaggle:" in as_json.stderr
    assert [r["message"] for r in rows] == ["m-alpha", "m-beta", "m-gamma"]
    assert all(r["public_score"] is not None and len(r["sha256"]) == 64 for r in rows)
    assert rows[0]["lineage"] == {"runs": ["alpha"], "blender": None, "metric": "auc"}
    table = list(csv.DictReader(io.StringIO(kf(ws, "submissions", "--format", "csv").stdout)))
    assert [r["ref"] for r in table] == [str(r["ref"]) for r in rows]
    out = ws.root / "ledger.csv"
    r = kf(ws, "submissions", "--export", str(out))
    assert r.exit_code == 0 and "3 submissions" in r.stderr
    exported = list(csv.DictReader(out.open()))
    assert {"cv_auc", "public_score", "private_score", "message", "lineage", "sha256"} <= set(exported[0])
    assert json.loads(exported[0]["lineage"]) == {"runs": ["alpha"], "blender": None, "metric": "auc"}
    bad = kf(ws, "submissions", "--export", str(ws.root / "ledger.txt"))
    assert bad.exit_code == 2 and ".csv" in bad.stderr


def test_leaderboard_and_plan_as_json_and_csv(env):
    ws, serve = env
    serve()
    submit_all(ws)
    board = json.loads(kf(ws, "leaderboard", "--format", "json").stdout)
    assert board[0]["rank"] == 1 and {"team", "score", "ours"} <= set(board[0])
    assert any(r["ours"] for r in board)
    plan = json.loads(kf(ws, "plan", "--format", "json").stdout)
    assert plan["fit"]["n"] == 3 and len(plan["final"]) == 2
    assert {r["section"] for r in plan["candidates"]} <= {"candidate"}  # finals apart
    assert "Kaggle: 3 used today" in plan["quota"]
    fit = plan["fit"]  # 3 points: an offset, with its interval
    assert fit["offset_low"] < fit["intercept"] < fit["offset_high"] and "offset 95%" in fit["text"]
    rows = list(csv.DictReader(io.StringIO(kf(ws, "plan", "--format", "csv").stdout)))
    assert [r["section"] for r in rows if r["section"] == "final"] == ["final", "final"]


def test_a_404_on_the_competition_is_told_in_the_servers_words_with_the_slug(env):
    """Only a server saying the competition is not found makes it a wrong slug for sure."""
    ws, serve = env
    server = serve()
    server.fail_next(404, 1, "ListSubmissions")  # body: "sandbox: injected HTTP 404"
    r = kf(ws, "submissions", "--format", "json")
    assert r.exit_code == 2 and r.stdout == ""
    assert "the server says 'sandbox: injected HTTP 404'" in r.stderr
    assert "if 'nexperia-synth' is not the competition's slug" in r.stderr
    assert "no competition named" not in r.stderr and r.stderr.count("\n") == 1


NOT_SERVED = "method {} is not served by this server"


def test_a_download_the_server_does_not_serve_falls_back_on_the_archive_copy(env):
    ws, serve = env
    server = serve()
    submit_all(ws)
    sub = server.state.submissions[0]
    server.fail_next(404, 9, "DownloadSubmission", NOT_SERVED.format("DownloadSubmission"))
    r = kf(ws, "submission", "download", str(sub.ref))
    assert r.exit_code == 0, r.output
    assert "Kaggle did not send submission" in r.stderr and "archive copy" in r.stderr
    assert "is not served by this server" in r.stderr and "no such submission" not in r.stderr
    path = ws.submissions_dir / "downloads" / f"{sub.ref}-{sub.file_name}"
    assert path.read_bytes() == sub.content


def test_a_data_download_the_server_does_not_serve_says_so_and_leaves_no_data_folder(env, tmp_path):
    ws, serve = env
    server = serve()
    server.fail_next(404, 9, "DownloadDataFiles", NOT_SERVED.format("DownloadDataFiles"))
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "kfold.toml").write_text((ws.root / "kfold.toml").read_text())
    r = CliRunner().invoke(app, ["data", "download", "-w", str(fresh)])
    assert r.exit_code == 2 and "the server says 'method DownloadDataFiles is not served" in r.stderr
    assert "no competition named" not in r.stderr and r.stderr.count("\n") == 1
    assert not (fresh / "data").exists()


def test_a_server_gone_while_scoring_is_told_as_a_spent_slot_with_its_ref(env, monkeypatch):
    """The submission was accepted: the slot is spent and the ledger row stays pending."""
    ws, serve = env
    server = serve()
    upload = KaggleClient.upload

    def upload_then_vanish(self, *args, **kw):
        ref = upload(self, *args, **kw)
        server.stop()
        return ref

    monkeypatch.setattr(KaggleClient, "upload", upload_then_vanish)
    r = kf(ws, "submit", str(ws.submission_path("alpha")), "-m", "x", "--wait")
    (sub,) = server.state.submissions
    assert r.exit_code == 2 and f"submitted alpha.csv as ref {sub.ref}" in r.stderr
    assert "score is unknown" in r.stderr and "`kf submissions` will fetch it" in r.stderr
    assert "nothing was spent" not in r.stderr
    rows = json.loads(kf(ws, "submissions", "--offline", "--format", "json").stdout)
    assert [(row["ref"], row["status"]) for row in rows] == [(sub.ref, "pending")]


def test_submissions_on_many_small_pages_with_opaque_tokens(env, monkeypatch):
    """Kaggle caps the page size and its tokens are opaque: kf follows next_page_token."""
    import base64

    from kfold.kaggle.sandbox import api

    def capped(rows, body):
        start = int(base64.b64decode(body.get("pageToken") or "MA==") or 0)
        nxt = base64.b64encode(str(start + 2).encode()).decode() if start + 2 < len(rows) else ""
        return rows[start:start + 2], nxt

    ws, serve = env
    serve()
    submit_all(ws)
    monkeypatch.setattr(api, "_page", capped)
    as_json = kf(ws, "submissions", "--format", "json")
    rows = json.loads(as_json.stdout)
    assert "quota: " in as_json.stderr and "left today (Kaggle:" in as_json.stderr
    assert [r["message"] for r in rows] == ["m-alpha", "m-beta", "m-gamma"]


def test_empty_lists_are_still_parsable_csv(env):
    import pandas as pd

    ws, serve = env
    serve()
    for args in (["submissions", "--offline"], ["plan", "--offline"]):
        r = kf(ws, *args, "--format", "csv")
        assert r.exit_code == 0, r.output
        frame = pd.read_csv(io.StringIO(r.stdout))
        assert {"name"} <= set(frame.columns)


def test_plan_needs_kaggle_only_for_the_quota_and_says_why_it_fell_back(env):
    ws, serve = env
    serve(joined=False)
    r = kf(ws, "plan", "--format", "json")
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)
    assert "you have not joined" in plan["quota"] and len(plan["candidates"]) == 3
