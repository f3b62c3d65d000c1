"""The submission workflow: validate, reserve a slot, upload, record, wait, sync.

Order of `submit()`, chosen so that nothing is spent on a file Kaggle would reject and the
ledger never disagrees with Kaggle for long:

1. read and validate the CSV against `sample_submission.csv` (no network yet);
2. refuse content already submitted (by sha256) unless `force`;
3. read Kaggle's submission limits, then reserve a slot in the ledger atomically;
4. upload (start upload -> PUT -> create submission); on any failure the slot is given back;
5. record Kaggle's ref (status pending); with `wait`, poll until it is scored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from kfold import atomic
from kfold.errors import KfError
from kfold.kaggle.client import KaggleClient, KaggleUnreachable, RemoteSubmission
from kfold.kaggle.ledger import Ledger, limit_error, next_reset, utcnow
from kfold.submission import file_sha256, read_sidecar, sample_submission, validate_submission
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
    """Record every CSV under submissions/ (with its sidecar's CV and lineage, if any)."""
    n = 0
    for path in sorted(ws.submissions_dir.glob("*.csv")):
        side = read_sidecar(path) or {}
        led.add_candidate(file_sha256(path), path.resolve(), side.get("name", path.stem),
                          side.get("cv_auc"), side.get("lineage"), side.get("created_utc"))
        n += 1
    return n


def read_submission(ws: Workspace, path: Path) -> pd.DataFrame:
    """Read a submission CSV and validate it; KfError naming the problem otherwise."""
    path = Path(path)
    if not path.exists():
        raise KfError(f"{path}: no such file")
    if sample_submission(ws) is None:
        raise KfError(f"{ws.data_dir / 'sample_submission.csv'} not found: it defines a valid "
                      f"submission; run `kf data download` first")
    try:
        df = pd.read_csv(path, dtype={ws.config.id_column: str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise KfError(f"{path.name}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    validate_submission(df, ws, where=path.name)
    return df


def best_unsubmitted(ws: Workspace, led: Ledger, competition: str) -> Path:
    done = led.submitted_hashes(competition)
    for c in led.candidates():
        if c["sha256"] not in done and c["cv_auc"] is not None and Path(c["path"]).exists():
            return Path(c["path"])
    raise KfError("no unsubmitted candidate with a CV score under submissions/; write one with "
                  "`kf stack` or pass a FILE")


# --- submit --------------------------------------------------------------------------------
@dataclass
class SubmitResult:
    file: Path
    sha256: str
    ref: int
    status: str
    public_score: float | None = None
    private_score: float | None = None
    cv_auc: float | None = None
    left_today: int | None = None
    warnings: list[str] = field(default_factory=list)


def submit(ws: Workspace, file: Path | None, message: str, *, wait: bool = False,
           force: bool = False, competition: str | None = None,
           client: KaggleClient | None = None, poll_s: float = 1.0, wait_timeout_s: float = 900,
           log: Callable[[str], None] | None = None) -> SubmitResult:
    slug = competition_of(ws, competition)
    with open_ledger(ws) as led:
        register_candidates(ws, led)
        path = Path(file) if file is not None else best_unsubmitted(ws, led, slug)
        read_submission(ws, path)
        sha = file_sha256(path)
        if path.resolve().parent != ws.submissions_dir.resolve():
            side = read_sidecar(path) or {}
            led.add_candidate(sha, path.resolve(), side.get("name", path.stem),
                              side.get("cv_auc"), side.get("lineage"), side.get("created_utc"))
        if not force and sha in led.submitted_hashes(slug):
            raise KfError(f"{path.name}: this content (sha256 {sha[:12]}) was already submitted "
                          f"to {slug}; use --force to submit it again")
        if not message or not message.strip():
            raise KfError("a submission needs a --message (Kaggle shows it as the description)")
        used = led.used_today(slug)
        if used >= ws.config.daily_limit and not led.has_dead():  # fail fast, before the network
            raise limit_error(slug, used, ws.config.daily_limit, None)
        client = client or make_client(ws, slug, log=log)
        if led.has_dead():  # a kf process died mid-submit: settle it against Kaggle first
            led.resolve_dead(client.submissions())
        read_at = utcnow()
        limits = client.limits()
        res = led.reserve(slug, sha, path.name, message, ws.config.daily_limit,
                          api_allowed=limits.num_allowed_now, api_read_utc=read_at,
                          allow_duplicate=force)
        try:
            ref = client.upload(path, message)
        except BaseException:
            led.release(res)
            raise
        led.mark_submitted(res, ref)
        cand = led.candidate(sha)
        out = SubmitResult(path, sha, ref, "pending", cv_auc=cand["cv_auc"] if cand else None,
                           warnings=list(client.warnings))
        out.left_today = max(0, min(ws.config.daily_limit - led.used_today(slug),
                                    limits.num_allowed_now - 1))
    if wait:
        remote = wait_for(ws, client, ref, poll_s=poll_s, timeout_s=wait_timeout_s, log=log)
        out.status, out.public_score, out.private_score = (
            remote.status, remote.public_score, remote.private_score)
    return out


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
    rows: list[dict]
    used_today: int
    daily_limit: int
    api_allowed: int | None
    left_today: int
    reset_utc: datetime
    added: int = 0
    offline_reason: str | None = None


def sync(ws: Workspace, client: KaggleClient, adopt: bool = True) -> dict[str, int]:
    """Merge the remote list into the ledger; with `adopt`, add submissions kf did not make."""
    counts = {"updated": 0, "added": 0, "skipped": 0, "recovered": 0, "released": 0}
    remote = client.submissions()
    with open_ledger(ws) as led:
        counts.update(led.resolve_dead(remote))
        for r in remote:
            counts[led.update_remote(client.competition, r, adopt=adopt)] += 1
    return counts


def submissions_view(ws: Workspace, *, competition: str | None = None, do_sync: bool = False,
                     offline: bool = False, client: KaggleClient | None = None) -> SubmissionsView:
    slug = competition_of(ws, competition)
    api_allowed, added, reason = None, 0, None
    if not offline:
        try:
            client = client or make_client(ws, slug)
            added = sync(ws, client, adopt=do_sync)["added"]
            api_allowed = client.limits().num_allowed_now
        except KaggleUnreachable as exc:
            reason = str(exc)
    with open_ledger(ws) as led:
        register_candidates(ws, led)
        if offline or reason:
            led.reap_dead()
        rows = [dict(r) for r in led.submissions(slug) if r["status"] != "reserved"]
        used = led.used_today(slug)
    limit = ws.config.daily_limit
    left = limit - used if api_allowed is None else min(limit - used, api_allowed)
    return SubmissionsView(slug, rows, used, limit, api_allowed, max(0, left), next_reset(),
                           added, reason)


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


def leaderboard(ws: Workspace, *, top: int = 10, team: str | None = None,
                competition: str | None = None, client: KaggleClient | None = None,
                plot: bool = True) -> LeaderboardView:
    slug = competition_of(ws, competition)
    client = client or make_client(ws, slug)
    rows = client.leaderboard()
    team = team or client.username
    with open_ledger(ws) as led:
        led.add_snapshot(slug, rows, team)
        history = [dict(r) for r in led.snapshots(slug)]
    ours = next((r for r in rows if team and r.team_name == team), None)
    png = plot_rank_history(history, ws.submissions_dir / "leaderboard_rank.png") if plot else None
    return LeaderboardView(slug, rows[:top], len(rows), team, ours.rank if ours else None,
                           ours.score if ours else None, history, png)


def plot_rank_history(history: list[dict], path: Path) -> Path | None:
    points = [(datetime.fromisoformat(h["utc"]), h["our_rank"], h["n_teams"])
              for h in history if h["our_rank"] is not None]
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="o")
    ax.invert_yaxis()
    ax.set_ylabel("public leaderboard rank")
    ax.set_title(f"our rank over time (of {points[-1][2]} teams)")
    fig.autofmt_xdate()
    fig.tight_layout()
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return path


# --- data download -------------------------------------------------------------------------
@dataclass
class DownloadResult:
    archive_bytes: int
    files: list[Path]
    check: object | None


def download_data(ws: Workspace, *, competition: str | None = None,
                  client: KaggleClient | None = None) -> DownloadResult:
    """Download the competition's zip, unpack it (and zips inside it) into data/, then check."""
    import shutil
    import tempfile
    import zipfile

    slug = competition_of(ws, competition)
    client = client or make_client(ws, slug)
    ws.data_dir.mkdir(parents=True, exist_ok=True)
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
    try:
        report = run_data_check(ws)
    except KfError as exc:
        raise KfError(f"downloaded {len(files)} file(s) into {ws.data_dir}, but the data check "
                      f"failed: {exc}") from None
    return DownloadResult(size, files, report)


def run_data_check(ws: Workspace):
    """`kf data check`'s checks, when that module is there."""
    try:
        from kfold.data.check import check_data
    except ImportError:
        return None
    return check_data(ws)
