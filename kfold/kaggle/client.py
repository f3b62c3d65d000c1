"""A thin wrapper on the real `kaggle` client (`KaggleApi`): credentials, retries, one-line errors.

Every network call goes through `kaggle.api.kaggle_api_extended.KaggleApi` and the
`kagglesdk` client it builds, so the same code talks to kaggle.com and to the local stand-in.

Pointing it elsewhere: kagglesdk's own switch works as for the `kaggle` CLI
(`KAGGLE_API_ENVIRONMENT=LOCALHOST` means http://localhost on port 80, `TEST`
http://localhost:7777, `STAGING`, ...). kagglesdk only knows fixed hosts, so
`KF_KAGGLE_ENDPOINT=http://127.0.0.1:PORT` (what `kf sandbox serve` prints) makes kf build the
client in kagglesdk's LOCALHOST mode and set its endpoint to that URL; requests then go to
`{endpoint}/api/v1/{service}/{method}`. With neither, the client talks to
https://api.kaggle.com as usual.

Credentials are whatever the package supports: `KAGGLE_API_TOKEN` or `~/.kaggle/access_token`,
`KAGGLE_USERNAME` + `KAGGLE_KEY`, or `kaggle.json` in `KAGGLE_CONFIG_DIR` / `~/.kaggle` /
`~/.config/kaggle`. kf never prints or stores the key.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import stat
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from kfold.errors import KfError, first_line

ENDPOINT_ENV = "KF_KAGGLE_ENDPOINT"
T = TypeVar("T")

HOW_TO_SET = (
    "no Kaggle credentials found: download kaggle.json from kaggle.com > Settings > API > "
    "Create New Token into ~/.kaggle/ (chmod 600), or set KAGGLE_USERNAME and KAGGLE_KEY, "
    "or KAGGLE_API_TOKEN"
)


class KaggleUnreachable(KfError):
    """The network is down or the host does not answer: nothing was spent."""


class KaggleHttpError(KfError):
    """Kaggle answered with an error that retrying will not fix."""

    def __init__(self, message: str, status: int | None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Credentials:
    """Explicit credentials (the demo uses these); `key` is never printed."""

    username: str
    key: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, key=***)"


@dataclass(frozen=True)
class RemoteSubmission:
    ref: int
    date: datetime
    file_name: str | None
    description: str | None
    status: str  # pending | complete | error
    public_score: float | None
    private_score: float | None
    error: str | None
    total_bytes: int | None = None  # the file's size (ApiSubmission.totalBytes)


@dataclass(frozen=True)
class Limits:
    num_today: int
    num_total: int
    num_allowed_now: int


@dataclass(frozen=True)
class LeaderboardRow:
    rank: int
    team_id: int
    team_name: str
    score: float | None
    date: datetime | None


# --- credentials ---------------------------------------------------------------------------
def config_dir() -> Path:
    """Where the kaggle package looks for kaggle.json (same rule as KaggleApi)."""
    env = os.environ.get("KAGGLE_CONFIG_DIR")
    if env:
        return Path(env)
    home = Path(os.path.expanduser("~")) / ".kaggle"
    if sys.platform.startswith("linux") and not home.exists():
        xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        return Path(xdg) / "kaggle"
    return home


def check_credentials() -> tuple[str, list[str]]:
    """Which credential source the kaggle package will use, and warnings about it.

    Raises KfError with how to set them when there are none. Reads no secret into output.
    """
    warnings: list[str] = []
    cfg = config_dir() / "kaggle.json"
    if cfg.exists() and os.name != "nt":
        mode = cfg.stat().st_mode
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            warnings.append(f"{cfg} is readable by other users; run: chmod 600 {cfg}")
    if os.environ.get("KAGGLE_API_TOKEN"):
        return "KAGGLE_API_TOKEN", warnings
    for name in ("access_token", "access_token.txt"):
        tok = Path(os.path.expanduser("~/.kaggle")) / name
        if tok.exists() and tok.read_text().strip():
            return str(tok), warnings
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return "KAGGLE_USERNAME/KAGGLE_KEY", warnings
    if cfg.exists():
        try:
            data = json.loads(cfg.read_text() or "{}")
        except json.JSONDecodeError:
            raise KfError(f"{cfg} is not valid JSON; download a fresh one from kaggle.com > "
                          f"Settings > API") from None
        if data.get("username") and data.get("key"):
            return str(cfg), warnings
        raise KfError(f"{cfg} lacks 'username' or 'key'; download a fresh one from kaggle.com "
                      f"> Settings > API")
    raise KfError(HOW_TO_SET)


def endpoint() -> str | None:
    """The Kaggle API address to use instead of kaggle.com ($KF_KAGGLE_ENDPOINT), if any."""
    url = os.environ.get(ENDPOINT_ENV, "").strip().rstrip("/")
    if not url:
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise KfError(f"{ENDPOINT_ENV}={url!r} is not an http(s) URL; set it to the address "
                      "`kf sandbox serve` prints (e.g. http://127.0.0.1:8765), or unset it to "
                      "use kaggle.com")
    return url


# --- the KaggleApi subclass ------------------------------------------------------------------
@contextlib.contextmanager
def _quiet():
    """The kaggle package prints (auth help, version warnings); keep it off our output."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def _api_class():
    with _quiet():
        from kaggle.api.kaggle_api_extended import KaggleApi
    return KaggleApi


