"""The stand-in's HTTP side: a threaded server on 127.0.0.1 and its request handler.

POST `/api/v1/{service}/{method}` goes to `api.dispatch`; PUT `/upload/<token>` stores an
upload; GET `/files/<competition>.zip` serves the data and `/submission-files/<ref>` a submitted
file (where DownloadSubmission redirects). Tests can make it fail:
`fail_next(status, count, method)` answers the next `count` calls of `method` ("upload" and
"download" name the PUT and the GET) — or of any call — with that status, `delay_s` slows
every answer down, and `hold(method)` keeps calls of `method` waiting until `release()` (a
client killed mid-call, however slow the machine).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from kfold.errors import KfError, check_number, check_whole
from kfold.kaggle.sandbox import api
from kfold.kaggle.sandbox.scoring import Scorer
from kfold.kaggle.sandbox.state import SANDBOX_USER, SandboxState, Submission

_API = "/api/v1/"
_MAX_BODY = 200 * 1024 * 1024


@dataclass
class _Failure:
    status: int
    count: int
    method: str | None
    message: str | None = None


class SandboxServer:
    """A stand-in Kaggle competition on 127.0.0.1; `start()` runs it in a daemon thread.

    Usable as a context manager. `url` is what KF_KAGGLE_ENDPOINT should be set to.
    """

    def __init__(self, state: SandboxState, port: int = 0, delay_s: float = 0.0):
        self.state = state
        self.delay_s = delay_s
        self._failures: list[_Failure] = []
        self._held: str | None = None
        self._gate = threading.Event()
        self._gate.set()
        try:
            self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        except OSError as exc:  # the port is taken (or not ours to bind)
            raise KfError(f"cannot serve on 127.0.0.1:{port} ({exc.strerror}); pass another "
                          "--port, or --port 0 for a free one") from None
        self._httpd.daemon_threads = True
        self._httpd.sandbox = self  # what _Handler reaches through self.server
        self._thread: threading.Thread | None = None

    @classmethod
    def from_workspace(cls, ws, port: int = 0, daily_limit: int | None = None,
                       score_delay_s: float = 0.3, delay_s: float = 0.0,
                       reveal_private: bool = True, joined: bool = True,
                       rules_accepted: bool = True, code_competition: bool = False,
                       fail_kernel: str | None = None) -> SandboxServer:
        check_whole("--port", port, 0, 65_535)
        if daily_limit is not None:
            check_whole("--daily-limit", daily_limit, 1, 10_000)
        check_number("--score-delay", score_delay_s, low=0, high=86_400)
        check_number("--slow", delay_s, low=0, high=3_600)
        cfg = ws.config
        scorer = Scorer.for_workspace(ws)
        state = SandboxState(
            competition=cfg.competition, solution=scorer.load(ws.data_dir / "solution.csv"),
            scorer=scorer, data_dir=ws.data_dir,
            daily_limit=cfg.daily_limit if daily_limit is None else daily_limit,
            score_delay_s=score_delay_s, reveal_private=reveal_private, joined=joined,
            rules_accepted=rules_accepted, code_competition=code_competition,
        )
        if fail_kernel is not None:
            state.code.fail(fail_kernel)
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
        self.state.code.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- test controls -------------------------------------------------------------------
    def fail_next(self, status: int, count: int = 1, method: str | None = None,
                  message: str | None = None) -> None:
        """Answer the next `count` calls of `method` (e.g. "CreateSubmission", "upload")
        — or of any call when None — with HTTP `status` and `message` (default: "sandbox:
        injected HTTP <status>"); a server that does not serve a call answers like this."""
        with self.state.lock:
            self._failures.append(_Failure(status, count, method, message))

    def hold(self, method: str) -> None:
        """Keep every call of `method` waiting (before it is answered) until `release()`."""
        self._held = method
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def take_failure(self, method: str) -> tuple[int, str] | None:
        """After a hold and `delay_s`, the status and message to fail this call with, if one
        is due."""
        if method == self._held:
            self._gate.wait()
        if self.delay_s:
            time.sleep(self.delay_s)
        with self.state.lock:
            for f in self._failures:
                if f.count > 0 and (f.method is None or f.method == method):
                    f.count -= 1
                    return f.status, f.message or f"sandbox: injected HTTP {f.status}"
        return None

    def submissions_today(self, team: str | None = None) -> list[Submission]:
        return self.state.submissions_today(team)


def _user(auth: str) -> str | None:
    """The user an Authorization header names: Basic user:key, or any bearer token."""
    if auth.startswith("Basic "):
        try:
            return base64.b64decode(auth[6:]).decode().split(":", 1)[0] or None
        except Exception:  # noqa: BLE001 - a malformed header is simply no user
            return None
    if auth.startswith("Bearer ") and len(auth) > 7:
        return SANDBOX_USER
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kf-sandbox/1"

    @property
    def sandbox(self) -> SandboxServer:
        return self.server.sandbox

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

    def _maybe_fail(self, method: str) -> bool:
        failure = self.sandbox.take_failure(method)
        if failure is None:
            return False
        status, message = failure
        headers = {"Retry-After": "0"} if status == 429 else None
        self._send(status, {"code": status, "message": message}, headers=headers)
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
        user = _user(self.headers.get("Authorization") or "")
        if user is None and method != "IntrospectToken":
            self._send(401, {"code": 401, "message": "Unauthenticated: no credentials"})
            return
        call = api.Call(body=body, user=user or "", base_url=self.sandbox.url)
        try:
            reply = api.dispatch(self.sandbox.state, method, call)
        except Exception as exc:  # noqa: BLE001 - a bug here must not hang the client
            reply = api.error(500, f"sandbox bug: {exc!r}")
        if reply.location is not None:
            self._send(reply.status, b"", headers={"Location": reply.location})
            return
        self._send(reply.status, reply.payload)

    def do_PUT(self) -> None:
        path = urlsplit(self.path).path
        if self._maybe_fail("upload"):
            return
        try:
            raw = self._body()
        except ValueError:
            self._send(413, {"code": 413, "message": "upload too large"})
            return
        token = path.rsplit("/", 1)[-1]
        if not path.startswith("/upload/") or not self.sandbox.state.put_upload(token, raw):
            self._send(404, {"code": 404, "message": "unknown upload URL"})
            return
        self._send(200, {})

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if self._maybe_fail("download"):
            return
        if path == f"/files/{self.sandbox.state.competition}.zip":
            self._send(200, self.sandbox.state.data_zip(), ctype="application/zip",
                       headers={"Accept-Ranges": "none"})
            return
        if path.startswith("/kernel-files/"):
            data = self._kernel_file(path)
            if data is not None:
                self._send(200, data, ctype="application/octet-stream")
                return
        if path.startswith("/submission-files/") and path.rsplit("/", 1)[-1].isdigit():
            sub = next((s for s in self.sandbox.state.submissions
                        if s.ref == int(path.rsplit("/", 1)[-1])), None)
            if sub is not None:
                self._send(200, sub.content, ctype="text/csv")
                return
        self._send(404, {"code": 404, "message": f"no such path {path}"})

    def _kernel_file(self, path: str) -> bytes | None:
        """/kernel-files/<owner>/<slug>/<version>/<name>: a file a kernel version wrote."""
        parts = path.split("/")[2:]
        if len(parts) != 4 or not parts[2].isdigit():
            return None
        state = self.sandbox.state
        with state.lock:
            version = state.code.version(f"{parts[0]}/{parts[1]}", int(parts[2]))
            found = {p.name: p for p in state.code.outputs(version)} if version else {}
        return found[parts[3]].read_bytes() if parts[3] in found else None
