"""The Kaggle calls of a code competition, through the real `kaggle` client.

`CodeClient` adds to `KaggleClient` (same credentials, endpoint, retries and one-line errors):
whether the competition takes notebooks (GetCompetition), a dataset's status, upload of a
package as a new dataset or a new version of one (`dataset_create_new`/`_version`, folders
zipped as Kaggle unpacks them), the wait until it is ready (exponential backoff on
`dataset_status`, never a fixed sleep), `kernels_push` (keeping the version it returns), the
wait for that version's run (the log tail and Kaggle's failure class on error) and
`competition_submit_code` of exactly that version.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from kfold.errors import KfError
from kfold.kaggle.client import KaggleClient, KaggleHttpError

# What Kaggle reports a failed notebook as, by class (the words its error descriptions use).
FAILURE_CLASSES = ("Notebook Timeout", "Notebook Threw Exception", "Exceeded Allowed Compute",
                   "Submission CSV Not Found", "Scoring Error")
DATASET_METADATA = "dataset-metadata.json"


def failure_class(text: str | None) -> str:
    """The class of a failure message (`Notebook Threw Exception` when it names none)."""
    found = next((c for c in FAILURE_CLASSES if c.lower() in (text or "").lower()), None)
    return found or "Notebook Threw Exception"


class Backoff:
    """Waits of `first` seconds doubling up to `most`, until `timeout` seconds have passed."""

    def __init__(self, first: float, most: float, timeout: float,
                 sleep: Callable[[float], None] = time.sleep):
        self.wait, self.most, self.sleep = first, most, sleep
        self.deadline = time.monotonic() + timeout

    def next(self) -> bool:
        """Sleep the next wait; False when the time is up."""
        if time.monotonic() >= self.deadline:
            return False
        self.sleep(min(self.wait, max(self.deadline - time.monotonic(), 0.0)))
        self.wait = min(self.wait * 2, self.most)
        return True


class CodeClient(KaggleClient):
    """KaggleClient with the calls of a code competition."""

    def is_code_competition(self) -> bool:
        from kagglesdk.competitions.types.competition_api_service import ApiGetCompetitionRequest

        def get():
            with self._sdk() as kaggle:
                req = ApiGetCompetitionRequest()
                req.competition_name = self.competition
                return kaggle.competitions.competition_api_client.get_competition(req)

        return bool(self._call("competition", get).is_kernels_submissions_only)

    # --- the package as a dataset --------------------------------------------------------
    def dataset_status(self, ref: str) -> str | None:
        """"ready", another processing state, or None when there is no such dataset."""
        try:
            return self._call(f"status of dataset {ref}", lambda: self._api.dataset_status(ref))
        except KaggleHttpError as exc:
            if exc.status == 404:
                return None
            raise

    def dataset_version(self, ref: str) -> int:
        raw = self._call(f"dataset {ref}", lambda: self._api.dataset_status(
            ref, format="json(current_version_number)"))
        return int(json.loads(raw)["current_version_number"])

    def wait_dataset(self, ref: str, timeout: float, first: float = 0.5) -> None:
        """Until `ref`'s last version is ready: polled with backoff, never a fixed sleep."""
        backoff = Backoff(first, 30.0, timeout)
        while True:
            status = self.dataset_status(ref)
            if status == "ready":
                return
            if status in ("failed", "deleted"):
                raise KfError(f"Kaggle could not process dataset {ref} ({status}); upload the "
                              "package again")
            self.log(f"dataset {ref}: {status}, waiting")
            if not backoff.next():
                raise KfError(f"dataset {ref} is still {status} after {timeout:g} s; nothing "
                              "was submitted, run the command again later")

    def upload_dataset(self, folder: Path, ref: str, notes: str, timeout: float) -> int:
        """Upload `folder` as dataset `ref` (a new one, or a new version once the last is
        ready) and wait until Kaggle has processed it; its version number."""
        status = self.dataset_status(ref)
        _write_metadata(folder, ref)
        if status is None:
            res = self._call(f"create dataset {ref}", lambda: self._api.dataset_create_new(
                str(folder), public=False, quiet=True, dir_mode="zip"))
        else:
            self.wait_dataset(ref, timeout)  # a version uploaded while one processes: 403
            res = self._call(f"new version of dataset {ref}", lambda: self._api.
                             dataset_create_version(str(folder), notes, quiet=True,
                                                    dir_mode="zip"))
        if getattr(res, "error", None):
            raise KfError(f"Kaggle refused dataset {ref}: {res.error}")
        self.wait_dataset(ref, timeout)
        return self.dataset_version(ref)

    # --- the kernel ----------------------------------------------------------------------
    def push_kernel(self, folder: Path) -> int:
        """`kernels push` of `folder` (run on Kaggle at once); the version number it made."""
        res = self._call("kernel push", lambda: self._api.kernels_push(str(folder)))
        invalid = [s for k in ("invalid_dataset_sources", "invalid_competition_sources",
                               "invalid_kernel_sources", "invalid_model_sources")
                   for s in getattr(res, k, None) or []]
        if invalid:
            raise KfError(f"Kaggle does not know the kernel's sources {invalid}; upload the "
                          "package first, and check the competition slug")
        if getattr(res, "error", None) or not res.version_number:
            raise KfError(f"Kaggle refused the kernel push: {res.error or 'no version number'}")
        return int(res.version_number)

    def wait_kernel(self, kernel: str, version: int, timeout: float,
                    first: float = 1.0) -> None:
        """Until version `version` of `kernel` has run; a failure is a KfError naming Kaggle's
        class, its message and the log's last lines."""
        backoff = Backoff(first, 60.0, timeout)
        ref = f"{kernel}/{version}"
        while True:
            res = self._call(f"status of kernel {ref}", lambda: self._api.kernels_status(ref))
            status = res.status.name.lower() if res.status is not None else "queued"
            if status == "complete":
                return
            if status in ("error", "cancel_requested", "cancel_acknowledged"):
                raise KfError(f"{failure_class(res.failure_message)}: kernel {ref} failed"
                              f"{': ' + res.failure_message if res.failure_message else ''}"
                              f"{self._log_tail(ref)}")
            if not backoff.next():
                raise KfError(f"kernel {ref} is still {status} after {timeout:g} s; nothing "
                              f"was submitted (see kaggle.com/code/{kernel})")

    def _log_tail(self, ref: str, lines: int = 5) -> str:
        try:
            log = self._call(f"log of kernel {ref}", lambda: self._api.kernels_logs(ref))
        except KfError:
            return ""
        tail = [line for line in (log or "").splitlines() if line.strip()][-lines:]
        return ("; log tail: " + " | ".join(tail)) if tail else ""

    def submit_code(self, kernel: str, version: int, message: str,
                    file_name: str = "submission.csv") -> int:
        """`competition_submit_code` of exactly `kernel` version `version`; Kaggle's ref."""
        res = self._call("code submission", lambda: self._api.competition_submit_code(
            file_name, message, self.competition, kernel, version, quiet=True))
        if not res.ref:
            raise KaggleHttpError(f"Kaggle did not accept the code submission: {res.message}",
                                  None)
        return int(res.ref)


def _write_metadata(folder: Path, ref: str) -> None:
    """dataset-metadata.json, which the client uploads with (not part of the manifest)."""
    from kfold import atomic

    slug = ref.split("/", 1)[1]
    atomic.write_json(folder / DATASET_METADATA, {"title": slug, "id": ref,
                                                  "licenses": [{"name": "CC0-1.0"}]})
