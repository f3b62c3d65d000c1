"""Folds as Ray tasks: one per job, each asking for `--gpus-per-fold` (fractions share a
GPU) and `--cpus-per-fold`, on a local Ray (every GPU of this machine) or an existing
cluster (`--address`).

The driver is the single source of truth and the only writer of the workspace. Each set of
arrays goes to the object store once (`ray.put`; a node fetches it once, whatever the number
of its tasks), and so does a `--weights` file. Tasks send their fold's changed files after every epoch through a queue
actor pinned to the driver's node; the driver writes them atomically into the run folder,
so the resume state of a fold survives the node that trained it. Finished tasks are
collected with `ray.wait` as they come.

Failures: a task lost with its worker or node is submitted again (up to `max_retries`
times) with the resume files the driver holds, so it continues from its last finished
epoch; an exception raised by the training (a bad option, a GPU out of memory) is not
retried: every other task is cancelled and the error names the run and fold.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kfold import atomic
from kfold.backends import Backend
from kfold.errors import KfError, first_line
from kfold.execute import Arrays, FoldJob, OnDone, check_share
from kfold.execute.worker import fold_task
from kfold.progress import Reporter
from kfold.runfiles import RunFiles

INSTALL = "pip install 'kfold[ray]' (or pip install 'ray>=2,<3')"
START_HELP = ("start one with `ray start --head` (then `ray start --address HEAD:6379` on each "
              "worker), or leave out --address to start Ray on this machine")
RESUME_EXCLUDE = (".result.json", ".preds.npz")
POLL_S = 0.5


def import_ray():
    try:
        import ray
    except ModuleNotFoundError:
        raise KfError(f"--executor ray needs Ray, which is not installed: {INSTALL}") from None
    return ray


def resume_files(run_dir: Path, tag: str) -> dict[str, bytes]:
    """The fold's files the driver holds (checkpoints, resume state, history), to seed a
    task's scratch folder; the driver's own records (result, predictions) stay here."""
    paths = [*run_dir.glob(f"{tag}.*"), RunFiles(run_dir).history(tag)]
    files: dict[str, bytes] = {}
    for path in paths:
        if path.is_dir():
            files |= {p.relative_to(run_dir).as_posix(): p.read_bytes()
                      for p in sorted(path.rglob("*")) if p.is_file()}
        elif path.is_file() and not path.name.endswith(RESUME_EXCLUDE):
            files[path.name] = path.read_bytes()
    return files


def store_files(run_dir: Path, files: dict[str, bytes]) -> None:
    """Write files a task sent, each atomically, under the run folder."""
    for rel, data in files.items():
        target = (run_dir / rel).resolve()
        if run_dir.resolve() not in target.parents:
            raise RuntimeError(f"a task sent a file outside its run folder: {rel}")
        atomic.write_bytes(target, data)


class RayExecutor:
    def __init__(self, address: str | None = None, gpus_per_fold: float | None = None,
                 cpus_per_fold: float | None = None, max_retries: int = 3) -> None:
        check_share("--gpus-per-fold", gpus_per_fold)
        check_share("--cpus-per-fold", cpus_per_fold)
        if gpus_per_fold is not None and gpus_per_fold > 1 and gpus_per_fold != int(gpus_per_fold):
            raise KfError(f"--gpus-per-fold above 1 must be a whole number, got {gpus_per_fold}")
        self.address, self.max_retries = address, max_retries
        self.gpus, self.cpus = gpus_per_fold, cpus_per_fold

    @contextmanager
    def open(self, reporter: Reporter) -> Iterator[RayExecutor]:
        ray = import_ray()
        started = self.connect(ray)
        try:
            self.gpus, self.cpus = self.resources(ray)
            reporter.log(f"ray: {self.gpus:g} GPU and {self.cpus:g} CPU per fold, on "
                         f"{describe_cluster(ray)}")
            yield self
        finally:
            if started:
                ray.shutdown()

    def run(self, jobs: list[FoldJob], arrays: dict[str, Arrays], run_dirs: dict[str, Path],
            on_done: OnDone, reporter: Reporter) -> None:
        if jobs:
            _Driver(import_ray(), jobs, arrays, run_dirs, on_done, reporter, self.gpus,
                    self.cpus, self.max_retries).run()

    def check_device(self, backend: Backend, device: str) -> None:
        """The workers resolve the device; the driver (often a CPU-only head node) only
        checks that a CUDA device comes with a GPU per fold."""
        if device.startswith(("cuda", "gpu")) and not self.gpus:
            raise KfError(f"--device {device} with no GPU per fold (--gpus-per-fold "
                          f"{self.gpus:g}): pass --gpus-per-fold 1 (or a fraction) on a cluster "
                          "with GPUs, or --device auto")

    def slots(self) -> int:
        """Folds that train at once: on each node, as many as its GPUs (and CPUs) hold."""
        per_node = [min(r.get("GPU", 0) // self.gpus if self.gpus else math.inf,
                        r.get("CPU", 0) // self.cpus if self.cpus else math.inf)
                    for r in (n["Resources"] for n in import_ray().nodes() if n.get("Alive"))]
        return max(1, int(sum(n for n in per_node if n != math.inf)))

    def connect(self, ray) -> bool:
        """Join the cluster at --address, or start Ray here; True when this call started
        (or joined) Ray and must shut it down. An unreachable address fails fast."""
        if self.address not in (None, "auto", "local"):
            check_reachable(self.address)
        if ray.is_initialized():  # a notebook or a test already joined one
            return False
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        # Workers' own output stays in Ray's logs: the driver shows one live view.
        kwargs = {"address": self.address, "logging_level": "WARNING", "log_to_driver": False}
        if self.address in (None, "local"):
            kwargs["include_dashboard"] = False
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            first = first_line(exc)
            raise KfError(f"cannot join a Ray cluster at --address {self.address} ({first}); "
                          f"{START_HELP}") from None
        return True

    def resources(self, ray) -> tuple[float, float]:
        """GPUs and CPUs per fold, refused before any task starts when no node has them."""
        nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
        most_gpus = max((r.get("GPU", 0) for r in nodes), default=0)
        most_cpus = max((r.get("CPU", 0) for r in nodes), default=0)
        gpus = self.gpus if self.gpus is not None else (1.0 if most_gpus >= 1 else 0.0)
        cpus = self.cpus if self.cpus is not None else min(1.0, most_cpus)
        if gpus > most_gpus:
            raise KfError(f"--gpus-per-fold {gpus:g} asks for more than any node has: "
                          f"{describe_cluster(ray)}; use --gpus-per-fold {most_gpus:g} or less"
                          + (" (0 trains on CPUs)" if not most_gpus else ""))
        if cpus > most_cpus:
            raise KfError(f"--cpus-per-fold {cpus:g} asks for more than any node has: "
                          f"{describe_cluster(ray)}; use --cpus-per-fold {most_cpus:g} or less")
        return gpus, cpus


def check_reachable(address: str, timeout: float = 10.0) -> None:
    """A TCP connection to the address's host and port (Ray itself retries for minutes)."""
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise KfError(f"--address must be HOST:PORT (e.g. 10.0.0.5:6379), ray://HOST:PORT or "
                      f"auto, got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise KfError(f"cannot reach a Ray cluster at --address {address} ({exc}); "
                      f"{START_HELP}") from None