def sdk_environment():
    """kagglesdk's environment from $KAGGLE_API_ENVIRONMENT (PROD when unset)."""
    from kagglesdk.kaggle_env import get_env

    try:
        return get_env()
    except Exception:  # noqa: BLE001 - kagglesdk raises a bare Exception for unknown names
        raise KfError(f"KAGGLE_API_ENVIRONMENT={os.environ.get('KAGGLE_API_ENVIRONMENT')!r} is "
                      "not one kagglesdk knows (PROD, LOCALHOST, TEST, STAGING, ADMIN, QA); "
                      "unset it to use kaggle.com") from None


def _make_api(url: str | None, creds: Credentials | None):
    KaggleApi = _api_class()
    env = sdk_environment()

    class _KfKaggleApi(KaggleApi):
        """KaggleApi with the config dir read now (not at import) and an optional endpoint."""

        def __init__(self):
            super().__init__()
            self.config_dir = str(config_dir())
            self.config = os.path.join(self.config_dir, self.config_file)
            self.args = ["--local"] if url else []
            self.config_values = {}

        def _load_config(self) -> None:
            super()._load_config()
            if creds is not None:
                self.config_values.pop(self.CONFIG_NAME_TOKEN, None)
                self.config_values[self.CONFIG_NAME_USER] = creds.username
                self.config_values[self.CONFIG_NAME_KEY] = creds.key

        def build_kaggle_client(self):
            from kagglesdk.kaggle_env import get_endpoint

            client = super().build_kaggle_client()
            if url:
                client._http_client._endpoint = url
            elif client._http_client._env != env:  # KaggleApi knows only --local; kagglesdk more
                client._http_client._env = env
                client._http_client._endpoint = get_endpoint(env)
            return client

    return _KfKaggleApi()


def _status_of(exc: BaseException) -> int | None:
    resp = getattr(exc, "response", None)
    return getattr(resp, "status_code", None)


def _message_of(exc: BaseException) -> str:
    resp = getattr(exc, "response", None)
    if resp is not None:
        with contextlib.suppress(ValueError):  # a body that is not JSON
            body = resp.json()
            if isinstance(body, dict) and body.get("message"):
                return str(body["message"])
    return first_line(exc)


