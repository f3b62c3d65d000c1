"""Tiny competition fixtures for tests and quick trials of the stand-in (no images needed)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from kfold.submission import write_submission
from kfold.workspace import Workspace


def make_competition(root: str | Path, *, n: int = 60, daily_limit: int = 5,
                     competition: str = "nexperia-synth", seed: int = 0,
                     candidates: list[tuple[str, float, float]] | None = None) -> Workspace:
    """A workspace with data/sample_submission.csv, data/solution.csv (a third Public) and
    candidate CSVs: (name, noise, cv) -> predictions = labels blurred by `noise`."""
    root = Path(root)
    ws = Workspace.init(root, competition=competition, daily_limit=daily_limit)
    rng = np.random.default_rng(seed)
    ids = [f"img_{i:04d}" for i in range(n)]
    y = (rng.random(n) < 0.3).astype(int)
    y[:2] = [0, 1]
    ws.data_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"id": ids, "label": 0.5}).to_csv(ws.data_dir / "sample_submission.csv",
                                                   index=False)
    usage = np.where(np.arange(n) % 3 == 0, "Public", "Private")
    usage[:2], usage[2:4] = "Public", ["Private", "Private"]
    y[2:4] = [0, 1]
    pd.DataFrame({"id": ids, "label": y, "Usage": usage}).to_csv(ws.data_dir / "solution.csv",
                                                                 index=False)
    for name, noise, cv in candidates or []:
        pred = np.clip(0.25 + 0.5 * y + rng.normal(0, noise, n), 0, 1)
        write_submission(ws, name, pd.DataFrame({"id": ids, "pred": pred}), cv,
                         {"runs": [name], "blender": None})
    return ws


def record_scored(ws: Workspace, name: str, ref: int, public: float,
                  private: float | None = None) -> None:
    """Pretend submissions/<name>.csv was submitted and Kaggle scored it."""
    from kfold.kaggle.client import RemoteSubmission
    from kfold.kaggle.flow import open_ledger, register_candidates
    from kfold.kaggle.ledger import utcnow
    from kfold.submission import file_sha256

    path = ws.submission_path(name)
    with open_ledger(ws) as led:
        register_candidates(ws, led)
        sha = file_sha256(path)
        cand = led.candidate(sha, name)
        res = led.reserve(ws.config.competition, sha, path.name, name, 99, name=name,
                          cv_auc=cand["cv_auc"], lineage=json.loads(cand["lineage"] or "null"))
        led.mark_submitted(res, ref)
        led.update_remote(ws.config.competition, RemoteSubmission(
            ref, utcnow(), path.name, name, "complete", public, private, None), adopt=False)


def write_kaggle_json(config_dir: str | Path, username: str = "tester",
                      key: str = "k3y-never-printed", mode: int = 0o600) -> Path:
    path = Path(config_dir) / "kaggle.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"username": username, "key": key}))
    os.chmod(path, mode)
    return path


def isolate_credentials(monkeypatch, tmp_path: Path) -> None:
    """Hide the caller's Kaggle credentials and config: HOME and KAGGLE_CONFIG_DIR point
    into `tmp_path`, and the credential and endpoint variables are unset."""
    for var in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN", "KF_KAGGLE_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "cfg"))


@contextmanager
def sandbox(tmp_path: Path, monkeypatch, candidates: list[tuple[str, float, float]],
            daily_limit: int = 5, **server_kw) -> Iterator[tuple]:
    """A workspace with `candidates`, a stand-in Kaggle serving it and a client of it:
    (ws, server, client); the server stops on exit."""
    from kfold.kaggle.client import KaggleClient
    from kfold.kaggle.sandbox import SandboxServer

    isolate_credentials(monkeypatch, tmp_path)
    write_kaggle_json(tmp_path / "cfg", username="tester")
    ws = make_competition(tmp_path / "ws", daily_limit=daily_limit, candidates=candidates)
    server = SandboxServer.from_workspace(ws, **{"score_delay_s": 0.0, **server_kw}).start()
    monkeypatch.setenv("KF_KAGGLE_ENDPOINT", server.url)
    try:
        yield ws, server, KaggleClient(ws.config.competition, backoff_s=0.01)
    finally:
        server.stop()
