"""What the stand-in competition holds: its solution, the uploads and the submissions.

Every method that reads or changes the lists takes `lock`, so the threaded HTTP server can
call them from any request thread. A submission is scored lazily, `score_delay_s` after it
was made (status PENDING until then), as Kaggle's scoring queue would.
"""

from __future__ import annotations

import io
import secrets
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from kfold.kaggle.sandbox.code import CodeCompetition
from kfold.kaggle.sandbox.scoring import Scorer
from kfold.scoring import get_metric

SANDBOX_USER = "sandbox-user"


def utcnow() -> datetime:
    """Naive UTC, as kagglesdk's DateTimeSerializer reads and writes dates."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class Submission:
    ref: int
    team: str
    date: datetime
    file_name: str
    description: str
    content: bytes
    status: str = "PENDING"
    public: float | None = None
    private: float | None = None
    error: str | None = None


class LimitReached(Exception):
    """CreateSubmission over the team's daily allowance."""


@dataclass
class SandboxState:
    """Everything the stand-in knows: the competition, its solution, and what was submitted."""

    competition: str
    solution: pd.DataFrame
    scorer: Scorer  # the competition's metric and the task it reads uploads as
    data_dir: Path | None
    daily_limit: int = 5
    score_delay_s: float = 0.3
    rivals: int = 12
    reveal_private: bool = True  # Kaggle hides private scores until the end; the demo shows them
    joined: bool = True  # False: answer participant calls as Kaggle does before "Join Competition"
    rules_accepted: bool = True  # False: ... before the rules are accepted
    code_competition: bool = False  # True: submissions come from notebooks (sandbox.code)
    code: CodeCompetition = field(default_factory=CodeCompetition)
    seed: int = 0
    submissions: list[Submission] = field(default_factory=list)
    uploads: dict[str, bytes | None] = field(default_factory=dict)
    upload_names: dict[str, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    # refs are unique across stand-in runs too (a workspace's ledger outlives the server)
    ref_base: int = field(default_factory=lambda: int(time.time() * 1000) * 100)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)

    # --- queries -------------------------------------------------------------------------
    def submissions_of(self, team: str) -> list[Submission]:
        """The team's submissions, newest first (Kaggle's default sort)."""
        with self.lock:
            mine = [s for s in self.submissions if s.team == team]
        return sorted(mine, key=lambda s: s.date, reverse=True)

    def submissions_today(self, team: str | None = None) -> list[Submission]:
        today = utcnow().date()
        with self.lock:
            return [s for s in self.submissions
                    if s.date.date() == today and (team is None or s.team == team)]

    def find(self, ref: int, team: str) -> Submission | None:
        with self.lock:
            return next((s for s in self.submissions if s.ref == ref and s.team == team), None)

    def refresh(self, sub: Submission) -> Submission:
        """Score `sub` once its delay has passed; returns it."""
        with self.lock:
            if sub.status != "PENDING":
                return sub
            if (utcnow() - sub.date).total_seconds() < self.score_delay_s:
                return sub
            try:
                sub.public, sub.private = self.scorer.score(sub.content, self.solution)
                sub.status = "COMPLETE"
            except ValueError as exc:
                sub.status, sub.error = "ERROR", str(exc)
            return sub

    # --- the submission steps ------------------------------------------------------------
    def start_upload(self, file_name: str | None) -> str:
        """A fresh blob token for the client to PUT its file to."""
        token = secrets.token_hex(12)
        with self.lock:
            self.uploads[token] = None
            self.upload_names[token] = file_name or "submission.csv"
        return token

    def put_upload(self, token: str, content: bytes) -> bool:
        """Store the bytes of an upload; False when the token was never handed out."""
        with self.lock:
            if token not in self.uploads:
                return False
            self.uploads[token] = content
            return True

    def is_uploaded(self, token: str) -> bool:
        with self.lock:
            return self.uploads.get(token) is not None

    def create_submission(self, token: str, team: str, description: str) -> Submission:
        """Turn an upload into a submission; LimitReached when today's allowance is spent."""
        with self.lock:
            sub = self.add_submission(team, self.upload_names.get(token, "submission.csv"),
                                      description, self.uploads[token])
            del self.uploads[token]
            self.upload_names.pop(token, None)
            return sub

    def add_submission(self, team: str, file_name: str, description: str,
                       content: bytes) -> Submission:
        """A new submission of `content` (an upload's or a kernel's output); LimitReached
        when today's allowance is spent."""
        with self.lock:
            if len(self.submissions_today(team)) >= self.daily_limit:
                raise LimitReached(self.daily_limit)
            sub = Submission(ref=self.ref_base + len(self.submissions) + 1, team=team,
                             date=utcnow(), file_name=file_name, description=description,
                             content=content)
            self.submissions.append(sub)
            return sub

    # --- the leaderboard and the data ----------------------------------------------------
    def rival_rows(self) -> list[dict]:
        """Made-up rival teams (fixed by `seed`), submitting over the last three days."""
        rng = np.random.default_rng(self.seed)
        base = utcnow().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
        scores = rng.uniform(*self._rival_range(), self.rivals)
        return [{"team_id": 1000 + i, "team": f"rival-{i:02d}",
                 "date": base + timedelta(hours=int(h)), "score": float(s)}
                for i, (s, h) in enumerate(zip(scores, rng.integers(0, 60, len(scores))))]

    def _rival_range(self) -> tuple[float, float]:
        """Scores a strong field posts: 0.80-0.995 where higher is better (AUC, accuracy, F1,
        kappa, MAP), 30-90% of a constant guess's score (the sample submission's) where lower
        is (log loss, RMSE, error), so a lower-is-better leaderboard is not led by 0.9s."""
        if self.metric.higher_is_better:
            return 0.80, 0.995
        guess = self.data_dir / "sample_submission.csv" if self.data_dir else None
        try:
            score = self.scorer.score(guess.read_bytes(), self.solution)[0] if guess else 1.0
        except (OSError, ValueError):
            score = 1.0
        score = score if np.isfinite(score) and score > 0 else 1.0
        return 0.3 * score, 0.9 * score

    @property
    def metric(self):
        return get_metric(self.scorer.metric)

    def leaderboard(self) -> list[dict]:
        """Rivals plus each team's best public score, best first in the metric's direction
        (earlier date wins a tie)."""
        rows = self.rival_rows()
        metric = self.metric
        best: dict[str, Submission] = {}
        with self.lock:
            for s in self.submissions:
                self.refresh(s)
                if s.status == "COMPLETE" and (s.team not in best
                                               or metric.better(s.public, best[s.team].public)):
                    best[s.team] = s
        for i, (team, s) in enumerate(sorted(best.items())):
            rows.append({"team_id": 1 + i, "team": team, "date": s.date, "score": s.public})
        return sorted(rows, key=lambda r: (metric.order(round(r["score"], 5)), r["date"]))

    def data_zip(self) -> bytes:
        """The competition files as Kaggle serves them: everything but the solution."""
        buf = io.BytesIO()
        root = self.data_dir
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            if root is not None and root.exists():
                for path in sorted(root.rglob("*")):
                    if path.is_file() and path.name != "solution.csv":
                        zf.write(path, path.relative_to(root).as_posix())
        return buf.getvalue()