class KaggleClient:
    """The calls kf makes, on one competition, with retries on 429/5xx.

    `retries` attempts per call with exponential backoff from `backoff_s` (Retry-After wins
    when the server sends one). A connection failure raises `KaggleUnreachable`; any other
    HTTP error raises `KaggleHttpError` with one line.
    """

    def __init__(self, competition: str, *, credentials: Credentials | None = None,
                 url: str | None = None, retries: int = 5, backoff_s: float = 0.5,
                 log: Callable[[str], None] | None = None):
        if not competition:
            raise KfError("no competition: set `competition` in kfold.toml or pass --competition")
        self.competition = competition
        self.url = url if url is not None else endpoint()
        self.retries = retries
        self.backoff_s = backoff_s
        self.log = log or (lambda msg: None)
        self.warnings: list[str] = []
        if credentials is None:
            self.source, self.warnings = check_credentials()
        else:
            self.source = "explicit"
        self._api = _make_api(self.url, credentials)
        with _quiet():
            try:
                self._api.authenticate()
            except SystemExit:
                raise KfError(HOW_TO_SET) from None
            except Exception as exc:  # noqa: BLE001 - token introspection over the network
                self._raise(exc, "authenticate")

    @property
    def username(self) -> str | None:
        return self._api.config_values.get(self._api.CONFIG_NAME_USER)

    @property
    def where(self) -> str:
        from kagglesdk.kaggle_env import get_endpoint

        return self.url or get_endpoint(sdk_environment())

    # --- plumbing ------------------------------------------------------------------------
    def _raise(self, exc: BaseException, what: str):
        import requests

        if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
            raise KaggleUnreachable(f"cannot reach Kaggle at {self.where} ({what}): "
                                    f"{type(exc).__name__}; nothing was spent") from None
        status = _status_of(exc)
        if status is not None:
            message = _message_of(exc)
            why = self._why(status, message, what)
            if why:
                raise KaggleHttpError(f"Kaggle {what} refused (HTTP {status}): {why}",
                                      status) from None
            hint = " (check your Kaggle credentials)" if status == 401 else ""
            raise KaggleHttpError(f"Kaggle {what} failed: HTTP {status}: {message}{hint}",
                                  status) from None
        raise exc

    def _why(self, status: int, message: str, what: str = "") -> str | None:
        """Which of the usual 400/403/404 causes a refusal is, with the fix; None if none.
        A 404 is a wrong slug only when the server says the competition is not found; any
        other 404 (a call the server does not serve, a submission it does not have) is told
        in the server's own words."""
        text = message.lower()
        page = f"https://www.kaggle.com/competitions/{self.competition}"
        if status in (400, 403) and "rule" in text:
            return (f"the rules of {self.competition!r} are not accepted yet; open {page}/rules, "
                    f"accept them with the account whose key kf uses, then rerun")
        if status in (400, 403) and any(w in text for w in ("participa", "join", "entered")):
            return (f"you have not joined {self.competition!r}; click Join Competition on "
                    f"{page} with the account whose key kf uses, then rerun")
        if status in (400, 404) and "not found" in text and "competition" in text:
            return (f"no competition named {self.competition!r}; set `competition` in "
                    f"kfold.toml or --competition to the slug at the end of the "
                    f"competition's URL (kaggle.com/competitions/<slug>)")
        if status == 404 and what != "authenticate":
            return (f"the server says {message!r} (if {self.competition!r} is not the "
                    f"competition's slug, set `competition` in kfold.toml or --competition "
                    f"to the one in its URL)")
        if status == 403:
            return (f"{message} (have you joined {self.competition!r} and accepted its rules "
                    f"on {page}?)")
        return None

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run `fn`, retrying 429 and 5xx with exponential backoff."""
        import requests

        delay = self.backoff_s
        for attempt in range(1, self.retries + 1):
            try:
                with _quiet():
                    return fn()
            except requests.exceptions.RequestException as exc:
                status = _status_of(exc)
                retriable = status is not None and (status == 429 or status >= 500)
                if not retriable or attempt == self.retries:
                    self._raise(exc, what)
                wait = delay * (1 + 0.25 * random.random())
                retry_after = exc.response.headers.get("Retry-After") if exc.response is not None else None
                if retry_after is not None:
                    try:
                        wait = min(float(retry_after), 60.0)
                    except ValueError:
                        pass
                self.log(f"{what}: HTTP {status}, retry {attempt}/{self.retries - 1} in {wait:.1f}s")
                time.sleep(wait)
                delay *= 2
        raise AssertionError("unreachable")

    def _sdk(self):
        return self._api.build_kaggle_client()

    # --- calls ---------------------------------------------------------------------------
    def limits(self) -> Limits:
        res = self._call("submission limits",
                         lambda: self._api.competition_get_submission_limits(self.competition))
        return Limits(res.num_today, res.num_total, res.num_allowed_now)

    def upload(self, path: Path, message: str, on_uploaded: Callable[[], None] | None = None,
               file_name: str | None = None) -> int:
        """The upload URL flow: start upload -> PUT bytes -> create submission. Returns the ref.
        `file_name` is the name Kaggle shows (default: the path's; kf uploads an archived copy
        under the candidate's name)."""
        from kagglesdk.competitions.types.competition_api_service import (
            ApiCreateSubmissionRequest,
            ApiStartSubmissionUploadRequest,
        )

        path = Path(path)

        def start():
            with self._sdk() as kaggle:
                req = ApiStartSubmissionUploadRequest()
                req.competition_name = self.competition
                req.file_name = file_name or path.name
                req.content_length = path.stat().st_size
                req.last_modified_epoch_seconds = int(path.stat().st_mtime)
                return kaggle.competitions.competition_api_client.start_submission_upload(req)

        started = self._call("start upload", start)
        self._put(path, started.create_url)
        if on_uploaded:
            on_uploaded()

        def create():
            with self._sdk() as kaggle:
                req = ApiCreateSubmissionRequest()
                req.competition_name = self.competition
                req.blob_file_tokens = started.token
                if message:
                    req.submission_description = message
                return kaggle.competitions.competition_api_client.create_submission(req)

        res = self._call("create submission", create)
        if not res.ref:
            raise KaggleHttpError(f"Kaggle did not accept the submission: {res.message}", None)
        return int(res.ref)

    def _put(self, path: Path, url: str) -> None:
        """PUT the bytes with KaggleApi.upload_complete, retrying what it reports as retriable."""
        with _quiet():
            from kaggle.api.kaggle_api_extended import ResumableUploadResult
        delay = self.backoff_s
        for attempt in range(1, self.retries + 1):
            with _quiet():
                result = self._api.upload_complete(str(path), url, quiet=True)
            if result == ResumableUploadResult.COMPLETE:
                return
            # FAILED: the server refused the bytes (e.g. a 5xx); INCOMPLETE: no connection.
            # Nothing is spent until CreateSubmission, so both are safe to retry.
            if attempt == self.retries:
                if result == ResumableUploadResult.FAILED:
                    raise KaggleHttpError(f"uploading {path.name} to {self.where} failed: the "
                                          f"server refused the file", None)
                raise KaggleUnreachable(f"uploading {path.name} to {self.where} failed: no "
                                        f"connection; nothing was spent")
            self.log(f"upload: {result}, retry {attempt}/{self.retries - 1} in {delay:.1f}s")
            time.sleep(delay)
            delay *= 2

    def _pages(self, what: str, request_type, page_size: int, method: str, max_pages: int):
        """Yield the items of every page of a paged competitions call (`submissions` field);
        stops at an empty page or a page token already followed (a server ignoring tokens)."""
        token, seen = "", {""}
        for _ in range(max_pages):
            def page(token=token):
                with self._sdk() as kaggle:
                    req = request_type()
                    req.competition_name = self.competition
                    req.page_size = page_size
                    req.page_token = token
                    return getattr(kaggle.competitions.competition_api_client, method)(req)

            res = self._call(what, page)
            items = [s for s in res.submissions or [] if s is not None]
            yield from items
            token = res.next_page_token
            if not token or not items or token in seen:
                return
            seen.add(token)

    def submissions(self, max_pages: int = 50) -> list[RemoteSubmission]:
        """All our submissions on the competition, newest first."""
        from kagglesdk.competitions.types.competition_api_service import ApiListSubmissionsRequest

        out: dict[int, RemoteSubmission] = {}
        for s in self._pages("list submissions", ApiListSubmissionsRequest, 100,
                             "list_submissions", max_pages):
            out.setdefault(int(s.ref), _remote(s))  # a page served twice adds nothing
        return list(out.values())

    def leaderboard(self, max_rows: int = 10_000) -> list[LeaderboardRow]:
        """The public leaderboard, best first (all pages, up to `max_rows`)."""
        from kagglesdk.competitions.types.competition_api_service import ApiGetLeaderboardRequest

        rows: list[LeaderboardRow] = []
        for s in self._pages("leaderboard", ApiGetLeaderboardRequest, 200, "get_leaderboard",
                             max_pages=-(-max_rows // 200)):
            rows.append(LeaderboardRow(len(rows) + 1, int(s.team_id or 0), s.team_name or "",
                                       _float(s.score), s.submission_date))
        return rows[:max_rows]

    def download_submission(self, ref: int) -> bytes:
        """The bytes of one of our earlier submissions (Kaggle's DownloadSubmission)."""
        from kagglesdk.competitions.types.competition_api_service import (
            ApiDownloadSubmissionRequest,
        )

        def fetch() -> bytes:
            with self._sdk() as kaggle:
                req = ApiDownloadSubmissionRequest()
                req.submission_id = int(ref)
                return kaggle.competitions.competition_api_client.download_submission(req).content

        return self._call(f"download of submission {ref}", fetch)

    def download(self, dest: Path) -> Path:
        """Download the competition's zip into `dest` and return its path (not unpacked)."""
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        self._call("download data",
                   lambda: self._api.competition_download_files(self.competition, str(dest),
                                                                force=True, quiet=True))
        zips = sorted(dest.glob(f"{self.competition}.*"))
        if not zips:
            raise KfError(f"Kaggle returned no data file for {self.competition!r}")
        return zips[0]


def _float(value) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _remote(s) -> RemoteSubmission:
    date = s.date
    if date is not None and date.tzinfo is not None:
        date = date.astimezone(timezone.utc).replace(tzinfo=None)
    return RemoteSubmission(
        ref=int(s.ref), date=date, file_name=s.file_name, description=s.description,
        status=s.status.name.lower() if s.status is not None else "pending",
        public_score=_float(s.public_score), private_score=_float(s.private_score),
        error=s.error_description, total_bytes=s.total_bytes or None,
    )
