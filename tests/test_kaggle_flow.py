"""Submit, score, list, leaderboard through the real kaggle client against the stand-in."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from kfold.errors import KfError
from kfold.kaggle import flow
from kfold.kaggle.client import KaggleClient, KaggleHttpError, KaggleUnreachable
from kfold.kaggle.ledger import MIGRATIONS, Ledger
from kfold.kaggle.sandbox import SandboxServer
from tests.kaggle_helpers import isolate_credentials, make_competition, write_kaggle_json

CANDS = [("good", 0.15, 0.95), ("ok", 0.3, 0.90), ("weak", 0.6, 0.80), ("noisy", 1.0, 0.70)]


@pytest.fixture
def env(tmp_path, monkeypatch):
    isolate_credentials(monkeypatch, tmp_path)
    write_kaggle_json(tmp_path / "cfg", username="tester")
    ws = make_competition(tmp_path / "ws", daily_limit=5, candidates=CANDS)
    server = SandboxServer.from_workspace(ws, daily_limit=2, score_delay_s=0.05).start()
    monkeypatch.setenv("KF_KAGGLE_ENDPOINT", server.url)
    yield ws, server
    server.stop()


def client(ws, **kw):
    return KaggleClient(ws.config.competition, backoff_s=0.01, **kw)


def ledger_rows(ws):
    with Ledger(ws.ledger_path) as led:
        return [dict(r) for r in led.submissions(ws.config.competition)]


def test_submit_wait_scores_and_records(env):
    ws, server = env
    res = flow.submit(ws, None, "best by CV", wait=True, client=client(ws), poll_s=0.05)
    assert res.file.name == "good.csv" and res.cv_auc == pytest.approx(0.95)
    assert res.status == "complete" and 0.5 < res.public_score <= 1.0
    # the score the stand-in computed is the AUC on the Public ids of the solution
    from sklearn.metrics import roc_auc_score

    sol = pd.read_csv(ws.data_dir / "solution.csv", dtype={"id": str})
    sub = pd.read_csv(res.file, dtype={"id": str}).merge(sol, on="id", suffixes=("", "_y"))
    pub = sub[sub.Usage == "Public"]
    assert res.public_score == pytest.approx(roc_auc_score(pub.label_y, pub.label), abs=1e-5)
    rows = ledger_rows(ws)
    assert len(rows) == 1 and rows[0]["ref"] == res.ref and rows[0]["status"] == "complete"
    assert rows[0]["public_score"] == pytest.approx(res.public_score)
    assert server.state.calls.count("CreateSubmission") == 1
    assert server.submissions_today()[0].description == "best by CV"


def test_default_file_is_next_best_unsubmitted(env):
    ws, _ = env
    c = client(ws)
    assert flow.submit(ws, None, "one", client=c).file.name == "good.csv"
    assert flow.submit(ws, None, "two", client=c).file.name == "ok.csv"


def test_private_scores_hidden_like_kaggle(env):
    ws, server = env
    server.state.reveal_private = False
    res = flow.submit(ws, None, "m", wait=True, client=client(ws), poll_s=0.05)
    assert res.public_score is not None and res.private_score is None
    assert ledger_rows(ws)[0]["private_score"] is None


def test_list_and_leaderboard(env):
    ws, _ = env
    c = client(ws)
    res = flow.submit(ws, None, "m", wait=True, client=c, poll_s=0.05)
    view = flow.submissions_view(ws, client=c)
    assert [r["ref"] for r in view.rows] == [res.ref]
    q = view.quota
    assert q.used_today == 1 and q.kaggle_allowed == 1 and q.left == 1 and q.online
    lb = flow.leaderboard(ws, top=5, client=c)
    assert lb.our_team == "tester" and lb.our_rank is not None and len(lb.top) == 5
    assert lb.our_score == pytest.approx(res.public_score, abs=1e-5)
    assert lb.png is not None and lb.png.read_bytes()[:4] == b"\x89PNG"
    flow.leaderboard(ws, client=c)
    with Ledger(ws.ledger_path) as led:
        assert len(led.snapshots(ws.config.competition)) == 2


def test_limit_reached_refuses_before_upload(env):
    ws, server = env
    c = client(ws)
    flow.submit(ws, None, "1", client=c)
    flow.submit(ws, None, "2", client=c)
    starts = server.state.calls.count("StartSubmissionUpload")
    with pytest.raises(KfError, match=r"daily submission limit reached.*resets at 00:00 UTC"):
        flow.submit(ws, None, "3", client=c)
    assert server.state.calls.count("StartSubmissionUpload") == starts
    assert len(ledger_rows(ws)) == 2


def test_ledger_limit_alone_refuses(env):
    ws, server = env
    server.state.daily_limit = 10  # Kaggle would allow more; the ledger's limit (1) must hold
    import dataclasses

    ws = dataclasses.replace(ws, config=dataclasses.replace(ws.config, daily_limit=1))
    flow.submit(ws, None, "1", client=client(ws))
    with pytest.raises(KfError, match=r"1 used or in flight today \(limit 1\)"):
        flow.submit(ws, None, "2", client=client(ws))


def test_duplicate_content_refused_unless_forced(env, tmp_path):
    ws, server = env
    c = client(ws)
    res = flow.submit(ws, None, "first", client=c)
    copy = tmp_path / "copy.csv"
    copy.write_bytes(res.file.read_bytes())
    earlier = rf"{res.file.name} \(ref {res.ref}, submitted as '{res.file.stem}', "
    with pytest.raises(KfError, match=rf"already submitted to \S+ as {earlier}"):
        flow.submit(ws, copy, "again", client=c)
    assert len(server.state.submissions) == 1
    flow.submit(ws, copy, "again", client=c, force=True)
    assert len(server.state.submissions) == 2


def _sample(ws):
    return pd.read_csv(ws.data_dir / "sample_submission.csv", dtype={"id": str})


BAD = {
    "wrong columns": (lambda s: s.rename(columns={"label": "target"}), "columns"),
    "missing ids": (lambda s: s.iloc[3:], r"3 id\(s\) missing"),
    "unknown ids": (lambda s: s.assign(id=["zz"] + list(s.id[1:])), "unknown id"),
    "duplicate ids": (lambda s: pd.concat([s, s.iloc[:2]]), r"2 duplicate id\(s\)"),
    "NaN values": (lambda s: s.assign(label=[np.nan] * 3 + [0.5] * (len(s) - 3)),
                   r"3 value\(s\) in 'label' missing"),
    "out of range": (lambda s: s.assign(label=[1.5, -0.1] + [0.5] * (len(s) - 2)),
                     r"2 value\(s\).*outside \[0, 1\]"),
    "not numbers": (lambda s: s.assign(label=["high"] + [0.5] * (len(s) - 1)), "not numbers"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_csv_is_refused_and_nothing_is_spent(env, tmp_path, kind):
    ws, server = env
    make, pattern = BAD[kind]
    path = tmp_path / "bad.csv"
    make(_sample(ws)).to_csv(path, index=False)
    with pytest.raises(KfError, match=pattern):
        flow.submit(ws, path, "bad", client=client(ws))
    assert server.state.calls == [] and ledger_rows(ws) == []


def test_empty_and_missing_files(env, tmp_path):
    ws, server = env
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(KfError, match="not a readable CSV"):
        flow.submit(ws, tmp_path / "empty.csv", "x", client=client(ws))
    with pytest.raises(KfError, match="no such file"):
        flow.submit(ws, tmp_path / "nope.csv", "x", client=client(ws))
    assert server.state.calls == []


def test_server_errors_then_success(env):
    ws, server = env
    server.fail_next(503, 1, "GetSubmissionLimits")
    server.fail_next(429, 2, "StartSubmissionUpload")
    server.fail_next(500, 1, "upload")
    server.fail_next(502, 2, "CreateSubmission")
    res = flow.submit(ws, None, "through the storm", client=client(ws))
    assert res.ref and len(server.state.submissions) == 1
    assert ledger_rows(ws)[0]["status"] == "pending"


def test_persistent_server_error_gives_the_slot_back(env):
    ws, server = env
    c = client(ws, retries=2)
    server.fail_next(500, 2, "CreateSubmission")  # both attempts fail
    with pytest.raises(KaggleHttpError, match="HTTP 500"):
        flow.submit(ws, None, "doomed", client=c)
    assert ledger_rows(ws) == []
    flow.submit(ws, None, "1", client=c)
    flow.submit(ws, None, "2", client=c)  # both slots still there


def test_other_errors_are_one_line(env):
    ws, server = env
    server.fail_next(403, 1, "GetSubmissionLimits")
    with pytest.raises(KaggleHttpError, match="HTTP 403.*rules") as err:
        flow.submit(ws, None, "x", client=client(ws))
    assert "\n" not in str(err.value)
    assert "GetSubmissionLimits" not in server.state.calls  # the injected 403 was not retried
    with pytest.raises(KaggleHttpError, match="HTTP 404.*slug"):
        KaggleClient("no-such-contest", backoff_s=0.01).limits()


def test_network_down_records_nothing(env):
    ws, server = env
    c = client(ws)
    server.stop()
    with pytest.raises(KaggleUnreachable, match="nothing was spent"):
        flow.submit(ws, None, "offline", client=c)
    assert ledger_rows(ws) == []
    view = flow.submissions_view(ws, client=c)
    assert not view.quota.online and view.quota.left == 5
    assert "offline: from the local ledger" in view.quota.text()


def test_website_submissions_are_merged_automatically(env):
    ws, _ = env
    c = client(ws)
    # a submission made "on the website": straight through the client, bypassing the ledger
    path = ws.submissions_dir / "weak.csv"
    ref = c.upload(path, "from the website")
    view = flow.submissions_view(ws, client=c)
    assert view.quota.added == 1 and view.rows[0]["ref"] == ref and view.rows[0]["source"] == "remote"
    assert view.rows[0]["cv_auc"] == pytest.approx(0.80)  # matched to its candidate
    with pytest.raises(KfError, match="limit reached"):  # it used a slot
        flow.submit(ws, None, "a", client=c)
        flow.submit(ws, None, "b", client=c)


def test_ledger_is_wal_with_migrations(env):
    ws, _ = env
    with Ledger(ws.ledger_path) as led:
        assert led.schema_version == len(MIGRATIONS)
    db = sqlite3.connect(ws.ledger_path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(KfError, match="newer kf"):
        Ledger(ws.ledger_path)


def test_download_unpacks_into_data(env, tmp_path):
    ws, _ = env
    from PIL import Image

    images = ["train/good_0/g1.jpg", "train/good_0/g2.jpg", "train/bad_1/b1.jpg", "test/t1.jpg"]
    for i, rel in enumerate(images):
        (ws.data_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("L", (8, 8), color=40 * i).save(ws.data_dir / rel)
    (ws.data_dir / "sample_submission.csv").write_text("id,label\nt1,0.5\n")  # = test/
    fresh = make_competition(tmp_path / "fresh")
    for p in (fresh.data_dir / "sample_submission.csv", fresh.data_dir / "solution.csv"):
        p.unlink()
    res = flow.download_data(fresh, client=client(ws))
    got = sorted(p.relative_to(fresh.data_dir).as_posix() for p in res.files)
    assert got == sorted(images + ["sample_submission.csv"])  # never the solution
    for rel in images:
        assert (fresh.data_dir / rel).read_bytes() == (ws.data_dir / rel).read_bytes()
    assert not list(fresh.data_dir.glob(".kf-download-*")) and not list(fresh.data_dir.glob("*.zip"))
    assert res.check is None or res.check.n_train == 3
