"""Submissions and leaderboards as plain records: `--format json|csv` and
`kf submissions --export FILE.csv` (the whole ledger with lineage and file hashes)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from kfold import atomic, views
from kfold.errors import KfError
from kfold.kaggle.client import KaggleClient, KaggleHttpError, KaggleUnreachable
from kfold.kaggle.flow import LeaderboardView, SubmissionsView, competition_of, make_client
from kfold.kaggle.ledger import Ledger
from kfold.submission import content_path, lineage_metric
from kfold.workspace import Workspace

SUBMISSION_FIELDS = ("utc", "ref", "file", "name", "message", "cv_auc", "metric", "public_score",
                     "private_score", "status", "error", "source", "sha256", "bytes_at")
RECORD_FIELDS = (*SUBMISSION_FIELDS, "lineage")  # a row of submission_records
LEADERBOARD_FIELDS = ("rank", "team", "score", "date", "ours")


def submission_records(view: SubmissionsView) -> list[dict]:
    """Every submission of the view, oldest first, with the name, CV and lineage (runs,
    blender, folds fingerprint) it was submitted with, as the ledger keeps them; `metric`
    names what its CV is a score of (a website submission: the contest's)."""
    out = []
    for s in view.rows:
        rec = {k: s.get(k) for k in SUBMISSION_FIELDS}
        rec["lineage"] = json.loads(s["lineage"]) if s.get("lineage") else None
        rec["metric"] = lineage_metric(rec["lineage"]) if rec["lineage"] else view.metric.name
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


@dataclass(frozen=True)
class Downloaded:
    path: Path
    note: str | None = None  # why the bytes are kf's archive copy and not Kaggle's answer


def download_submission(ws: Workspace, ref: int, out: Path | None = None, *,
                        competition: str | None = None,
                        client: KaggleClient | None = None) -> Downloaded:
    """Fetch the file of our submission `ref` from Kaggle into `out` (default:
    submissions/downloads/<ref>-<file name>; not a candidate, so nothing is resubmitted).
    When Kaggle does not send it (a call the server does not serve, the network), kf's
    archive copy of the exact bytes submitted is written instead, saying so."""
    slug = competition_of(ws, competition)
    client = client or make_client(ws, slug)
    row = _ledger_row(ws, int(ref))
    try:
        data, note = client.download_submission(ref), None
    except (KaggleHttpError, KaggleUnreachable) as exc:
        kept = content_path(ws, row["sha256"], ws.submissions_dir / row["archive"]) \
            if row is not None and row["sha256"] and row["archive"] else None
        if kept is None:
            known = "" if row is not None else "; the ledger has no submission of that ref " \
                                               "(see `kf submissions` for refs)"
            raise KfError(f"submission {ref} of {slug} could not be downloaded: {exc}; kf "
                          f"keeps no copy of its bytes{known}") from None
        data = kept.read_bytes()
        note = (f"Kaggle did not send submission {ref} ({exc}); wrote kf's archive copy "
                f"{kept.relative_to(ws.root)} instead: the exact bytes submitted (sha256 "
                f"{row['sha256'][:12]})")
    if out is None:
        name = Path(row["file"]).name if row is not None and row["file"] else "submission.csv"
        out = ws.submissions_dir / "downloads" / f"{ref}-{name}"
    out = Path(out)
    if out.is_dir():
        raise KfError(f"--out {out} is a folder; give a file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(out, data)
    return Downloaded(out, note)


def _ledger_row(ws: Workspace, ref: int) -> dict | None:
    """The ledger's row of submission `ref` (None without a ledger or such a row)."""
    if not ws.ledger_path.exists():
        return None
    with Ledger(ws.ledger_path, read_only=True) as led:
        row = led.by_ref(ref)
    return dict(row) if row is not None else None
