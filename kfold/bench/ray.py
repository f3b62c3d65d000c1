"""`kf bench --case ray`: what Ray costs, on a simulated cluster on this machine.

A head (no resources) and two worker nodes with one logical GPU and one CPU each, all on
127.0.0.1 (kfold.execute.simulated), measure:

- scheduling overhead: ms per task, one empty task after another (submit + result) and
  200 submitted at once;
- shipping the cache: `ray.put` of a 34,000-image 192 px cache (1.25 GB) into the driver
  node's store, then its first use by a task on a worker node (the transfer; MB/s) and a
  second task there (the node's copy is reused: no transfer);
- scale-out: wall time of N folds of the small CNN on N workers through the Ray executor,
  divided by the wall time of one fold (1.0 would be perfect; on a machine with fewer free
  cores than workers it measures the cores, not Ray).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from kfold.progress import Reporter

CACHE_SHAPE = (34_000, 192, 192)
WORKERS = 2


def run(ws=None, size: int = 32, device: str = "cpu", cache_shape=CACHE_SHAPE,
        fold_images: int = 600) -> list[dict]:
    from kfold.execute.ray_executor import import_ray
    from kfold.execute.simulated import simulated_cluster

    ray = import_ray()
    store = int(np.prod(cache_shape) * 1.2) + 2**28
    started = time.perf_counter()
    with simulated_cluster(WORKERS, gpus=1, cpus=1, object_store_memory=store) as cluster:
        ray.init(address=cluster.address, logging_level="WARNING", log_to_driver=False)
        rows = [{"case": "ray", "what": f"start a head + {WORKERS} worker nodes",
                 "value": round(time.perf_counter() - started, 1), "unit": "s"}]
        try:
            rows += scheduling_overhead(ray)
            node = next(iter(cluster.worker_nodes)).node_id
            rows += cache_shipping(ray, node, cache_shape)
            rows += scale_out(size, device, fold_images)
        finally:
            ray.shutdown()
    return rows


def scheduling_overhead(ray, n: int = 200) -> list[dict]:
    noop = ray.remote(num_cpus=1)(_noop)
    ray.get([noop.remote(None) for _ in range(2 * WORKERS)])  # workers started
    started = time.perf_counter()
    for _ in range(50):
        ray.get(noop.remote(None))
    one_by_one = (time.perf_counter() - started) / 50
    started = time.perf_counter()
    ray.get([noop.remote(None) for _ in range(n)])
    batch = (time.perf_counter() - started) / n
    return [{"case": "ray", "what": "task round trip, one after another",
             "value": round(one_by_one * 1e3, 2), "unit": "ms"},
            {"case": "ray", "what": f"{n} tasks submitted at once, per task",
             "value": round(batch * 1e3, 2), "unit": "ms"}]


def cache_shipping(ray, node_id: str, shape) -> list[dict]:
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    images = np.empty(shape, dtype=np.uint8)
    rng = np.random.default_rng(0)
    for start in range(0, shape[0], 2_000):
        images[start:start + 2_000] = rng.integers(0, 256, images[start:start + 2_000].shape,
                                                   dtype=np.uint8)
    mb = images.nbytes / 2**20
    touch = ray.remote(_touch).options(
        num_cpus=1, scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False))
    ray.get(touch.remote(None))  # a warm worker on that node
    started = time.perf_counter()
    ref = ray.put(images)
    put_s = time.perf_counter() - started
    del images
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        ray.get(touch.remote(ref))
        timings.append(time.perf_counter() - started)
    empty = _timed(lambda: ray.get(touch.remote(None)))
    first = timings[0]  # the whole round trip: a lower bound of the rate, never negative
    return [{"case": "ray", "what": f"ray.put of a {shape[0]:,}-image {shape[1]} px cache",
             "value": round(mb / put_s), "unit": f"MB/s ({mb:,.0f} MB in {put_s:.2f} s)"},
            {"case": "ray", "what": "first task on a worker node: cache shipped to it",
             "value": round(mb / first), "unit": f"MB/s ({first:.2f} s, task round trip included)"},
            {"case": "ray", "what": "second task on that node (its copy reused) / an empty task",
             "value": round(timings[1] / empty, 2), "unit": f"ratio ({timings[1] * 1e3:.1f} ms)"}]


def scale_out(size: int, device: str, n_images: int) -> list[dict]:
    from kfold.execute import Arrays, FoldJob
    from kfold.execute.ray_executor import RayExecutor
    from kfold.train_config import TrainConfig

    rng = np.random.default_rng(0)
    arrays = {"a": Arrays(rng.integers(0, 256, (n_images, size, size), dtype=np.uint8),
                          (rng.random(n_images) < 0.2).astype(np.int64),
                          rng.integers(0, 256, (64, size, size), dtype=np.uint8))}
    cfg = TrainConfig(image_size=size, epochs=3, batch_size=32, device=device, n_folds=WORKERS)
    rows = np.arange(n_images)

    def jobs(n: int) -> list[FoldJob]:
        return [FoldJob("bench", k, cfg, "a", rows[rows % WORKERS != k],
                        rows[rows % WORKERS == k]) for k in range(n)]

    executor = RayExecutor(gpus_per_fold=1, cpus_per_fold=1)
    walls = {}
    with tempfile.TemporaryDirectory() as tmp, executor.open(Reporter()):
        for n in (WORKERS, 1, WORKERS):  # the first call warms every worker up
            started = time.perf_counter()
            executor.run(jobs(n), arrays, {"bench": Path(tmp)}, lambda job, out: None, Reporter())
            walls[n] = time.perf_counter() - started
            for p in Path(tmp).iterdir():
                p.unlink()
    return [{"case": "ray", "what": "one small-CNN fold (3 epochs)", "value": round(walls[1], 2),
             "unit": "s"},
            {"case": "ray", "what": f"{WORKERS} folds on {WORKERS} workers / one fold",
             "value": round(walls[WORKERS] / walls[1], 2), "unit": "ratio"}]


def _noop(x):
    return x


def _touch(images):
    return None if images is None else images.shape


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started
