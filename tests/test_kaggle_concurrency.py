"""Several `kf submit` processes at once, and one killed mid-upload, against the stand-in."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from kfold.kaggle import flow
from kfold.kaggle.client import KaggleClient
from kfold.kaggle.ledger import Ledger
from kfold.kaggle.sandbox import SandboxServer
from tests.kaggle_helpers import make_competition, write_kaggle_json

CANDS = [(f"c{i}", 0.2 + 0.1 * i, 0.95 - 0.01 * i) for i in range(5)]
KF = [sys.executable, "-c", "from kfold.cli import main; main()"]


def _env(tmp_path, server):
    env = {k: v for k, v in os.environ.items()
           if k not in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN")}
    env.update(HOME=str(tmp_path / "home"), KAGGLE_CONFIG_DIR=str(tmp_path / "cfg"),
               KF_KAGGLE_ENDPOINT=server.url, KF_WORKSPACE=str(tmp_path / "ws"))
    return env


@pytest.fixture
def setup(tmp_path, monkeypatch):
    write_kaggle_json(tmp_path / "cfg", username="racer")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "cfg"))
    servers = []

    def make(ledger_limit: int, server_limit: int, delay_s: float = 0.0):
        ws = make_competition(tmp_path / "ws", daily_limit=ledger_limit, candidates=CANDS)
        server = SandboxServer.from_workspace(ws, daily_limit=server_limit, delay_s=delay_s)
        servers.append(server.start())
        monkeypatch.setenv("KF_KAGGLE_ENDPOINT", server.url)
        return ws, server, _env(tmp_path, server)

    yield make
    for s in servers:
        s.stop()


@pytest.mark.parametrize("ledger_limit,server_limit", [(2, 10), (5, 2)],
                         ids=["ledger-limit-2", "kaggle-limit-2"])
def test_concurrent_submits_never_exceed_the_limit(setup, ledger_limit, server_limit):
    ws, server, env = setup(ledger_limit, server_limit, delay_s=0.05)
    procs = [subprocess.Popen([*KF, "submit", str(ws.submission_path(f"c{i}")), "-m", f"p{i}"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(4)]
    outs = [p.communicate(timeout=600) for p in procs]  # only a hang takes this long
    codes = [p.returncode for p in procs]
    assert sorted(codes) == [0, 0, 2, 2], outs
    for code, (_, err) in zip(codes, outs):
        if code:
            assert "limit" in err and "Traceback" not in err, err
            assert "0 left today" in err and "allows 1 more" not in err, err
    # each winner's "left today" is the count its own slot was taken from: 1, then 0
    lefts = sorted(int(re.search(r"(\d+) submission\(s\) left today", out).group(1))
                   for code, (out, _) in zip(codes, outs) if code == 0)
    assert lefts == [0, 1], outs
    assert len(server.state.submissions) == 2
    with Ledger(ws.ledger_path) as led:
        rows = led.submissions(ws.config.competition)
        assert {r["ref"] for r in rows} == {s.ref for s in server.state.submissions}
        assert {r["status"] for r in rows} <= {"pending", "complete"}
        assert led.used_today(ws.config.competition) == 2


def test_killed_mid_upload_leaves_a_consistent_ledger(setup):
    ws, server, env = setup(2, 2)
    server.hold("upload")  # the child's upload waits until it is killed, however slow it is
    proc = subprocess.Popen([*KF, "submit", "-m", "doomed"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600  # only a hang gets this far
    reserved = False
    while time.monotonic() < deadline and proc.poll() is None and not reserved:
        if ws.ledger_path.exists():
            try:
                db = sqlite3.connect(ws.ledger_path, timeout=1)
                reserved = db.execute("SELECT COUNT(*) FROM submissions WHERE status='reserved'"
                                      ).fetchone()[0] == 1
                db.close()
            except sqlite3.OperationalError:
                pass
        time.sleep(0.02)
    assert reserved, "the child never reserved a slot"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    server.release()
    assert server.state.submissions == []  # the upload never completed
    client = KaggleClient(ws.config.competition, backoff_s=0.01)
    view = flow.submissions_view(ws, client=client)
    assert view.rows == [] and view.quota.used_today == 0 and view.quota.left == 2
    # the dead process's slot is back: both of today's slots can still be used
    flow.submit(ws, None, "one", client=client)
    flow.submit(ws, None, "two", client=client)
    with Ledger(ws.ledger_path) as led:
        rows = led.submissions(ws.config.competition)
        assert [r["status"] for r in rows] == ["pending", "pending"]
        assert {r["ref"] for r in rows} == {s.ref for s in server.state.submissions}


def test_killed_after_kaggle_took_it_is_recovered_not_lost(setup):
    """A process that died between CreateSubmission and recording the ref: the next kf
    command finds the submission on Kaggle and completes the ledger row."""
    ws, _, _ = setup(2, 2)
    client = KaggleClient(ws.config.competition, backoff_s=0.01)
    path = ws.submission_path("c0")
    from kfold.submission import file_sha256

    with Ledger(ws.ledger_path) as led:
        flow.register_candidates(ws, led)
        sha = file_sha256(path)
        res = led.reserve(ws.config.competition, sha, path.name, "lost", 2, name="c0",
                          cv_auc=led.candidate(sha, "c0")["cv_auc"])
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout.strip()
        led.db.execute("UPDATE submissions SET pid=? WHERE id=?", (int(dead), res.id))
    ref = client.upload(path, "lost")  # Kaggle has it; the ledger only has the reservation
    view = flow.submissions_view(ws, client=client)
    assert [(r["ref"], r["source"], r["sha256"]) for r in view.rows] == [
        (ref, "kf", file_sha256(path))]
    assert view.quota.used_today == 1 and view.rows[0]["cv_auc"] == pytest.approx(0.95)
    with pytest.raises(Exception, match="already submitted"):
        flow.submit(ws, path, "again", client=client)
