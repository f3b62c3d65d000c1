"""Today's submission quota, from Kaggle itself when it answers, else from the local ledger.

`kf plan`, `kf submit` and `kf submissions` all read it the same way: merge Kaggle's list of
our submissions into the ledger (website submissions included), then ask Kaggle's submission
limits. The slots left are the smaller of what Kaggle allows now and what the workspace's own
`daily_limit` leaves. A server that lists submissions but has no limits call (HTTP 404/501
on GetSubmissionLimits) leaves the merged list as the count, and the line says so. When Kaggle
does not answer the figures come from the ledger alone and say so ("offline: from the local
ledger").
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from kfold import tracking
from kfold.errors import KfError
from kfold.kaggle.client import KaggleClient, KaggleHttpError, KaggleUnreachable
from kfold.kaggle.ledger import Ledger, next_reset, utcnow
from kfold.submission import lineage_metric
from kfold.workspace import Workspace

OFFLINE = "offline: from the local ledger"


@dataclass
class Quota:
    competition: str
    used_today: int  # ledger rows counted today, after merging Kaggle's list
    daily_limit: int  # kfold.toml's cap
    kaggle_today: int | None  # Kaggle's numToday
    kaggle_allowed: int | None  # Kaggle's numAllowedNow
    reset_utc: datetime
    read_utc: datetime | None = None  # when Kaggle's limits were read (None offline)
    offline_reason: str | None = None
    added: int = 0  # submissions made outside kf, merged into the ledger now
    limits_missing: str | None = None  # why Kaggle's limits are unknown though its list was read

    @property
    def left(self) -> int:
        left = self.daily_limit - self.used_today
        if self.kaggle_allowed is not None:
            left = min(left, self.kaggle_allowed)
        return max(0, left)

    @property
    def online(self) -> bool:
        return self.offline_reason is None

    def text(self) -> str:
        """One line: slots left, where the figure comes from, when the quota resets."""
        secs = int((self.reset_utc - datetime.now(timezone.utc)).total_seconds())
        h, rem = divmod(max(secs, 0), 3600)
        ledger = f"ledger: {self.used_today} of kfold.toml's daily_limit {self.daily_limit} used"
        if self.online and self.limits_missing is None:
            src = (f"Kaggle: {self.kaggle_today} used today, allows {self.kaggle_allowed} more; "
                   f"{ledger}")
        elif self.online:
            src = (f"{ledger}, Kaggle's list of submissions merged; its submission limits are "
                   f"unavailable ({self.limits_missing})")
        else:
            src = f"{OFFLINE} ({self.offline_reason}): {self.used_today}/{self.daily_limit} used"
        return (f"{self.left} submission(s) left today ({src}); quota resets at "
                f"{self.reset_utc:%Y-%m-%d %H:%M} UTC (in {h}h{rem // 60:02d}m)")


def sync(led: Ledger, client: KaggleClient, ws: Workspace | None = None) -> dict[str, int]:
    """Merge Kaggle's list of our submissions into the ledger: refresh the ones kf knows,
    add the ones made elsewhere (the website, a kf process that died), settle dead
    reservations. With `ws`, the bytes of the submissions added are fetched (`keep_remote`)."""
    counts = {"updated": 0, "added": 0, "skipped": 0, "recovered": 0, "released": 0}
    remote = client.submissions()
    counts.update(led.resolve_dead(remote))
    added = []
    for r in remote:
        what = led.update_remote(client.competition, r, adopt=True)
        counts[what] += 1
        if what == "added":
            added.append(r)
    if ws is not None and added:
        counts["kept"] = keep_remote(ws, led, client, added)
    return counts


MAX_FETCHED = 20  # website submissions whose bytes one sync downloads (the newest first)


def keep_remote(ws: Workspace, led: Ledger, client: KaggleClient, added: list) -> int:
    """Download the bytes of submissions made outside kf (Kaggle's DownloadSubmission), keep
    them in submissions/archive/ and point their ledger rows at that exact content, so a
    file of the same name but other content is never taken for what was scored, and the
    duplicate checks see them. A download Kaggle refuses leaves the row as merged."""
    from kfold.kaggle.compare import read_preds
    from kfold.submission import archive_bytes

    kept = 0
    for r in sorted(added, key=lambda r: r.date or utcnow(), reverse=True)[:MAX_FETCHED]:
        if r.status == "error":
            continue
        try:
            data = client.download_submission(r.ref)
        except (KaggleHttpError, KaggleUnreachable):
            continue
        if read_preds(data, ws.config.id_column) is None:
            continue  # not a submission CSV (an error page, an empty answer): keep nothing
        sha = hashlib.sha256(data).hexdigest()
        name = Path(r.file_name).stem if r.file_name else f"submission-{r.ref}"
        path = archive_bytes(ws, data, {"name": name, "file": r.file_name, "ref": r.ref})
        if led.candidate(sha, name) is None:
            led.add_candidate(sha, path.resolve(), name, None, None, None)
        led.set_content(r.ref, sha, path.relative_to(ws.submissions_dir).as_posix())
        kept += 1
    return kept


def read_quota(ws: Workspace, led: Ledger, competition: str, *,
               client_factory: Callable[[], KaggleClient] | None,
               lenient: bool = False) -> tuple[Quota, KaggleClient | None]:
    """Today's quota and the client that read it (None offline).

    `client_factory` None means offline by request. A Kaggle that does not answer always
    falls back on the ledger; with `lenient` (kf plan) so do missing credentials and refused
    calls, which otherwise raise.
    """
    reason = "--offline" if client_factory is None else None
    client, added, limits, read_at, missing = None, 0, None, None, None
    if client_factory is not None:
        try:
            client = client_factory()
            added = sync(led, client, ws)["added"]
            read_at = utcnow()
            limits, missing = read_limits(client)
        except KaggleUnreachable as exc:  # (nothing is spent by reading the quota)
            reason, client = str(exc).removesuffix("; nothing was spent"), None
        except KfError as exc:
            if not lenient:
                raise
            reason, client = str(exc), None
    if client is None:
        led.reap_dead()
    else:
        track_submissions(ws, led, competition)
    quota = Quota(competition, led.used_today(competition), ws.config.daily_limit,
                  limits.num_today if limits else None,
                  limits.num_allowed_now if limits else None, next_reset(), read_at, reason,
                  added, missing)
    return quota, client


def read_limits(client: KaggleClient):
    """Kaggle's submission limits, or (None, why) when the server has no such call (HTTP 404,
    405 or 501 right after it listed our submissions): then the merged list is the count."""
    try:
        return client.limits(), None
    except KaggleHttpError as exc:
        if exc.status in (404, 405, 501):
            return None, f"HTTP {exc.status}"
        raise


def track_submissions(ws: Workspace, led: Ledger, competition: str) -> None:
    """With `tracking_uri` in kfold.toml, log every submission's CV and scores to MLflow;
    a store that cannot be opened is a warning here (the submission is in the ledger)."""
    try:
        tracker = tracking.for_workspace(ws, competition)
    except KfError as exc:
        warnings.warn(f"MLflow tracking skipped: {exc}", stacklevel=2)
        return
    if tracker is None:
        return
    rows = []
    for r in led.submissions(competition):
        row = dict(r)
        lineage = json.loads(row.get("lineage") or "null") or {}
        row["runs"] = [str(x) for x in lineage.get("runs") or []]
        row["metric"] = lineage_metric(lineage)
        rows.append(row)
    tracker.log_submissions(rows)
