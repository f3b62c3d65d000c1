"""The local stand-in for Kaggle: `kf sandbox serve`.

An HTTP server on 127.0.0.1 that speaks the subset of the Kaggle API the real `kaggle`
client uses for a competition loop, in the request/response shapes of `kagglesdk`:

- every call is `POST {base}/api/v1/{service}/{method}` with a JSON body whose keys are the
  camelCase field names of the kagglesdk request type; errors are JSON `{"code", "message"}`
  with the same HTTP status (what `KaggleHttpClient._prepare_response` raises on);
- a submission is three requests, as on Kaggle: `StartSubmissionUpload` returns a blob
  `token` and a `createUrl`; the client PUTs the file bytes to that URL; `CreateSubmission`
  names the token and gets back a `ref`;
- `DownloadDataFiles` answers with a redirect to a zip of the competition data (never the
  solution file);
- `security.OAuthService/IntrospectToken` accepts any bearer token, so access-token auth works.

Uploaded files are scored against `solution.csv` (columns id, label, Usage) by ROC AUC,
separately on the Public and Private ids, after `score_delay_s` (status PENDING until then).
A daily limit (UTC day) is enforced on CreateSubmission. For tests it can be told to fail:
`fail_next(status, count, method)` answers the next `count` calls of `method` (or any) with
that status, and `delay_s` slows every answer down.
"""

from __future__ import annotations

import io
import json
import secrets
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from kfold.errors import KfError

SANDBOX_USER = "sandbox-user"
_API = "/api/v1/"
_MAX_BODY = 200 * 1024 * 1024


def _utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _iso(dt: datetime) -> str:
    """kagglesdk's DateTimeSerializer format: naive UTC, milliseconds, trailing Z."""
    return dt.isoformat(timespec="milliseconds") + "Z"


@dataclass
class _Submission:
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


@dataclass
class _Failure:
    status: int
    count: int
    method: str | None


