"""The Ray side of a fold: what runs in the task on a worker node.

No filesystem is shared with the driver: the task trains in a scratch folder seeded with
the fold's resume files sent by the driver, and after every epoch (each time the backend
advances its progress bar, after it saved its resume state) it sends the files that changed
to the driver through a queue, so that a retry on another node continues from the last
finished epoch. At the end it returns the fold's result and its final files. The backend
does not know any of this: it sees a run folder and a reporter.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from kfold.execute import Arrays, FoldJob, train_job
from kfold.progress import Reporter, Task
from kfold.record import FoldResult


def read_files(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` by its relative path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def write_files(folder: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


class ShippingReporter(Reporter):
    """Forwards a fold's progress, log lines and changed files to the driver's queue."""

    def __init__(self, queue, key: int, scratch: Path) -> None:
        self.queue, self.key, self.scratch = queue, key, scratch
        self._seen = {rel: _stamp(scratch / rel) for rel in read_files(scratch)}

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Task]:
        yield _ShippingTask(self, total)

    def log(self, message: str) -> None:
        self.queue.put(("log", self.key, message, {}))

    def ship(self, fields: dict) -> None:
        """Send the files changed since the last call; `put` returns once the queue holds
        them, so a node that dies afterwards cannot take this epoch's state with it."""
        self.queue.put(("epoch", self.key, self.changed_files(), fields))

    def changed_files(self) -> dict[str, bytes]:
        """Files of the scratch folder new or changed since the last call."""
        changed = {}
        for path in sorted(self.scratch.rglob("*")):
            rel = path.relative_to(self.scratch).as_posix()
            if path.is_file() and self._seen.get(rel) != _stamp(path):
                self._seen[rel] = _stamp(path)
                changed[rel] = path.read_bytes()
        return changed


class _ShippingTask(Task):
    def __init__(self, reporter: ShippingReporter, total: int | None) -> None:
        super().__init__()
        self.reporter, self.total, self.done = reporter, total, 0

    def advance(self, n: int = 1, **fields) -> None:
        self.done += n
        self.reporter.ship({"epoch": self.done, "epochs": self.total, **fields})


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


def where_am_i() -> dict:
    """The node and devices this task runs on, recorded in the fold's result."""
    import ray

    ctx = ray.get_runtime_context()
    return {"executor": "ray", "node_id": ctx.get_node_id(), "hostname": socket.gethostname(),
            "node_ip": ray.util.get_node_ip_address(),
            "gpu_ids": [str(g) for g in ray.get_gpu_ids()]}


def fold_task(key: int, job: FoldJob, train: np.ndarray, targets: np.ndarray, test: np.ndarray,
              resume: dict[str, bytes], weights: bytes | None, queue,
              cpus: float) -> tuple[FoldResult, dict[str, bytes]]:
    """The Ray task: train `job` in a scratch folder; return its result and the files
    not shipped yet. The image arrays arrive once per node through the object store
    (read-only, shared by the node's tasks), and so does a `--weights` file, which the
    worker's disk need not have. `cpus` (the task's CPU share) sets its threads as the local
    executor sets them, not Ray's OMP_NUM_THREADS (which a user's environment overrides)."""
    where = where_am_i()
    queue.put(("start", key, {}, where))
    base = Path(tempfile.mkdtemp(prefix=f"kf-{job.tag}-"))
    try:
        scratch = base / "run"
        write_files(scratch, resume)
        scratch.mkdir(exist_ok=True)
        if weights is not None:
            local = base / "weights" / Path(job.cfg.weights).name
            write_files(local.parent, {local.name: weights})
            job = dataclasses.replace(job, cfg=dataclasses.replace(job.cfg, weights=str(local)))
        reporter = ShippingReporter(queue, key, scratch)
        result = train_job(job, Arrays(train, targets, test), scratch, reporter, cpus)
        result.where = where
        return result, reporter.changed_files()
    finally:
        shutil.rmtree(base, ignore_errors=True)
