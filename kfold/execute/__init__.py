"""Where folds train: in this process one after another (`local`, the default, no Ray
import), or as Ray tasks spread over the GPUs of a machine or a cluster (`ray`).

The orchestration (kfold.train.run, kfold.train.retrain, kfold.grid) turns runs into
`FoldJob`s, one per (run, fold) or one per retrain, and hands them with the arrays they
index to an `Executor`. The executor trains every job through the run's backend
(`train_job`, the same code whichever executor calls it), notes where it trained in the
job's `FoldResult` and passes it to `on_done` in the calling process, which alone writes
the run's files.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from kfold.backends import Backend, FoldData, Head, get_backend
from kfold.data.prepared import JoinedRows, Rows
from kfold.errors import KfError
from kfold.progress import Reporter
from kfold.record import FoldResult
from kfold.runfiles import FULL_TAG, fold_tag
from kfold.train_config import TrainConfig

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class Arrays:
    """What a set of jobs indexes: decoded training and test images (uint8, memory-mapped
    when they come from the cache) and the training targets."""

    train: np.ndarray
    targets: np.ndarray
    test: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.train.nbytes + self.targets.nbytes + self.test.nbytes)


@dataclass(frozen=True)
class Teaching:
    """What a job learns besides its labels (kfold.train.teach): soft `targets` replacing
    the labels of every training row of the arrays (distillation), and test rows
    `test_rows` added to its training set with `test_targets`, each weighing `test_weight`
    against a training row's 1 (pseudo-labels)."""

    targets: np.ndarray | None
    test_rows: np.ndarray
    test_targets: np.ndarray
    test_weight: float = 1.0


@dataclass(frozen=True)
class FoldJob:
    """One model to train: fold `fold` of run `run` (None: the retrain), on rows of the
    arrays named `arrays` (`val_rows` None: train on everything, as a retrain does)."""

    run: str
    fold: int | None
    cfg: TrainConfig
    arrays: str
    train_rows: np.ndarray
    val_rows: np.ndarray | None = None
    teaching: Teaching | None = None
    head: Head = Head()  # the task's output (a binary AUC one unless the data says else)

    @property
    def tag(self) -> str:
        """The model's name in the run folder (kfold.runfiles), made from the fold."""
        return FULL_TAG if self.fold is None else fold_tag(self.fold)

    @property
    def label(self) -> str:
        return f"run {self.run!r} {self.tag}"


OnDone = Callable[[FoldJob, FoldResult], None]


class Executor(Protocol):
    def open(self, reporter: Reporter) -> AbstractContextManager[Executor]:
        """Get ready (join or start a cluster, check its resources): a KfError here comes
        before anything is decoded or written. `run` is called inside."""

    def check_device(self, backend: Backend, device: str) -> None:
        """Refuse a --device that the machines which train (inside `open`) cannot use."""

    def run(self, jobs: list[FoldJob], arrays: dict[str, Arrays], run_dirs: dict[str, Path],
            on_done: OnDone, reporter: Reporter) -> None:
        """Train every job; call `on_done` here, once per finished job, as each finishes."""

    def slots(self) -> int:
        """How many jobs train at once (inside `open`): kf tune runs that many folds' worth
        of trials together."""


def fold_data(job: FoldJob, arrays: Arrays) -> FoldData:
    """The job's images as rows of the arrays, not copies (a fold of a memory-mapped cache
    costs only the pages its batches read). Validation keeps the real labels, whatever
    the job is taught."""
    val = job.val_rows
    data = FoldData(Rows(arrays.train, job.train_rows), arrays.targets[job.train_rows],
                    None if val is None else Rows(arrays.train, val),
                    None if val is None else arrays.targets[val], head=job.head)
    return data if job.teaching is None else _taught(data, job, arrays)