@dataclass
class SandboxState:
    """Everything the stand-in knows: the competition, its solution, and what was submitted."""

    competition: str
    solution: pd.DataFrame
    id_column: str
    target_column: str
    data_dir: Path | None
    daily_limit: int = 5
    score_delay_s: float = 0.3
    rivals: int = 12
    reveal_private: bool = True  # Kaggle hides private scores until the end; the demo shows them
    seed: int = 0
    submissions: list[_Submission] = field(default_factory=list)
    uploads: dict[str, bytes | None] = field(default_factory=dict)
    upload_names: dict[str, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    # refs are unique across stand-in runs too (a workspace's ledger outlives the server)
    ref_base: int = field(default_factory=lambda: int(time.time() * 1000) * 100)


def load_solution(path: Path, id_column: str = "id", target_column: str = "label") -> pd.DataFrame:
    if not path.exists():
        raise KfError(f"{path} not found: the stand-in scores against the solution file that "
                      f"`kf data synth` writes; run it first")
    sol = pd.read_csv(path, dtype={id_column: str})
    need = {id_column, target_column, "Usage"}
    if not need <= set(sol.columns):
        raise KfError(f"{path}: needs columns {sorted(need)}, found {list(sol.columns)}")
    return sol


def score_file(content: bytes, solution: pd.DataFrame, id_column: str,
               target_column: str) -> tuple[float, float]:
    """ROC AUC of an uploaded CSV on the Public and on the Private ids; ValueError if invalid."""
    try:
        sub = pd.read_csv(io.BytesIO(content), dtype={id_column: str})
    except Exception as exc:  # noqa: BLE001 - any parse failure is the file's fault
        raise ValueError(f"could not parse the submission as CSV ({exc})") from None
    if id_column not in sub.columns or len(sub.columns) != 2:
        raise ValueError(f"expected 2 columns with {id_column!r}, found {list(sub.columns)}")
    pred_col = next(c for c in sub.columns if c != id_column)
    if sub[id_column].duplicated().any():
        raise ValueError("duplicate ids in the submission")
    if set(sub[id_column]) != set(solution[id_column]):
        raise ValueError("submission ids do not match the solution ids")
    preds = sub[[id_column, pred_col]].rename(columns={pred_col: "__pred"})
    merged = solution.merge(preds, on=id_column)
    pred = pd.to_numeric(merged["__pred"], errors="coerce")
    if pred.isna().any():
        raise ValueError("missing or non-numeric predictions")
    out = []
    for usage in ("Public", "Private"):
        part = merged["Usage"] == usage
        y = merged.loc[part, target_column].to_numpy()
        out.append(float(roc_auc_score(y, pred[part].to_numpy())) if len(set(y)) > 1 else float("nan"))
    return out[0], out[1]


class SandboxServer:
    """A stand-in Kaggle competition on 127.0.0.1; `start()` runs it in a daemon thread.

    Usable as a context manager. `url` is what KF_KAGGLE_ENDPOINT should be set to.
    """

    def __init__(self, state: SandboxState, port: int = 0, delay_s: float = 0.0):
        self.state = state
        self.delay_s = delay_s
        self._failures: list[_Failure] = []
        self._lock = threading.RLock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @classmethod
    def from_workspace(cls, ws, port: int = 0, daily_limit: int | None = None,
                       score_delay_s: float = 0.3, delay_s: float = 0.0,
                       reveal_private: bool = True) -> SandboxServer:
        cfg = ws.config
        sol = load_solution(ws.data_dir / "solution.csv", cfg.id_column, cfg.target_column)
        state = SandboxState(
            competition=cfg.competition, solution=sol, id_column=cfg.id_column,
            target_column=cfg.target_column, data_dir=ws.data_dir,
            daily_limit=cfg.daily_limit if daily_limit is None else daily_limit,
            score_delay_s=score_delay_s, reveal_private=reveal_private,
        )
        return cls(state, port=port, delay_s=delay_s)

    # --- lifecycle -----------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.2)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- test controls -------------------------------------------------------------------
    def fail_next(self, status: int, count: int = 1, method: str | None = None) -> None:
        """Answer the next `count` calls of `method` (e.g. "CreateSubmission", "upload")
        — or of any call when None — with HTTP `status`."""
        with self._lock:
            self._failures.append(_Failure(status, count, method))

    def _take_failure(self, method: str) -> int | None:
        with self._lock:
            for f in self._failures:
                if f.count > 0 and (f.method is None or f.method == method):
                    f.count -= 1
                    return f.status
        return None

    def submissions_today(self, team: str | None = None) -> list[_Submission]:
        today = _utcnow().date()
        with self._lock:
            return [s for s in self.state.submissions
                    if s.date.date() == today and (team is None or s.team == team)]

    # --- scoring -------------------------------------------------------------------------
    def _refresh(self, sub: _Submission) -> None:
        if sub.status != "PENDING":
            return
        if (_utcnow() - sub.date).total_seconds() < self.state.score_delay_s:
            return
        st = self.state
        try:
            sub.public, sub.private = score_file(sub.content, st.solution, st.id_column,
                                                 st.target_column)
            sub.status = "COMPLETE"
        except ValueError as exc:
            sub.status, sub.error = "ERROR", str(exc)

    def _api_submission(self, sub: _Submission) -> dict:
        self._refresh(sub)
        out = {
            "ref": sub.ref, "totalBytes": len(sub.content), "date": _iso(sub.date),
            "description": sub.description, "fileName": sub.file_name, "status": sub.status,
            "submittedBy": sub.team, "teamName": sub.team,
            "url": f"/competitions/{self.state.competition}/submissions#{sub.ref}",
        }
        if sub.status == "COMPLETE":
            out["publicScore"] = f"{sub.public:.5f}"
            if self.state.reveal_private:
                out["privateScore"] = f"{sub.private:.5f}"
        if sub.error:
            out["errorDescription"] = sub.error
        return out

    def _rivals(self) -> list[dict]:
        rng = np.random.default_rng(self.state.seed)
        base = _utcnow().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
        scores = np.sort(rng.uniform(0.80, 0.995, self.state.rivals))[::-1]
        return [{"teamId": 1000 + i, "teamName": f"rival-{i:02d}",
                 "submissionDate": _iso(base + timedelta(hours=int(h))), "score": f"{s:.5f}"}
                for i, (s, h) in enumerate(zip(scores, rng.integers(0, 60, len(scores))))]

    # --- the API -------------------------------------------------------------------------
    def handle(self, method: str, body: dict, user: str, base_url: str) -> tuple[int, dict]:
        st = self.state
        comp = body.get("competitionName")
        if comp is not None and comp != st.competition and method != "IntrospectToken":
            return 404, {"code": 404, "message": f"Competition '{comp}' not found"}
        with self._lock:
            st.calls.append(method)
            if method == "IntrospectToken":
                return 200, {"active": True, "username": SANDBOX_USER, "scope": "resources.admin:*"}
            if method == "StartSubmissionUpload":
                token = secrets.token_hex(12)
                st.uploads[token] = None
                st.upload_names[token] = body.get("fileName") or "submission.csv"
                return 200, {"token": token, "createUrl": f"{base_url}/upload/{token}"}
            if method == "CreateSubmission":
                token = body.get("blobFileTokens", "")
                if st.uploads.get(token) is None:
                    return 400, {"code": 400, "message": "Invalid blob file token: upload the file first"}
                used = len(self.submissions_today(user))
                if used >= st.daily_limit:
                    return 400, {"code": 400, "message": (
                        f"Submission not allowed: your team has used its daily submission "
                        f"allowance ({st.daily_limit}) today, try again tomorrow UTC")}
                content = st.uploads.pop(token)
                ref = st.ref_base + len(st.submissions) + 1
                st.submissions.append(_Submission(
                    ref=ref, team=user, date=_utcnow(),
                    file_name=st.upload_names.pop(token, "submission.csv"),
                    description=body.get("submissionDescription") or "", content=content))
                return 200, {"message": f"Successfully submitted to {st.competition}", "ref": ref}
            if method == "ListSubmissions":
                mine = sorted((s for s in st.submissions if s.team == user),
                              key=lambda s: s.date, reverse=True)
                size = int(body.get("pageSize") or 20)
                start = int(body.get("pageToken") or 0)
                page = mine[start:start + size]
                nxt = str(start + size) if start + size < len(mine) else ""
                return 200, {"submissions": [self._api_submission(s) for s in page],
                             "nextPageToken": nxt}
            if method == "GetSubmission":
                for s in st.submissions:
                    if s.ref == int(body.get("ref", 0)) and s.team == user:
                        return 200, self._api_submission(s)
                return 404, {"code": 404, "message": "Submission not found"}
            if method == "GetSubmissionLimits":
                mine = [s for s in st.submissions if s.team == user]
                today = len(self.submissions_today(user))
                return 200, {"numToday": today, "numTotal": len(mine),
                             "numAllowedNow": max(0, st.daily_limit - today),
                             "limitedByTotal": False}
            if method == "GetLeaderboard":
                rows = self._leaderboard()
                size = int(body.get("pageSize") or 20)
                start = int(body.get("pageToken") or 0)
                nxt = str(start + size) if start + size < len(rows) else ""
                return 200, {"submissions": rows[start:start + size], "nextPageToken": nxt}
            if method == "DownloadDataFiles":
                return 302, {"location": f"{base_url}/files/{st.competition}.zip"}
        return 404, {"code": 404, "message": f"Unknown method {method}"}

    def _leaderboard(self) -> list[dict]:
        rows = self._rivals()
        best: dict[str, _Submission] = {}
        for s in self.state.submissions:
            self._refresh(s)
            if s.status == "COMPLETE" and (s.team not in best or s.public > best[s.team].public):
                best[s.team] = s
        for i, (team, s) in enumerate(sorted(best.items())):
            rows.append({"teamId": 1 + i, "teamName": team, "submissionDate": _iso(s.date),
                         "score": f"{s.public:.5f}"})
        return sorted(rows, key=lambda r: (-float(r["score"]), r["submissionDate"]))

    def data_zip(self) -> bytes:
        """The competition files as Kaggle serves them: everything but the solution."""
        buf = io.BytesIO()
        root = self.state.data_dir
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            if root is not None and root.exists():
                for path in sorted(root.rglob("*")):
                    if path.is_file() and path.name != "solution.csv":
                        zf.write(path, path.relative_to(root).as_posix())
        return buf.getvalue()


def _make_handler(server: SandboxServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "kf-sandbox/1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, payload: dict | bytes, ctype: str = "application/json",
                  headers: dict | None = None) -> None:
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> bytes:
            n = int(self.headers.get("Content-Length") or 0)
            if n > _MAX_BODY:
                raise ValueError("body too large")
            return self.rfile.read(n) if n else b""

        def _user(self) -> str | None:
            auth = self.headers.get("Authorization") or ""
            if auth.startswith("Basic "):
                import base64

                try:
                    return base64.b64decode(auth[6:]).decode().split(":", 1)[0] or None
                except Exception:  # noqa: BLE001
                    return None
            if auth.startswith("Bearer ") and len(auth) > 7:
                return SANDBOX_USER
            return None

        def _base_url(self) -> str:
            return f"http://127.0.0.1:{server.port}"

        def _maybe_fail(self, method: str) -> bool:
            if server.delay_s:
                time.sleep(server.delay_s)
            status = server._take_failure(method)
            if status is None:
                return False
            headers = {"Retry-After": "0"} if status == 429 else None
            self._send(status, {"code": status, "message": f"sandbox: injected HTTP {status}"},
                       headers=headers)
            return True

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            try:
                raw = self._body()
            except ValueError:
                self._send(413, {"code": 413, "message": "request too large"})
                return
            if not path.startswith(_API):
                self._send(404, {"code": 404, "message": f"no such path {path}"})
                return
            method = path.rsplit("/", 1)[-1]
            if self._maybe_fail(method):
                return
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                self._send(400, {"code": 400, "message": "body is not JSON"})
                return
            user = self._user()
            if user is None and method != "IntrospectToken":
                self._send(401, {"code": 401, "message": "Unauthenticated: no credentials"})
                return
            try:
                status, payload = server.handle(method, body, user or "", self._base_url())
            except Exception as exc:  # noqa: BLE001 - a bug here must not hang the client
                status, payload = 500, {"code": 500, "message": f"sandbox bug: {exc!r}"}
            if status == 302:
                self._send(302, b"", headers={"Location": payload["location"]})
                return
            self._send(status, payload)

        def do_PUT(self) -> None:
            path = urlsplit(self.path).path
            if self._maybe_fail("upload"):
                return
            token = path.rsplit("/", 1)[-1]
            try:
                raw = self._body()
            except ValueError:
                self._send(413, {"code": 413, "message": "upload too large"})
                return
            with server._lock:
                if not path.startswith("/upload/") or token not in server.state.uploads:
                    self._send(404, {"code": 404, "message": "unknown upload URL"})
                    return
                server.state.uploads[token] = raw
            self._send(200, {})

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            if self._maybe_fail("download"):
                return
            if path == f"/files/{server.state.competition}.zip":
                data = server.data_zip()
                self._send(200, data, ctype="application/zip",
                           headers={"Accept-Ranges": "none"})
                return
            self._send(404, {"code": 404, "message": f"no such path {path}"})

    return Handler
