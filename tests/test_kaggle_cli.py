"""The Kaggle commands on the command line; credentials; the stand-in; the demo loop."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from rich.console import Console
from typer.testing import CliRunner

from kfold.cli import app
from kfold.kaggle.client import KaggleClient
from kfold.kaggle.demo import run_competition_loop
from kfold.kaggle.sandbox import SANDBOX_USER, SandboxServer
from kfold.workspace import Workspace
from tests.kaggle_helpers import isolate_credentials, make_competition, write_kaggle_json

runner = CliRunner()
KEY = "s3cr3t-key-0123456789"
CANDS = [("alpha", 0.15, 0.95), ("beta", 0.3, 0.91), ("gamma", 0.6, 0.85)]


@pytest.fixture
def env(tmp_path, monkeypatch):
    isolate_credentials(monkeypatch, tmp_path)
    ws = make_competition(tmp_path / "ws", daily_limit=3, candidates=CANDS)
    server = SandboxServer.from_workspace(ws, score_delay_s=0.05).start()
    monkeypatch.setenv("KF_KAGGLE_ENDPOINT", server.url)
    yield ws, server, tmp_path
    server.stop()


def kf(*args):
    return runner.invoke(app, list(args))


def test_missing_credentials_is_one_clear_line(env):
    ws, server, _ = env
    result = kf("submissions", "-w", str(ws.root))
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) <= 2 and "KAGGLE_USERNAME and KAGGLE_KEY" in result.output
    assert "kaggle.json" in result.output and "Traceback" not in result.output
    assert server.state.calls == []


def test_submit_wait_list_leaderboard_plan_on_the_command_line(env):
    ws, _, tmp = env
    write_kaggle_json(tmp / "cfg", username="clihero", key=KEY)
    out = []
    r = kf("submit", "-m", "first", "--wait", "-w", str(ws.root))
    assert r.exit_code == 0, r.output
    assert "alpha.csv" in r.output and "complete, public" in r.output
    out.append(r.output)
    for args in (["submissions"], ["leaderboard", "--top", "3"], ["plan"]):
        r = kf(*args, "-w", str(ws.root))
        assert r.exit_code == 0, r.output
        out.append(r.output)
    assert "first" in out[1] and "2 submission(s) left today" in out[1]
    assert "clihero" in out[2] and "our rank" in out[2]
    assert "beta" in out[3] and "final selections" in out[3]
    assert all(KEY not in o for o in out)
    assert KEY not in ws.ledger_path.read_bytes().decode("latin-1")


def test_world_readable_kaggle_json_warns(env):
    ws, _, tmp = env
    write_kaggle_json(tmp / "cfg", key=KEY, mode=0o644)
    r = kf("submit", "-m", "x", "-w", str(ws.root))
    assert r.exit_code == 0, r.output
    assert "readable by other users" in r.output and "chmod 600" in r.output
    assert KEY not in r.output
    r = kf("submissions", "-w", str(ws.root))
    assert r.exit_code == 0 and "readable by other users" in r.output


def test_bad_csv_on_the_command_line(env):
    ws, server, tmp = env
    write_kaggle_json(tmp / "cfg")
    bad = tmp / "bad.csv"
    bad.write_text("id,label\nimg_0000,0.5\nimg_0000,0.7\n")
    r = kf("submit", str(bad), "-m", "bad", "-w", str(ws.root))
    assert r.exit_code == 2 and "duplicate id" in r.output and "Traceback" not in r.output
    assert server.state.calls == []


def test_env_credentials_and_access_token(env, monkeypatch):
    ws, server, _ = env
    monkeypatch.setenv("KAGGLE_USERNAME", "envuser")
    monkeypatch.setenv("KAGGLE_KEY", KEY)
    assert KaggleClient(ws.config.competition).username == "envuser"
    monkeypatch.delenv("KAGGLE_USERNAME")
    monkeypatch.delenv("KAGGLE_KEY")
    monkeypatch.setenv("KAGGLE_API_TOKEN", "tok-" + KEY)
    c = KaggleClient(ws.config.competition)
    assert c.username == SANDBOX_USER and "IntrospectToken" in server.state.calls
    assert c.limits().num_allowed_now == 3


def test_data_download_on_the_command_line(env, tmp_path):
    ws, _, tmp = env
    write_kaggle_json(tmp / "cfg")
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "kfold.toml").write_text((ws.root / "kfold.toml").read_text())
    r = kf("data", "download", "-w", str(fresh))
    # the fixture has no images, so the data check that follows the download fails clearly
    assert (fresh / "data" / "sample_submission.csv").exists(), r.output
    assert not (fresh / "data" / "solution.csv").exists()
    assert r.exit_code == 2 and "downloaded 1 file(s)" in r.output and "Traceback" not in r.output


def test_data_download_of_a_whole_competition_checks_it(tmp_path, monkeypatch, synth_data):
    """The success path: the stand-in serves real images, the download unpacks them and the
    data check that follows prints its report (exit 0, no traceback)."""
    isolate_credentials(monkeypatch, tmp_path)
    write_kaggle_json(tmp_path / "cfg")
    served = Workspace.init(tmp_path / "served")
    shutil.copytree(synth_data, served.data_dir)
    server = SandboxServer.from_workspace(served).start()
    monkeypatch.setenv("KF_KAGGLE_ENDPOINT", server.url)
    fresh = Workspace.init(tmp_path / "fresh")
    try:
        r = kf("data", "download", "-w", str(fresh.root))
    finally:
        server.stop()
    assert r.exit_code == 0, r.output
    assert "data check" in r.output and "training images" in r.output
    assert "60 (good" in r.output and "Traceback" not in r.output
    assert not (fresh.data_dir / "solution.csv").exists()
    some = next(served.data_dir.glob("train/*/*.jpg"))
    assert (fresh.data_dir / some.relative_to(served.data_dir)).read_bytes() == some.read_bytes()


def test_sandbox_serve_subprocess(env):
    ws, _, _ = env
    proc = subprocess.run(
        [sys.executable, "-c", "from kfold.cli import main; main()", "sandbox", "serve",
         "--duration", "0.5", "-w", str(ws.root)],
        capture_output=True, text=True, timeout=600, env={**os.environ}, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "export KF_KAGGLE_ENDPOINT=http://127.0.0.1:" in proc.stdout
    assert "stopped; 0 submission(s) received" in proc.stdout


def test_demo_competition_loop(env, monkeypatch):
    ws, _, _ = env
    monkeypatch.delenv("KF_KAGGLE_ENDPOINT")
    console = Console(record=True, width=120)
    summary = run_competition_loop(ws, console, n_submit=2, score_delay_s=0.05, poll_s=0.05)
    assert [s["file"] for s in summary["submitted"]] == ["alpha.csv", "beta.csv"]
    assert all(s["public"] is not None for s in summary["submitted"])
    assert summary["left_today"] == 1 and summary["our_rank"] is not None
    text = console.export_text()
    for needle in ("submissions to", "public leaderboard", "fit of public score", "final selections"):
        assert needle in text


def test_demo_loop_reruns_in_the_same_workspace(env, monkeypatch):
    ws, _, _ = env
    monkeypatch.delenv("KF_KAGGLE_ENDPOINT")
    console = Console(record=True, width=120)
    first = run_competition_loop(ws, console, n_submit=1, score_delay_s=0.01, poll_s=0.02)
    again = run_competition_loop(ws, console, n_submit=3, score_delay_s=0.01, poll_s=0.02)
    assert [s["file"] for s in first["submitted"]] == ["alpha.csv"]
    assert [s["file"] for s in again["submitted"]] == ["beta.csv", "gamma.csv"]
    assert again["left_today"] == 0
    third = run_competition_loop(ws, console, n_submit=1, score_delay_s=0.01, poll_s=0.02)
    assert third["submitted"] == [] and "stopping after 0 submission(s)" in console.export_text()


def test_a_format_name_in_any_case_and_the_required_message_marked_in_help(env):
    ws, _, _ = env
    r = kf("submissions", "--offline", "--format", "JSON", "-w", str(ws.root))
    assert r.exit_code == 0 and r.stdout.strip() == "[]"
    r = runner.invoke(app, ["submit", "--help"], env={"COLUMNS": "200"})
    line = next(ln for ln in r.output.splitlines() if "--message" in ln)
    assert "Required (except with --dry-run)" in line
