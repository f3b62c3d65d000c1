"""The submission workflow: validate, reserve a slot, upload, record, wait, sync.

Order of `submit()`, chosen so that nothing is spent on a file Kaggle would reject and the
ledger never disagrees with Kaggle for long:

1. read the file's bytes once and validate them against `sample_submission.csv` (no network);
2. refuse content already submitted (by sha256), or predictions the metric scores the same
   as a submitted file's (for AUC: the same ranking, e.g. rounded or reordered), unless
   `force`; warn on a near-copy of a submitted ranking;
3. merge Kaggle's list of our submissions and read its limits (`quota`), then reserve a slot
   in the ledger atomically (a dry run stops before this and reports what it would spend);
4. keep the exact bytes in submissions/archive/ and upload that copy (start upload -> PUT ->
   create submission); on any failure the slot is given back;
5. record Kaggle's ref (status pending) with the name, CV, lineage and message the file is
   submitted as: that row is history, which later commands never rewrite; with `wait`,
   poll until it is scored.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kfold.data.check import DataReport, check_data
from kfold.errors import KfError, first_line
from kfold.kaggle.client import (
    KaggleClient,
    KaggleHttpError,
    KaggleUnreachable,
    RemoteSubmission,
    endpoint,
)
from kfold.kaggle.compare import NEAR_COPY, closest, read_preds
from kfold.kaggle.ledger import Ledger, describe, duplicate_error, limit_error
from kfold.kaggle.plots import plot_rank_history
from kfold.kaggle.quota import Quota, read_quota, track_submissions
from kfold.scoring import Metric, get_metric
from kfold.submission import (
    archive_bytes,
    archive_dir,
    content_path,
    contest_metric,
    file_sha256,
    lineage_metric,
    sample_submission,
    sidecar_of,
    validate_submission,
)
from kfold.workspace import Workspace


def open_ledger(ws: Workspace) -> Ledger:
    return Ledger(ws.ledger_path)


def competition_of(ws: Workspace, competition: str | None) -> str:
    slug = competition or ws.config.competition
    if not slug:
        raise KfError("no competition: set `competition` in kfold.toml or pass --competition")
    return slug


def make_client(ws: Workspace, competition: str | None = None,
                log: Callable[[str], None] | None = None, **kw) -> KaggleClient:
    return KaggleClient(competition_of(ws, competition), log=log, **kw)


# --- candidates ----------------------------------------------------------------------------
def register_candidates(ws: Workspace, led: Ledger) -> int:
    """Record every CSV under submissions/ and submissions/archive/ (with its sidecar's CV
    and lineage when the sidecar describes that content), once per content and name: a
    live file holding the same bytes as an archived copy of that name is the path the ledger
    knows them by, so registering again writes nothing; the same bytes under another name
    are another candidate."""
    paths = sorted(archive_dir(ws).glob("*.csv")) + sorted(ws.submissions_dir.glob("*.csv"))
    shas = [file_sha256(path) for path in paths]
    sides = [sidecar_of(p, sha) for p, sha in zip(paths, shas)]  # a damaged one: refused
    found: dict[tuple[str, str], tuple[Path, dict]] = {}
    for path, sha, side in zip(paths, shas, sides):  # live files last: their path wins
        key = (sha, side.get("name") or path.stem)
        earlier = found.get(key, (None, {}))[1]
        found[key] = (path, {**earlier, **{k: v for k, v in side.items() if v is not None}})
    for (sha, name), (path, side) in found.items():
        led.add_candidate(sha, path.resolve(), name, side.get("cv_auc"), side.get("lineage"),
                          side.get("created_utc"))
    return len(paths)


def read_submission(ws: Workspace, path: Path, data: bytes | None = None) -> pd.DataFrame:
    """Read a submission CSV (or its bytes, read once by the caller) and validate it;
    KfError naming the problem otherwise."""
    path = Path(path)
    if data is None and not path.exists():
        raise KfError(f"{path}: no such file")
    if sample_submission(ws) is None:
        raise KfError(f"{ws.data_dir / 'sample_submission.csv'} not found: it defines a valid "
                      f"submission; run `kf data download` first")
    try:
        df = pd.read_csv(path if data is None else io.BytesIO(data),
                         dtype={ws.config.id_column: str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise KfError(f"{path.name}: not a readable CSV ({first_line(exc)})") from None
    validate_submission(df, ws, where=path.name)
    return df


def is_live(ws: Workspace, cand) -> bool:
    """A candidate whose file under submissions/ still holds its content (not superseded)."""
    path = Path(cand["path"])
    return (path.parent == ws.submissions_dir.resolve()
            and content_path(ws, cand["sha256"], path) == path)


def best_unsubmitted(ws: Workspace, led: Ledger, competition: str) -> Path:
    """The live candidate with the best CV in the contest metric's direction that was not
    submitted yet."""
    done = led.submitted_hashes(competition)
    metric = contest_metric(ws)
    for c in sorted(led.candidates(), key=lambda c: metric.order(c["cv_auc"])):
        if c["sha256"] not in done and c["cv_auc"] is not None and is_live(ws, c):
            return Path(c["path"])
    raise KfError("no unsubmitted candidate with a CV score under submissions/; write one with "
                  "`kf stack` or pass a FILE")


def submitted_predictions(ws: Workspace, led: Ledger, competition: str) -> dict[str, pd.Series]:
    """Predictions of every file submitted (or in flight), read from the bytes that were
    scored, keyed by a label naming its ref, the name it was submitted under and its date."""
    out: dict[str, pd.Series] = {}
    for row in led.submissions(competition):
        if row["status"] == "error" or not row["sha256"]:
            continue
        path = content_path(ws, row["sha256"], _ledger_path(ws, row))
        preds = read_preds(path, ws.config.id_column) if path else None
        if preds is not None:
            out[describe(row)] = preds
    return out


def _ledger_path(ws: Workspace, row) -> Path | None:
    return ws.submissions_dir / row["archive"] if row["archive"] else None


# --- submit --------------------------------------------------------------------------------
@dataclass
class SubmitResult:
    file: Path
    sha256: str
    ref: int | None
    status: str  # pending | complete | error | "dry run"
    public_score: float | None = None
    private_score: float | None = None
    cv_auc: float | None = None
    metric: str = "auc"  # the metric the CV is a score of (its lineage's)
    left_today: int | None = None
    archive: Path | None = None
    quota: Quota | None = None  # a dry run: what would be spent from
    warnings: list[str] = field(default_factory=list)


def submit(ws: Workspace, file: Path | None, message: str, *, wait: bool = False,
           force: bool = False, dry_run: bool = False, competition: str | None = None,
           client: KaggleClient | None = None, poll_s: float = 1.0, wait_timeout_s: float = 900,
           log: Callable[[str], None] | None = None) -> SubmitResult:
    slug = competition_of(ws, competition)
    if not dry_run and not (message or "").strip():
        raise KfError("a submission needs a --message (Kaggle shows it as the description)")
    if client is None:
        endpoint()  # a malformed $KF_KAGGLE_ENDPOINT is refused before the ledger is opened
    # a FILE is checked before the ledger is opened: a refused file leaves it as it was
    path = Path(file) if file is not None else None
    data, sha, side = _checked_file(ws, path) if path is not None else (b"", "", {})
    with open_ledger(ws) as led:
        if path is None:
            register_candidates(ws, led)
            path = best_unsubmitted(ws, led, slug)
            data, sha, side = _checked_file(ws, path)
        warnings = check_duplicates(ws, led, slug, path, data, force)
        used = led.used_today(slug)
        if used >= ws.config.daily_limit and not led.has_dead():  # fail fast, before the network
            raise limit_error(slug, used, ws.config.daily_limit, None)
        quota, client = read_quota(ws, led, slug, lenient=dry_run, client_factory=(
            (lambda: client) if client is not None else (lambda: make_client(ws, slug, log=log))))
        if client is None and not dry_run:
            raise KaggleUnreachable(f"{quota.offline_reason}; nothing was spent")
        if file is not None:  # after the refusals above, which leave the ledger as it was
            register_candidates(ws, led)
        name = side.get("name") or path.stem
        if led.candidate(sha, name) is None or \
                path.resolve().parent != ws.submissions_dir.resolve():
            led.add_candidate(sha, path.resolve(), name, side.get("cv_auc"),
                              side.get("lineage"), side.get("created_utc"))
        cand = led.candidate(sha, name) or {}
        cv, lineage = cand.get("cv_auc"), json.loads(cand.get("lineage") or "null")
        metric = lineage_metric(lineage)
        if dry_run:  # what would be spent, from Kaggle's figures or, offline, the ledger's
            return SubmitResult(path, sha, None, "dry run", cv_auc=cv, metric=metric,
                                left_today=quota.left,
                                quota=quota, warnings=warnings + list(client.warnings if client else []))
        archived = archive_bytes(ws, data, {**side, "name": name, "file": path.name})
        res = led.reserve(slug, sha, path.name, message, ws.config.daily_limit,
                          api_allowed=quota.kaggle_allowed, api_read_utc=quota.read_utc,
                          allow_duplicate=force,
                          archive=archived.relative_to(ws.submissions_dir).as_posix(),
                          name=name, cv_auc=cv, lineage=lineage)
        try:
            ref = client.upload(archived, message, file_name=path.name)
        except BaseException:
            led.release(res)
            raise
        led.mark_submitted(res, ref)
        track_submissions(ws, led, slug)
        out = SubmitResult(path, sha, ref, "pending", cv_auc=cv, metric=metric,
                           left_today=res.left_after,
                           archive=archived, warnings=warnings + list(client.warnings))
    if wait:
        remote = wait_submitted(ws, client, ref, path.name, res.left_after, poll_s=poll_s,
                                timeout_s=wait_timeout_s, log=log)
        out.status, out.public_score, out.private_score = (
            remote.status, remote.public_score, remote.private_score)
    return out


def _checked_file(ws: Workspace, path: Path) -> tuple[bytes, str, dict]:
    """The file to submit, validated: its bytes (read once: what is checked is what is
    archived and uploaded), their sha256 and its sidecar (when it describes these bytes)."""
    if not path.exists():
        raise KfError(f"{path}: no such file")
    if path.is_dir():
        raise KfError(f"{path} is a folder; give a submission CSV file")
    data = path.read_bytes()
    read_submission(ws, path, data)
    sha = hashlib.sha256(data).hexdigest()
    return data, sha, sidecar_of(path, sha)


def check_duplicates(ws: Workspace, led: Ledger, competition: str, path: Path, data: bytes,
                     force: bool) -> list[str]:
    """Refuse (unless `force`) content already submitted, and predictions the metric scores
    the same as a submitted file's (each refusal names that submission); a warning naming
    the closest submitted file when the ranking is a near-copy (Spearman > NEAR_COPY)."""
    sha = hashlib.sha256(data).hexdigest()
    earlier = led.submitted_as(competition, sha)
    if not force and earlier is not None:
        raise duplicate_error(path.name, sha, competition, earlier)
    preds = read_preds(data, ws.config.id_column)
    metric = contest_metric(ws)
    match = (closest(preds, submitted_predictions(ws, led, competition), metric.name)
             if preds is not None else None)
    if match is None:
        return []
    if match.same:
        what = (f"the same predictions per id as {match.label} (only the row order or number "
                f"format differs)" if match.identical else
                f"the same ranking as {match.label}, so the same {metric.title} (the "
                f"predictions differ, their order does not)")
        if not force:
            raise KfError(f"{path.name}: {what}; use --force to submit it again")
        return [f"{path.name} has {what} (--force)"]
    if match.rho > NEAR_COPY:
        return [f"{path.name} is a near-copy of {match.label}: rank correlation "
                f"{match.rho:.6f} > {NEAR_COPY}, so it will score almost the same"]
    return []


def wait_submitted(ws: Workspace, client: KaggleClient, ref: int, what: str, left: int,
                   **kw) -> RemoteSubmission:
    """`wait_for` a submission Kaggle has taken: when Kaggle stops answering, the slot is
    spent all the same and the score unknown, and the error says so (never "nothing was
    spent")."""
    try:
        return wait_for(ws, client, ref, **kw)
    except (KaggleUnreachable, KaggleHttpError) as exc:
        raise KfError(f"submitted {what} as ref {ref} ({left} slot(s) left today), but its "
                      f"score is unknown: {str(exc).removesuffix('; nothing was spent')}; "
                      f"`kf submissions` will fetch it") from None


def wait_for(ws: Workspace, client: KaggleClient, ref: int, *, poll_s: float = 2.0,
             timeout_s: float = 900, max_poll_s: float = 30.0,
             log: Callable[[str], None] | None = None) -> RemoteSubmission:
    """Poll (with backoff) until submission `ref` is scored; store its scores in the ledger."""
    deadline = time.monotonic() + timeout_s
    delay = poll_s
    while True:
        found = next((s for s in client.submissions() if s.ref == ref), None)
        if found is not None:
            with open_ledger(ws) as led:
                led.update_remote(client.competition, found, adopt=False)
                if found.status != "pending":
                    track_submissions(ws, led, client.competition)
            if found.status != "pending":
                if found.status == "error":
                    raise KfError(f"Kaggle could not score submission {ref}: {found.error}")
                return found
        if time.monotonic() + delay > deadline:
            raise KfError(f"submission {ref} not scored after {timeout_s:.0f}s; "
                          f"`kf submissions` will pick its score up later")
        if log:
            log(f"waiting for submission {ref} to be scored ({delay:.1f}s)")
        time.sleep(delay)
        delay = min(delay * 1.5, max_poll_s)


# --- submissions view ----------------------------------------------------------------------
@dataclass
class SubmissionsView:
    competition: str
    rows: list[dict]  # ledger rows; `bytes_at`: the file holding exactly what was scored
    quota: Quota
    metric: Metric = field(default_factory=lambda: get_metric("auc"))  # CV and scores


def submissions_view(ws: Workspace, *, competition: str | None = None, offline: bool = False,
                     client: KaggleClient | None = None) -> SubmissionsView:
    """The ledger merged with Kaggle's list (website submissions included) and today's quota
    from Kaggle; from the ledger alone, saying so, when Kaggle does not answer."""
    slug = competition_of(ws, competition)
    factory = None if offline else ((lambda: client) if client is not None
                                    else (lambda: make_client(ws, slug)))
    if factory is not None and client is None:
        endpoint()  # a malformed $KF_KAGGLE_ENDPOINT is refused before the ledger is opened
    with open_ledger(ws) as led:
        register_candidates(ws, led)
        quota, _ = read_quota(ws, led, slug, client_factory=factory)
        rows = [dict(r) for r in led.submissions(slug) if r["status"] != "reserved"]
    for r in rows:
        path = content_path(ws, r["sha256"], _ledger_path(ws, r) or r.get("cand_path")) \
            if r["sha256"] else None
        r["bytes_at"] = os.path.relpath(path, ws.root) if path else None
    return SubmissionsView(slug, rows, quota, contest_metric(ws))


# --- leaderboard ---------------------------------------------------------------------------
@dataclass
class LeaderboardView:
    competition: str
    top: list
    n_teams: int
    our_team: str | None
    our_rank: int | None
    our_score: float | None
    history: list[dict]
    png: Path | None
    metric: Metric = field(default_factory=lambda: get_metric("auc"))  # what the scores are


def leaderboard(ws: Workspace, *, top: int = 10, team: str | None = None,
                competition: str | None = None, client: KaggleClient | None = None,
                plot: bool = True) -> LeaderboardView:
    if top < 1:
        raise KfError(f"--top {top}: show at least 1 row (e.g. --top 10)")
    slug = competition_of(ws, competition)
    client = client or make_client(ws, slug)
    rows = client.leaderboard()
    team = team or client.username
    with open_ledger(ws) as led:
        led.add_snapshot(slug, rows, team)
        history = [dict(r) for r in led.snapshots(slug)]
        subs = [dict(r) for r in led.submissions(slug)]
    ours = next((r for r in rows if team and r.team_name == team), None)
    metric = contest_metric(ws)
    png = (plot_rank_history(history, ws.submissions_dir / "leaderboard_rank.png", subs,
                             metric) if plot else None)
    return LeaderboardView(slug, rows[:top], len(rows), team, ours.rank if ours else None,
                           ours.score if ours else None, history, png, metric)


# --- data download -------------------------------------------------------------------------
@dataclass
class DownloadResult:
    archive_bytes: int
    files: list[Path]
    check: DataReport


def download_data(ws: Workspace, *, competition: str | None = None,
                  client: KaggleClient | None = None) -> DownloadResult:
    """Download the competition's zip, unpack it (and zips inside it) into data/, then check."""
    slug = competition_of(ws, competition)
    client = client or make_client(ws, slug)
    made = not ws.data_dir.exists()
    ws.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        files, size = _download_into(ws, client, slug)
    except BaseException:
        if made:  # a failed download leaves no data/ folder behind
            shutil.rmtree(ws.data_dir, ignore_errors=True)
        raise
    try:
        report = check_data(ws)
    except KfError as exc:
        raise KfError(f"downloaded {len(files)} file(s) into {ws.data_dir}, but the data check "
                      f"failed: {exc}") from None
    return DownloadResult(size, files, report)


def _download_into(ws: Workspace, client: KaggleClient, slug: str) -> tuple[list[Path], int]:
    """The competition's zip unpacked (zips inside it too) into data/: the files, the size."""
    import tempfile
    import zipfile

    with tempfile.TemporaryDirectory(prefix=".kf-download-", dir=ws.data_dir) as tmp:
        archive = client.download(Path(tmp))
        size = archive.stat().st_size
        staging = Path(tmp) / "unpacked"
        try:
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(staging)  # drops '..' and absolute prefixes
            for inner in sorted(staging.rglob("*.zip")):
                with zipfile.ZipFile(inner) as zf:
                    zf.extractall(inner.parent)
                inner.unlink()
        except zipfile.BadZipFile:
            raise KfError(f"the data Kaggle sent for {slug} is not a valid zip") from None
        files = []
        for src in sorted(p for p in staging.rglob("*") if p.is_file()):
            dst = ws.data_dir / src.relative_to(staging)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(src), dst)
            files.append(dst)
    return files, size
