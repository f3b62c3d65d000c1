"""Submissions and leaderboards as plain records: `--format json|csv` and
`kf submissions --export FILE.csv` (the whole ledger with lineage and file hashes)."""

from __future__ import annotations

import json
from pathlib import Path

from kfold import atomic, views
from kfold.errors import KfError
from kfold.kaggle.client import KaggleClient, KaggleHttpError
from kfold.kaggle.flow import (
    LeaderboardView,
    SubmissionsView,
    competition_of,
    make_client,
    open_ledger,
)
from kfold.workspace import Workspace

SUBMISSION_FIELDS = ("utc", "ref", "file", "name", "message", "cv_auc", "public_score",
                     "private_score", "status", "error", "source", "sha256", "bytes_at")
RECORD_FIELDS = (*SUBMISSION_FIELDS, "lineage")  # a row of submission_records
LEADERBOARD_FIELDS = ("rank", "team", "score", "date", "ours")


def submission_records(view: SubmissionsView) -> list[dict]:
    """Every submission of the view, oldest first, with the name, CV and lineage (runs,
    blender, folds fingerprint) it was submitted with, as the ledger keeps them."""
    out = []
    for s in view.rows:
        rec = {k: s.get(k) for k in SUBMISSION_FIELDS}
        rec["lineage"] = json.loads(s["lineage"]) if s.get("lineage") else None
        out.append(rec)
    return out


def export_submissions(ws: Workspace, view: SubmissionsView, path: Path) -> Path:
    """Write every submission (CV, public, private, message, lineage, file hash) as CSV."""
    path = check_export_path(path)
    atomic.write_text(path, views.dumps(submission_records(view), "csv", RECORD_FIELDS))
    return path


def check_export_path(path: Path) -> Path:
    """Refuse an export target that is not a writable .csv file name (before any work)."""
    return atomic.check_output_file("--export", path, ".csv")


def leaderboard_records(view: LeaderboardView) -> list[dict]:
    return [dict(zip(LEADERBOARD_FIELDS, (r.rank, r.team_name, r.score, r.date,
                                          bool(view.our_team and r.team_name == view.our_team))))
            for r in view.top]


def download_submission(ws: Workspace, ref: int, out: Path | None = None, *,
                        competition: str | None = None,
                        client: KaggleClient | None = None) -> Path:
    """Fetch the file of our submission `ref` from Kaggle into `out` (default:
    submissions/downloads/<ref>-<file name>; not a candidate, so nothing is resubmitted)."""
    slug = competition_of(ws, competition)
    client = client or make_client(ws, slug)
    try:
        data = client.download_submission(ref)
    except KaggleHttpError as exc:
        if exc.status == 404:
            raise KfError(f"Kaggle does not offer submission {ref} of {slug} for download: no "
                          f"such submission of ours (see `kf submissions` for refs)") from None
        raise
    if out is None:
        with open_ledger(ws) as led:
            row = led.by_ref(int(ref))
        name = Path(row["file"]).name if row is not None and row["file"] else "submission.csv"
        out = ws.submissions_dir / "downloads" / f"{ref}-{name}"
    out = Path(out)
    if out.is_dir():
        raise KfError(f"--out {out} is a folder; give a file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(out, data)
    return out