def describe_cluster(ray) -> str:
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    gpus = sum(r.get("GPU", 0) for r in nodes)
    cpus = sum(r.get("CPU", 0) for r in nodes)
    return f"{len(nodes)} node(s) with {gpus:g} GPU(s) and {cpus:g} CPU(s) in all"


class _Driver:
    """One executor call: submit, collect, retry, and write what comes back."""

    def __init__(self, ray, jobs, arrays, run_dirs, on_done, reporter, gpus, cpus,
                 max_retries) -> None:
        from ray.util.queue import Queue
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self.ray, self.jobs, self.run_dirs = ray, jobs, run_dirs
        self.on_done, self.reporter, self.max_retries = on_done, reporter, max_retries
        here = ray.get_runtime_context().get_node_id()
        self.queue = Queue(actor_options={
            "num_cpus": 0,
            "scheduling_strategy": NodeAffinitySchedulingStrategy(here, soft=False)})
        used = {job.arrays for job in jobs}
        self.refs = {key: (ray.put(a.train), ray.put(a.targets), ray.put(a.test))
                     for key, a in arrays.items() if key in used}
        self.weights = {w: ray.put(Path(w).read_bytes()) for w in {j.cfg.weights for j in jobs}
                        if w not in ("none", "imagenet") and Path(w).is_file()}
        self.remote = ray.remote(fold_task).options(num_gpus=gpus, num_cpus=cpus,
                                                    max_retries=0)
        self.cpus = cpus
        self.pending: dict = {}
        self.attempts: dict[int, list[dict]] = {i: [] for i in range(len(jobs))}
        self.epoch: dict[int, int] = {}

    def run(self) -> None:
        with self.reporter.board([j.label for j in self.jobs]) as board:
            self.board = board
            try:
                for key in range(len(self.jobs)):
                    self.submit(key)
                while self.pending:
                    ready, _ = self.ray.wait(list(self.pending), num_returns=1, timeout=POLL_S)
                    self.drain()
                    for ref in ready:
                        self.collect(ref)
            finally:
                for ref in self.pending:
                    self.ray.cancel(ref, force=True)

    def submit(self, key: int) -> None:
        job = self.jobs[key]
        resume = resume_files(self.run_dirs[job.run], job.tag)
        self.attempts[key].append({"start_epoch": self.epoch.get(key, 0)})
        ref = self.remote.remote(key, job, *self.refs[job.arrays], resume,
                                 self.weights.get(job.cfg.weights), self.queue, self.cpus)
        self.pending[ref] = key

    def drain(self) -> None:
        """Write every file the tasks sent since the last call; update the board."""
        size = self.queue.qsize()
        if not size:
            return
        for kind, key, payload, fields in self.queue.get_nowait_batch(size):
            job = self.jobs[key]
            if kind == "log":
                self.reporter.log(f"{job.label}: {payload}")
                continue
            if kind == "start":
                self.attempts[key][-1] |= {"node_id": fields["node_id"],
                                           "hostname": fields["hostname"]}
                self.board.update(job.label, status="running",
                                  node=f"{fields['node_ip']} {fields['node_id'][:6]}",
                                  gpu=",".join(fields["gpu_ids"]) or "-")
                continue
            store_files(self.run_dirs[job.run], payload)
            self.epoch[key] = int(fields.get("epoch") or 0)
            self.board.update(job.label, epoch=f"{fields.get('epoch')}/{fields.get('epochs')}",
                              loss=fields.get("loss"), auc=fields.get("auc"))

    def collect(self, ref) -> None:
        key = self.pending.pop(ref)
        job = self.jobs[key]
        try:
            result, files = self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:
            self.board.update(job.label, status="failed")
            raise task_error(job, exc) from None
        except self.ray.exceptions.RayError as exc:  # the worker or its node was lost
            self.retry(key, exc)
            return
        store_files(self.run_dirs[job.run], files)
        result.where |= {"attempts": self.attempts[key]}
        self.board.update(job.label, status="done")
        self.on_done(job, result)

    def retry(self, key: int, exc: Exception) -> None:
        job = self.jobs[key]
        tries = len(self.attempts[key])
        first = first_line(exc)
        if tries > self.max_retries:
            raise KfError(f"{job.label} lost its worker {tries} times (last: {first}); "
                          "check the cluster's nodes (ray status) and rerun to resume")
        self.reporter.log(f"{job.label}: worker lost ({type(exc).__name__}); retrying from "
                          f"epoch {self.epoch.get(key, 0)} on another node")
        self.board.update(job.label, status=f"retry {tries}")
        self.drain()
        self.submit(key)


def task_error(job: FoldJob, exc) -> Exception:
    """The error to raise for an exception inside a task: a KfError names the run and fold,
    a GPU out of memory names --gpus-per-fold, anything else keeps its remote traceback."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, KfError):
        return KfError(f"{job.label}: {cause}")
    if type(cause).__name__ == "OutOfMemoryError":
        return KfError(f"{job.label}: the GPU ran out of memory ({first_line(cause)}); "
                       "fewer folds per GPU (a larger --gpus-per-fold, e.g. 1) or a smaller "
                       "--batch-size or --image-size")
    return RuntimeError(f"{job.label} failed in its Ray task:\n{exc}")