def _taught(data: FoldData, job: FoldJob, arrays: Arrays) -> FoldData:
    """`data` with the job's soft targets and its test rows appended (weighted); a
    multi-class fold's class indices become one-hot rows beside (n, C) pseudo-labels."""
    teach = job.teaching
    data.train_w = np.ones(len(data.train_y))  # the mark of a taught fold (FoldData)
    if teach.targets is not None:
        data.train_y = teach.targets[job.train_rows]
    if len(teach.test_rows):
        if teach.test_targets.ndim == 2 and data.train_y.ndim == 1:  # class indices
            data.train_y = np.eye(teach.test_targets.shape[1])[data.train_y.astype(int)]
        data.train_x = JoinedRows([data.train_x, Rows(arrays.test, teach.test_rows)])
        data.train_w = np.concatenate([data.train_w,
                                       np.full(len(teach.test_rows), teach.test_weight)])
        data.train_y = np.concatenate([data.train_y, teach.test_targets])
    return data


def check_share(option: str, value: float | None) -> None:
    """A fold's share of GPUs or CPUs is a number, 0 or more (None: the default)."""
    if value is not None and not value >= 0:
        raise KfError(f"{option} must be 0 or more, got {value}")


def fold_threads(cpus: float) -> int:
    """The intra-op threads of a fold given `cpus` CPUs (a fraction still needs one)."""
    return max(1, math.floor(cpus))


def train_job(job: FoldJob, arrays: Arrays, run_dir: Path, reporter: Reporter,
              cpus: float | None = None) -> FoldResult:
    """Train one job in this process through its backend, with `run_dir` holding the
    fold's files (its resume state, if any, and what the backend writes) and, given its CPU
    share `cpus`, that many threads: both executors call this, so a fold's numbers do not
    depend on which one ran it (None: the process's threads as they are)."""
    backend = get_backend(job.cfg.backend)
    threads = nullcontext() if cpus is None else backend.cpu_threads(fold_threads(cpus))
    with threads:
        return backend.train_fold(job.cfg, fold_data(job, arrays), arrays.test, run_dir,
                                  job.tag, reporter)


class LocalExecutor:
    """Every job in this process, one after another: the default. `cpus_per_fold` sets each
    fold's threads as a Ray task's are set (None: torch's own default, all cores)."""

    def __init__(self, cpus_per_fold: float | None = None) -> None:
        check_share("--cpus-per-fold", cpus_per_fold)
        self.cpus = cpus_per_fold

    @contextmanager
    def open(self, reporter: Reporter) -> Iterator[LocalExecutor]:
        yield self

    def check_device(self, backend: Backend, device: str) -> None:
        backend.check_device(device)  # this machine trains

    def slots(self) -> int:
        return 1

    def run(self, jobs: list[FoldJob], arrays: dict[str, Arrays], run_dirs: dict[str, Path],
            on_done: OnDone, reporter: Reporter) -> None:
        where = {"executor": "local", "hostname": socket.gethostname()}
        for job in jobs:
            result = train_job(job, arrays[job.arrays], run_dirs[job.run], reporter, self.cpus)
            result.where = dict(where)
            on_done(job, result)


def make_executor(executor: str = "local", *, address: str | None = None,
                  gpus_per_fold: float | None = None,
                  cpus_per_fold: float | None = None) -> Executor:
    """The executor `kf train --executor NAME` asks for; Ray options need `ray`."""
    if executor not in EXECUTORS:
        raise KfError(f"unknown --executor {executor!r}; choose local or ray")
    if executor == "local":
        given = [opt for opt, value in (("--address", address), ("--gpus-per-fold", gpus_per_fold))
                 if value is not None]
        if given:
            raise KfError(f"{', '.join(given)} only apply with --executor ray")
        return LocalExecutor(cpus_per_fold)
    from kfold.execute.ray_executor import RayExecutor

    return RayExecutor(address=address, gpus_per_fold=gpus_per_fold, cpus_per_fold=cpus_per_fold)
