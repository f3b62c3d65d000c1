"""Nothing submitted is ever lost: candidates are content-addressed and kf submit keeps the
exact bytes it uploads; plan and submissions point at the bytes that were scored."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from kfold.errors import KfError
from kfold.kaggle import flow
from kfold.kaggle.client import KaggleClient
from kfold.kaggle.ledger import Ledger
from kfold.kaggle.planner import make_plan
from kfold.kaggle.sandbox import SandboxServer
from kfold.submission import archive_path, content_path, file_sha256, write_submission
from tests.kaggle_helpers import isolate_credentials, make_competition, write_kaggle_json

CANDS = [("stack-mean", 0.15, 0.95), ("weak", 0.6, 0.80)]


@pytest.fixture
def env(tmp_path, monkeypatch):
    isolate_credentials(monkeypatch, tmp_path)
    write_kaggle_json(tmp_path / "cfg", username="tester")
    ws = make_competition(tmp_path / "ws", daily_limit=5, candidates=CANDS)
    server = SandboxServer.from_workspace(ws, score_delay_s=0.0).start()
    monkeypatch.setenv("KF_KAGGLE_ENDPOINT", server.url)
    yield ws, server, KaggleClient(ws.config.competition, backoff_s=0.01)
    server.stop()


def _rewrite(ws, name: str, cv: float, seed: int = 1) -> None:
    """What re-running `kf stack` does: the same name, other predictions, another CV."""
    sample = pd.read_csv(ws.data_dir / "sample_submission.csv", dtype={"id": str})
    pred = np.random.default_rng(seed).random(len(sample))
    write_submission(ws, name, pd.DataFrame({"id": sample["id"], "pred": pred}), cv,
                     {"runs": ["again"], "blender": "mean"})


def test_write_submission_keeps_the_old_content_it_replaces(tmp_path):
    ws = make_competition(tmp_path / "ws", candidates=CANDS)
    path = ws.submission_path("weak")
    old, old_sha = path.read_bytes(), file_sha256(path)
    _rewrite(ws, "weak", 0.5)
    assert file_sha256(path) != old_sha
    kept = archive_path(ws, old_sha)
    assert kept.read_bytes() == old
    side = pd.read_json(kept.with_suffix(".json"), typ="series")
    assert side["sha256"] == old_sha and side["cv_auc"] == pytest.approx(0.80)
    _rewrite(ws, "weak", 0.5)  # the same content again: nothing new to keep
    assert len(list(kept.parent.glob("*.csv"))) == 1


def test_rewriting_a_submitted_candidate_loses_nothing(env):
    ws, server, c = env
    res = flow.submit(ws, None, "first", client=c, wait=True, poll_s=0.05)
    assert res.file.name == "stack-mean.csv"
    submitted = res.file.read_bytes()
    assert res.archive.read_bytes() == submitted  # kf submit kept what it uploaded
    assert server.state.submissions[0].content == submitted
    assert server.state.submissions[0].file_name == "stack-mean.csv"  # Kaggle sees the name

    _rewrite(ws, "stack-mean", 0.99)  # kf stack again: the live file now holds other bytes
    assert res.file.read_bytes() != submitted

    with Ledger(ws.ledger_path) as led:
        row = dict(led.submissions(ws.config.competition)[0])
    assert (ws.submissions_dir / row["archive"]).read_bytes() == submitted
    assert content_path(ws, row["sha256"], res.file).read_bytes() == submitted

    view = flow.submissions_view(ws, client=c)
    scored = ws.root / view.rows[0]["bytes_at"]
    assert scored.read_bytes() == submitted and "archive" in view.rows[0]["bytes_at"]

    flow.submit(ws, ws.submission_path("weak"), "second", client=c, wait=True, poll_s=0.05)
    plan = make_plan(ws, client=c)
    live = [r for r in plan.rows if r.name == "stack-mean"]
    assert len(live) == 1 and live[0].cv == pytest.approx(0.99)  # the new version, once
    assert file_sha256(live[0].path) == file_sha256(res.file)
    # the final picks are the two scored files; the rewritten one by its ref and the name,
    # CV it was submitted with
    earlier = next(s for s in plan.final if s.ref == res.ref)
    assert earlier.public is not None and earlier.cv == pytest.approx(0.95)
    assert earlier.label == f"stack-mean (ref {res.ref})"


def test_submit_uploads_the_bytes_it_validated(env, monkeypatch):
    """A candidate rewritten while kf submit runs: the upload is the archived copy."""
    ws, server, c = env
    path = ws.submission_path("weak")
    original = path.read_bytes()
    upload = c.upload

    def rewrite_then_upload(p, message, **kw):
        _rewrite(ws, "weak", 0.1, seed=7)
        return upload(p, message, **kw)

    monkeypatch.setattr(c, "upload", rewrite_then_upload)
    flow.submit(ws, path, "m", client=c)
    assert server.state.submissions[0].content == original


def _website_upload(ws, c, tmp_path, name: str, seed: int) -> bytes:
    """A file called `name` made elsewhere (other predictions) and submitted on the website."""
    sample = pd.read_csv(ws.data_dir / "sample_submission.csv", dtype={"id": str})
    other = tmp_path / "laptop" / name
    other.parent.mkdir(exist_ok=True)
    sample.assign(label=np.random.default_rng(seed).random(len(sample))).to_csv(other, index=False)
    c.upload(other, "from my laptop")
    return other.read_bytes()


def test_a_website_submission_is_kept_as_scored_not_guessed_from_its_name(env, tmp_path):
    """'stack-mean.csv' submitted on the website from another machine is not the workspace's
    stack-mean.csv: its bytes are downloaded, archived and checked for duplicates."""
    ws, server, c = env
    data = _website_upload(ws, c, tmp_path, "stack-mean.csv", seed=3)
    view = flow.submissions_view(ws, client=c)
    (row,) = view.rows
    assert row["source"] == "remote" and (ws.root / row["bytes_at"]).read_bytes() == data
    assert "DownloadSubmission" in server.state.calls
    # the workspace's own stack-mean.csv was never submitted: not refused as a duplicate
    res = flow.submit(ws, ws.submission_path("stack-mean"), "mine", client=c, dry_run=True)
    assert res.status == "dry run"
    shuffled = tmp_path / "shuffled.csv"
    pd.read_csv(io.BytesIO(data), dtype={"id": str}).sample(frac=1, random_state=0).to_csv(
        shuffled, index=False)
    with pytest.raises(KfError, match="same predictions per id as stack-mean.csv"):
        flow.submit(ws, shuffled, "again", client=c, dry_run=True)


def test_a_download_that_is_not_a_csv_is_not_kept(env, tmp_path, monkeypatch):
    ws, server, c = env
    _website_upload(ws, c, tmp_path, "weak.csv", seed=4)
    monkeypatch.setattr(KaggleClient, "download_submission", lambda self, ref: b"<html>")
    (row,) = flow.submissions_view(ws, client=c).rows
    assert row["sha256"] is None and not list((ws.submissions_dir / "archive").glob("*.csv"))


def test_without_downloads_a_name_match_needs_the_same_size(env, tmp_path, monkeypatch):
    from kfold.kaggle.sandbox import api

    ws, server, c = env
    monkeypatch.delitem(api.HANDLERS, "DownloadSubmission")  # a server that refuses it
    _website_upload(ws, c, tmp_path, "weak.csv", seed=4)  # same name, other size
    (row,) = flow.submissions_view(ws, client=c).rows
    assert row["sha256"] is None and row["bytes_at"] is None
    c.upload(ws.submission_path("stack-mean"), "the workspace's own file")
    rows = flow.submissions_view(ws, client=c).rows
    assert rows[-1]["bytes_at"] == "submissions/stack-mean.csv"


def test_a_candidate_edited_by_hand_does_not_keep_the_old_cv(env):
    """The sidecar records the sha256 it describes: a CSV changed outside kf has no CV (its
    old CV belonged to other predictions), in the ledger and in a dry run."""
    ws, server, c = env
    path = ws.submission_path("weak")
    df = pd.read_csv(path, dtype={"id": str})
    df.iloc[:, 1] = 1 - df.iloc[:, 1]
    df.to_csv(path, index=False)
    with Ledger(ws.ledger_path) as led:
        flow.register_candidates(ws, led)
        assert led.candidate(file_sha256(path))["cv_auc"] is None
    res = flow.submit(ws, path, "", client=c, dry_run=True)
    assert res.cv_auc is None


def test_a_file_without_cv_is_not_simulated_from_the_oof_of_its_name(tmp_path):
    from kfold.bench.stack import write_workspace
    from kfold.kaggle.outlook import candidate_outlook

    ws = write_workspace(tmp_path, n_rows=200, n_runs=2, seed=1)
    outlook, notes = candidate_outlook(ws, {"run0": None}, n_splits=10)
    assert outlook is None and "run0: no CV known for this file" in notes[0]


def test_a_copied_workspace_finds_its_own_files_and_leaves_the_ledger_alone(env, tmp_path):
    """The ledger keeps candidate paths relative to submissions/: a copy of the workspace
    reads its own files, and planning there rewrites nothing."""
    import shutil

    from kfold.workspace import Workspace

    ws, server, c = env
    flow.submit(ws, None, "first", client=c, wait=True, poll_s=0.05)
    copy = Workspace.load(shutil.copytree(ws.root, tmp_path / "copy"))
    before = copy.ledger_path.read_bytes()
    make_plan(copy, offline=True)
    assert copy.ledger_path.read_bytes() == before
    with Ledger(copy.ledger_path) as led:
        paths = [cand["path"] for cand in led.candidates()]
    assert paths and all(p.startswith(str(copy.root.resolve())) for p in paths)
