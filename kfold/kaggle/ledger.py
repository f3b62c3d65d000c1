"""`submissions/ledger.sqlite`: candidates, submissions and leaderboard snapshots.

SQLite in WAL mode with numbered migrations (`PRAGMA user_version`). Every change is one
transaction, so a crash leaves a submission recorded or not, never half.

Candidates and submissions are kept apart. A candidate is a file kf wrote, one row per
(content, name): it may be rewritten and re-stacked, and the same bytes written under
another name are another candidate. A submission row is history: the sha256, name, CV,
lineage and message it was submitted with are stored on the row itself, and a trigger
refuses any later change to them (only Kaggle's status and scores change), so a re-stack
that happens to write the submitted bytes again never renames what was submitted.

Slots: `reserve()` takes a daily slot inside `BEGIN IMMEDIATE` (one writer at a time across
processes), counting today's (UTC) reserved, pending and complete rows, so concurrent
`kf submit` processes can never exceed the limit. A reservation is a row with status
`reserved` and the owner's pid; `release()` deletes it (a failed upload gives the slot
back), `mark_submitted()` turns it into `pending` with Kaggle's ref. A reservation whose
process died is reaped by the next writer.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from kfold.atomic import free_bytes, write_error
from kfold.errors import KfError
from kfold.locks import pid_alive

MIGRATIONS: list[str] = [
    # 1: the three tables
    """
    CREATE TABLE candidates (
        sha256 TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        name TEXT NOT NULL,
        cv_auc REAL,
        lineage TEXT,
        created_utc TEXT,
        registered_utc TEXT NOT NULL
    );
    CREATE TABLE submissions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        competition TEXT NOT NULL,
        sha256 TEXT,
        file TEXT,
        utc TEXT NOT NULL,
        day TEXT NOT NULL,
        message TEXT,
        ref INTEGER UNIQUE,
        status TEXT NOT NULL CHECK (status IN ('reserved','pending','complete','error')),
        public_score REAL,
        private_score REAL,
        error TEXT,
        source TEXT NOT NULL DEFAULT 'kf',
        pid INTEGER,
        host TEXT,
        submitted_utc TEXT,
        updated_utc TEXT
    );
    CREATE INDEX submissions_day ON submissions (competition, day);
    CREATE INDEX submissions_sha ON submissions (competition, sha256);
    CREATE TABLE lb_snapshots (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        competition TEXT NOT NULL,
        utc TEXT NOT NULL,
        n_teams INTEGER NOT NULL,
        our_team TEXT,
        our_rank INTEGER,
        our_score REAL
    );
    CREATE TABLE lb_rows (
        snapshot_id INTEGER NOT NULL REFERENCES lb_snapshots(id) ON DELETE CASCADE,
        rank INTEGER NOT NULL,
        team_id INTEGER,
        team_name TEXT,
        score REAL,
        date TEXT,
        PRIMARY KEY (snapshot_id, rank)
    );
    """,
    # 2: where the exact bytes of a submission are kept (submissions/archive/<sha16>.csv)
    """
    ALTER TABLE submissions ADD COLUMN archive TEXT;
    """,
    # 3: candidates keyed by (content, name); submissions keep their own name, CV, lineage
    """
    CREATE TABLE candidates_v3 (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL,
        name TEXT NOT NULL,
        path TEXT NOT NULL,
        cv_auc REAL,
        lineage TEXT,
        created_utc TEXT,
        registered_utc TEXT NOT NULL,
        UNIQUE (sha256, name)
    );
    INSERT INTO candidates_v3 (sha256, name, path, cv_auc, lineage, created_utc, registered_utc)
        SELECT sha256, name, path, cv_auc, lineage, created_utc, registered_utc FROM candidates;
    DROP TABLE candidates;
    ALTER TABLE candidates_v3 RENAME TO candidates;
    CREATE INDEX candidates_sha ON candidates (sha256);
    ALTER TABLE submissions ADD COLUMN name TEXT;
    ALTER TABLE submissions ADD COLUMN cv_auc REAL;
    ALTER TABLE submissions ADD COLUMN lineage TEXT;
    UPDATE submissions SET
        name = (SELECT c.name FROM candidates c WHERE c.sha256 = submissions.sha256),
        cv_auc = (SELECT c.cv_auc FROM candidates c WHERE c.sha256 = submissions.sha256),
        lineage = (SELECT c.lineage FROM candidates c WHERE c.sha256 = submissions.sha256)
        WHERE sha256 IS NOT NULL;
    CREATE TRIGGER submissions_are_history BEFORE UPDATE ON submissions
        WHEN OLD.status <> 'reserved' AND OLD.source = 'kf' AND (
            NEW.sha256 IS NOT OLD.sha256 OR NEW.name IS NOT OLD.name
            OR NEW.cv_auc IS NOT OLD.cv_auc OR NEW.lineage IS NOT OLD.lineage
            OR NEW.message IS NOT OLD.message OR NEW.file IS NOT OLD.file)
        BEGIN SELECT RAISE(ABORT, 'a submission is history: its content, name, CV, lineage and message never change'); END
    """,
]

LEDGER_TABLES = ("candidates", "submissions", "lb_snapshots", "lb_rows")
COUNTED = ("reserved", "pending", "complete")  # statuses that use a daily slot
_OTHER_HOST_TTL = timedelta(hours=1)


def _statements(script: str) -> Iterator[str]:
    """The SQL statements of a migration, one by one (a trigger's body holds semicolons;
    `executescript` would commit the migration's transaction halfway)."""
    buf = ""
    for piece in script.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n;"):
                yield buf
            buf = ""


def _size(path: str) -> int | None:
    try:
        return Path(path).stat().st_size
    except OSError:
        return None


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds")


def next_reset(now: datetime | None = None) -> datetime:
    """When the daily quota resets: the next UTC midnight."""
    now = now or utcnow()
    return (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def limit_error(competition: str, used: int, daily_limit: int, kaggle_left: int | None,
                now: datetime | None = None) -> KfError:
    """No slot left. `used` counts today's ledger rows (in-flight reservations included) and
    `kaggle_left` is what Kaggle allowed minus the slots taken since it was asked: the same
    numbers the refusal was decided on."""
    now = now or utcnow()
    hours, rem = divmod(int((next_reset(now) - now).total_seconds()), 3600)
    return KfError(
        f"daily submission limit reached for {competition}: {used} used or in flight today "
        f"(limit {daily_limit})"
        + ("" if kaggle_left is None else f", Kaggle allows {max(kaggle_left, 0)} more")
        + f"; 0 left today; the quota resets at 00:00 UTC (in {hours}h{rem // 60:02d}m)")


def duplicate_error(file: str, sha256: str, competition: str, earlier) -> KfError:
    """The same bytes were submitted before: name that submission."""
    return KfError(f"{file}: this content (sha256 {sha256[:12]}) was already submitted to "
                   f"{competition} as {describe(earlier)}; use --force to submit it again")


def describe(row) -> str:
    """A submission as the user knows it: the file uploaded, its Kaggle ref, the name it was
    submitted under and when ("stack-mean.csv (ref 12, submitted as 'stack-mean', 2026-12-01
    12:00 UTC)"); an upload in flight has no ref yet."""
    ref = f"ref {row['ref']}" if row["ref"] else "in flight"
    name = f", submitted as {row['name']!r}" if row["name"] else ""
    return (f"{row['file'] or '?'} ({ref}{name}, "
            f"{str(row['utc'])[:16].replace('T', ' ')} UTC)")


@dataclass(frozen=True)
class Reservation:
    """A slot taken; `left_after` is how many slots were left once it was taken, from the
    same count inside the same transaction (so concurrent processes never disagree)."""

    id: int
    day: str
    left_after: int = 0


class Ledger:
    """One connection to the ledger; cheap to open, safe to share between processes."""

    def __init__(self, path: str | Path, timeout_s: float = 30.0, *, read_only: bool = False):
        """Open (and create or migrate) the ledger; `read_only` opens an existing one for
        reading only, which works in a read-only workspace too."""
        self.path = Path(path)
        if self.path.is_dir():
            raise self.damaged("a folder, not a file")
        sidecars = [Path(f"{self.path}{s}") for s in ("-wal", "-shm")]
        had = [p.exists() for p in sidecars]
        try:
            if read_only:
                self.db = self._connect_read_only(timeout_s)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise self._cause(exc) from None
        try:
            if not read_only:
                self._open(timeout_s)
            elif self._check_schema() < len(MIGRATIONS):  # empty or older: read a copy
                self._migrate_in_memory()
        except (sqlite3.DatabaseError, KfError) as exc:
            self.db.close()
            for p, existed in zip(sidecars, had):
                if not existed:  # made by this failed open: nothing is left behind
                    p.unlink(missing_ok=True)
            if isinstance(exc, KfError) or (isinstance(exc, sqlite3.OperationalError)
                                             and "locked" in str(exc)):
                raise
            raise self._cause(exc) from None

    def _migrate_in_memory(self) -> None:
        """Read an older (or empty) ledger through a migrated copy in memory: a reader
        never writes, and sees the schema this kf reads."""
        mem = sqlite3.connect(":memory:", isolation_level=None)
        self.db.backup(mem)
        self.db.close()
        self.db = mem
        self.db.row_factory = sqlite3.Row
        self._migrate()

    def _connect_read_only(self, timeout_s: float) -> sqlite3.Connection:
        """A connection that only reads. In a writable folder a plain one: closing it removes
        the -wal and -shm files it opened (a read-only connection would leave them); in a
        read-only folder an immutable one (no -shm file can be made there)."""
        if os.access(self.path.parent, os.W_OK):
            db = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None)
        else:
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                                 timeout=timeout_s, isolation_level=None)
        db.row_factory = sqlite3.Row
        return db

    def _cause(self, exc: Exception) -> KfError:
        """A full disk or a read-only folder said as such; anything else is damage."""
        if not os.access(self.path.parent, os.W_OK):
            return write_error(OSError(errno.EROFS, "the folder is not writable"), self.path)
        if free_bytes(self.path.parent) < 1 << 20:
            return write_error(OSError(errno.ENOSPC, "no space left"), self.path)
        return self.damaged(str(exc))

    def damaged(self, why: str) -> KfError:
        return KfError(f"{self.path} is damaged or unreadable ({why}); move it aside (for "
                       f"example to {self.path.name}.bad) and run `kf submissions`: a new "
                       "ledger takes Kaggle's list of your submissions")

    def _open(self, timeout_s: float) -> None:
        self.db.row_factory = sqlite3.Row
        self.db.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
        self._check_schema()  # before WAL mode or a migration writes to another program's file
        mode = self.db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise KfError(f"{self.path}: could not switch the ledger to WAL mode (got {mode})")
        self.db.execute("PRAGMA synchronous = FULL")
        self.db.execute("PRAGMA foreign_keys = ON")
        self._migrate()

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front so check-then-write is atomic."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _migrate(self) -> None:
        with self.tx() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise KfError(f"{self.path} was written by a newer kf (schema {version}); upgrade kf")
            for i, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for stmt in _statements(script):
                    db.execute(stmt)
                db.execute(f"PRAGMA user_version = {i}")

    def _check_schema(self) -> int:
        """The schema version; refuse a database that is not a ledger (another schema, tables
        dropped): read only. An empty database (a ledger whose first write was interrupted)
        is version 0 and becomes a new one. Read in one transaction: another kf creating the
        ledger between the version and the table list would make it look like a stranger's."""
        self.db.execute("BEGIN")
        try:
            return self._read_schema()
        finally:
            self.db.execute("COMMIT")

    def _read_schema(self) -> int:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in self.db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")}
        if version == 0:
            if tables:
                raise self.damaged(f"not a kf ledger: it holds the tables {sorted(tables)}")
            return version
        missing = sorted(set(LEDGER_TABLES) - tables)
        if missing:
            raise self.damaged(f"table(s) {missing} missing")
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(submissions)")}
        needed = ({"status", "sha256", "day", "ref"} | ({"archive"} if version >= 2 else set())
                  | ({"name", "cv_auc", "lineage"} if version >= 3 else set()))
        if not needed <= columns:
            raise self.damaged(f"submissions table lacks {sorted(needed - columns)}")
        return version

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    # --- candidates ----------------------------------------------------------------------
    def add_candidate(self, sha256: str, path: Path, name: str, cv_auc: float | None,
                      lineage: dict | None, created_utc: str | None) -> None:
        """Record the content `sha256` under `name` (a new candidate when that content had
        another name: nothing that was submitted is renamed)."""
        with self.tx() as db:
            db.execute(
                """INSERT INTO candidates (sha256, name, path, cv_auc, lineage, created_utc,
                   registered_utc) VALUES (?,?,?,?,?,?,?)
                   ON CONFLICT(sha256, name) DO UPDATE SET path=excluded.path,
                   cv_auc=COALESCE(excluded.cv_auc, candidates.cv_auc),
                   lineage=COALESCE(excluded.lineage, candidates.lineage)
                   WHERE candidates.path IS NOT excluded.path
                      OR candidates.cv_auc IS NOT COALESCE(excluded.cv_auc, candidates.cv_auc)
                      OR candidates.lineage IS NOT COALESCE(excluded.lineage,
                                                            candidates.lineage)""",
                (sha256, name, self._stored(path), cv_auc,
                 json.dumps(lineage) if lineage else None, created_utc, iso(utcnow())),
            )

    def _stored(self, path: Path) -> str:
        """A candidate's path as kept: relative to the ledger's folder (submissions/) when it
        lies below it, so a copied or moved workspace finds its own files and registering
        them again changes nothing; absolute otherwise."""
        path, home = Path(path).resolve(), self.path.parent.resolve()
        return path.relative_to(home).as_posix() if path.is_relative_to(home) else str(path)

    def _located(self, stored: str | None) -> str | None:
        """The absolute path of a kept one (ledgers before this kept absolute paths)."""
        return None if stored is None else str(self.path.parent.resolve() / stored)

    def _with_path(self, row: sqlite3.Row | None, key: str = "path") -> dict | None:
        return None if row is None else {**dict(row), key: self._located(row[key])}

    def candidates(self) -> list[dict]:
        rows = self.db.execute("SELECT * FROM candidates ORDER BY cv_auc DESC").fetchall()
        return [self._with_path(r) for r in rows]

    def candidate(self, sha256: str, name: str | None = None) -> dict | None:
        """The candidate of that content and name; without a name, the one registered last."""
        if name is not None:
            row = self.db.execute("SELECT * FROM candidates WHERE sha256=? AND name=?",
                                  (sha256, name)).fetchone()
        else:
            row = self.db.execute("SELECT * FROM candidates WHERE sha256=? ORDER BY "
                                  "registered_utc DESC, id DESC", (sha256,)).fetchone()
        return self._with_path(row)

    # --- slots ---------------------------------------------------------------------------
    def _dead_reservations(self, db: sqlite3.Connection) -> list[sqlite3.Row]:
        host = socket.gethostname()
        dead = []
        for row in db.execute("SELECT * FROM submissions WHERE status='reserved'").fetchall():
            if row["host"] == host:
                if row["pid"] is None or not pid_alive(row["pid"]):
                    dead.append(row)
            elif utcnow() - datetime.fromisoformat(row["utc"]) > _OTHER_HOST_TTL:
                dead.append(row)
        return dead

    def _reap_dead(self, db: sqlite3.Connection) -> int:
        """Delete reservations whose process is gone: their upload never finished (as far as
        the ledger knows; `resolve_dead` checks Kaggle's list first)."""
        dead = self._dead_reservations(db)
        for row in dead:
            db.execute("DELETE FROM submissions WHERE id=?", (row["id"],))
        return len(dead)

    def reap_dead(self) -> int:
        with self.tx() as db:
            return self._reap_dead(db)

    def has_dead(self) -> bool:
        return bool(self._dead_reservations(self.db))

    def resolve_dead(self, remote: list) -> dict[str, int]:
        """Settle reservations of dead processes against Kaggle's list of our submissions:
        one that Kaggle has (same file name, made after the reservation, ref not yet in the
        ledger) becomes that submission; the others are deleted (the slot was never spent)."""
        out = {"recovered": 0, "released": 0}
        with self.tx() as db:
            known = {r[0] for r in db.execute("SELECT ref FROM submissions WHERE ref IS NOT NULL")}
            for row in self._dead_reservations(db):
                start = datetime.fromisoformat(row["utc"]) - timedelta(seconds=60)
                match = next((r for r in sorted(remote, key=lambda r: r.date or utcnow())
                              if r.ref not in known and r.file_name == row["file"]
                              and r.date is not None
                              and r.date.replace(tzinfo=timezone.utc) >= start), None)
                if match is None:
                    db.execute("DELETE FROM submissions WHERE id=?", (row["id"],))
                    out["released"] += 1
                    continue
                known.add(match.ref)
                now = iso(utcnow())
                db.execute(
                    "UPDATE submissions SET status=?, ref=?, public_score=?, private_score=?, "
                    "error=?, submitted_utc=?, updated_utc=?, pid=NULL WHERE id=?",
                    (match.status, match.ref, match.public_score, match.private_score,
                     match.error or None, iso(match.date), now, row["id"]))
                out["recovered"] += 1
        return out

    def _in_flight(self, db: sqlite3.Connection, competition: str, file: str | None) -> bool:
        """A live process holds a reservation for `file`: it is uploading it right now."""
        dead = {r["id"] for r in self._dead_reservations(db)}
        return any(r["id"] not in dead for r in db.execute(
            "SELECT id FROM submissions WHERE competition=? AND status='reserved' AND file=?",
            (competition, file)))

    def used_today(self, competition: str, now: datetime | None = None) -> int:
        day = (now or utcnow()).date().isoformat()
        return self.db.execute(
            f"SELECT COUNT(*) FROM submissions WHERE competition=? AND day=? AND status IN "
            f"({','.join('?' * len(COUNTED))})", (competition, day, *COUNTED)).fetchone()[0]

    def reserve(self, competition: str, sha256: str | None, file: str, message: str,
                daily_limit: int, api_allowed: int | None = None,
                api_read_utc: datetime | None = None, now: datetime | None = None,
                allow_duplicate: bool = True, archive: str | None = None,
                name: str | None = None, cv_auc: float | None = None,
                lineage: dict | None = None) -> Reservation:
        """Take one of today's slots atomically, or raise KfError when none is left.

        `daily_limit` is checked against today's ledger rows. `api_allowed` is Kaggle's
        `numAllowedNow` read at `api_read_utc`; slots taken since then by other processes
        (reservations, and submissions made after that read) are subtracted from it.
        Unless `allow_duplicate`, content (sha256) already submitted or in flight is refused.
        `name`, `cv_auc` and `lineage` are what the file is submitted as: the row keeps them.
        """
        now = now or utcnow()
        day = now.date().isoformat()
        with self.tx() as db:
            self._reap_dead(db)
            earlier = self.submitted_as(competition, sha256) if sha256 else None
            if earlier is not None and not allow_duplicate:
                raise duplicate_error(file, sha256, competition, earlier)
            used = db.execute(
                f"SELECT COUNT(*) FROM submissions WHERE competition=? AND day=? AND status IN "
                f"({','.join('?' * len(COUNTED))})", (competition, day, *COUNTED)).fetchone()[0]
            left, kaggle_left = daily_limit - used, None
            if api_allowed is not None:
                since = iso(api_read_utc or now)
                taken_since = db.execute(
                    "SELECT COUNT(*) FROM submissions WHERE competition=? AND (status='reserved' "
                    "OR (status IN ('pending','complete') AND submitted_utc >= ?))",
                    (competition, since)).fetchone()[0]
                kaggle_left = api_allowed - taken_since
                left = min(left, kaggle_left)
            if left <= 0:
                raise limit_error(competition, used, daily_limit, kaggle_left, now)
            cur = db.execute(
                """INSERT INTO submissions (competition, sha256, file, utc, day, message, status,
                   source, pid, host, updated_utc, archive, name, cv_auc, lineage)
                   VALUES (?,?,?,?,?,?,'reserved','kf',?,?,?,?,?,?,?)""",
                (competition, sha256, file, iso(now), day, message, os.getpid(),
                 socket.gethostname(), iso(now), archive, name or Path(file).stem, cv_auc,
                 json.dumps(lineage) if lineage else None))
            return Reservation(int(cur.lastrowid), day, left - 1)

    def release(self, res: Reservation) -> None:
        """Give a slot back (the upload failed before Kaggle took the submission)."""
        with self.tx() as db:
            db.execute("DELETE FROM submissions WHERE id=? AND status='reserved'", (res.id,))

    def set_lineage(self, res: Reservation, lineage: dict) -> None:
        """Complete a held reservation's lineage with what became known while it was held (a
        code submission's dataset and kernel versions); a submitted row never changes."""
        with self.tx() as db:
            db.execute("UPDATE submissions SET lineage=? WHERE id=? AND status='reserved'",
                       (json.dumps(lineage), res.id))

    def mark_submitted(self, res: Reservation, ref: int) -> None:
        with self.tx() as db:
            now = iso(utcnow())
            # another process may have merged Kaggle's list (and adopted this ref) meanwhile
            db.execute("DELETE FROM submissions WHERE ref=? AND id<>?", (ref, res.id))
            db.execute("UPDATE submissions SET status='pending', ref=?, submitted_utc=?, "
                       "updated_utc=?, pid=NULL WHERE id=?", (ref, now, now, res.id))

    # --- submissions ---------------------------------------------------------------------
    def submitted_hashes(self, competition: str) -> set[str]:
        rows = self.db.execute(
            "SELECT sha256 FROM submissions WHERE competition=? AND sha256 IS NOT NULL AND "
            "status IN ('reserved','pending','complete')", (competition,))
        return {r[0] for r in rows}

    def submitted_as(self, competition: str, sha256: str) -> sqlite3.Row | None:
        """The first submission (or one in flight) of the content `sha256`, if any."""
        return self.db.execute(
            f"SELECT * FROM submissions WHERE competition=? AND sha256=? AND status IN "
            f"({','.join('?' * len(COUNTED))}) ORDER BY utc, id",
            (competition, sha256, *COUNTED)).fetchone()

    def submissions(self, competition: str) -> list[dict]:
        """Every submission with the name, CV and lineage it was submitted with, and
        `cand_path`: a file kf last knew holding that content (a hint for finding it)."""
        rows = self.db.execute(
            """SELECT s.*, (SELECT c.path FROM candidates c WHERE c.sha256 = s.sha256
                            ORDER BY c.registered_utc DESC, c.id DESC LIMIT 1) AS cand_path
               FROM submissions s WHERE s.competition=? ORDER BY s.utc, s.id""",
            (competition,)).fetchall()
        return [self._with_path(r, "cand_path") for r in rows]

    def by_ref(self, ref: int) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM submissions WHERE ref=?", (ref,)).fetchone()

    def update_remote(self, competition: str, remote, adopt: bool) -> str:
        """Merge one remote submission: refresh a known ref; with `adopt`, record an unknown one
        (made on the website, or by a kf process that died before recording it).
        Returns 'updated', 'added' or 'skipped'."""
        now = iso(utcnow())
        with self.tx() as db:
            row = db.execute("SELECT id FROM submissions WHERE ref=?", (remote.ref,)).fetchone()
            vals = (remote.status, remote.public_score, remote.private_score,
                    remote.error or None, now)
            if row is not None:  # written only when Kaggle's answer changed
                db.execute("UPDATE submissions SET status=?, public_score=?, private_score=?, "
                           "error=?, updated_utc=? WHERE id=? AND (status IS NOT ? OR "
                           "public_score IS NOT ? OR private_score IS NOT ? OR error IS NOT ?)",
                           (*vals, row["id"], *vals[:4]))
                return "updated"
            if not adopt or self._in_flight(db, competition, remote.file_name):
                return "skipped"  # an in-flight reservation's owner records it itself
            date = remote.date or utcnow()
            date_iso = iso(date)
            cand = None
            if remote.file_name:  # a candidate of that file name (and size), newest first
                size = getattr(remote, "total_bytes", None)
                cand = next((c for c in db.execute(
                    "SELECT * FROM candidates ORDER BY registered_utc DESC, id DESC")
                    if Path(c["path"]).name == remote.file_name
                    and (not size or _size(self._located(c["path"])) == size)), None)
            db.execute(
                """INSERT INTO submissions (competition, sha256, file, utc, day, message, ref,
                   status, public_score, private_score, error, source, submitted_utc,
                   updated_utc, name, cv_auc, lineage)
                   VALUES (?,?,?,?,?,?,?,?,?,?,?,'remote',?,?,?,?,?)""",
                (competition, cand["sha256"] if cand else None, remote.file_name, date_iso,
                 date_iso[:10], remote.description, remote.ref, *vals[:4], date_iso, now,
                 cand["name"] if cand else Path(remote.file_name or f"{remote.ref}").stem,
                 cand["cv_auc"] if cand else None, cand["lineage"] if cand else None))
            return "added"

    def set_content(self, ref: int, sha256: str, archive: str) -> None:
        """What submission `ref` (made outside kf) holds, as downloaded from Kaggle: its
        sha256 and archive copy, with the CV and lineage of a candidate of that content
        (replacing a guess made from its file name)."""
        with self.tx() as db:
            cand = db.execute("SELECT cv_auc, lineage FROM candidates WHERE sha256=? ORDER BY "
                              "registered_utc DESC, id DESC", (sha256,)).fetchone()
            db.execute("UPDATE submissions SET sha256=?, archive=?, cv_auc=?, lineage=? "
                       "WHERE ref=? AND source='remote'",
                       (sha256, archive, cand["cv_auc"] if cand else None,
                        cand["lineage"] if cand else None, ref))

    # --- leaderboard ---------------------------------------------------------------------
    def add_snapshot(self, competition: str, rows, our_team: str | None) -> int:
        ours = next((r for r in rows if our_team and r.team_name == our_team), None)
        with self.tx() as db:
            cur = db.execute(
                "INSERT INTO lb_snapshots (competition, utc, n_teams, our_team, our_rank, "
                "our_score) VALUES (?,?,?,?,?,?)",
                (competition, iso(utcnow()), len(rows), our_team,
                 ours.rank if ours else None, ours.score if ours else None))
            sid = int(cur.lastrowid)
            db.executemany(
                "INSERT INTO lb_rows (snapshot_id, rank, team_id, team_name, score, date) "
                "VALUES (?,?,?,?,?,?)",
                [(sid, r.rank, r.team_id, r.team_name, r.score,
                  iso(r.date) if r.date else None) for r in rows])
            return sid

    def snapshots(self, competition: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM lb_snapshots WHERE competition=? ORDER BY utc",
                               (competition,)).fetchall()

