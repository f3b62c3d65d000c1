"""Executors: a fold's CPU share sets its threads the same way wherever it trains (the Ray
side, and its predictions equal to a local run's, is in test_execute_ray.py)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import torch

from kfold.errors import KfError
from kfold.execute import fold_threads, make_executor
from kfold.progress import Reporter, Task
from kfold.train.run import train_run


class ThreadSpy(Reporter):
    """Notes torch's thread count each time a fold ends an epoch (its bar is named by its
    tag; the decoding bars run outside the fold)."""

    def __init__(self) -> None:
        self.seen: set[int] = set()

    @contextmanager
    def task(self, description, total):
        spy = self

        class Spy(Task):
            def advance(self, n=1, **fields):
                if description.startswith("fold"):
                    spy.seen.add(torch.get_num_threads())

        yield Spy()


@pytest.mark.parametrize(("cpus", "threads"), [(0, 1), (0.5, 1), (1, 1), (2.5, 2), (3, 3)])
def test_a_fraction_of_a_cpu_still_trains_on_one_thread(cpus, threads):
    assert fold_threads(cpus) == threads


def test_a_local_fold_trains_on_its_cpu_share_and_gives_the_threads_back(workspace, tiny_cfg):
    before = torch.get_num_threads()
    spy = ThreadSpy()
    train_run(workspace, tiny_cfg, "one", reporter=spy,
              executor=make_executor("local", cpus_per_fold=1))
    assert spy.seen == {1}
    assert torch.get_num_threads() == before


def test_without_a_share_a_local_fold_keeps_the_process_threads(workspace, tiny_cfg):
    spy = ThreadSpy()
    train_run(workspace, tiny_cfg, "all", reporter=spy, executor=make_executor("local"))
    assert spy.seen == {torch.get_num_threads()}


@pytest.mark.parametrize("cpus", [-1, float("nan")])
def test_a_negative_or_missing_cpu_share_is_refused(cpus):
    with pytest.raises(KfError, match=f"--cpus-per-fold must be 0 or more, got {cpus}"):
        make_executor("local", cpus_per_fold=cpus)
