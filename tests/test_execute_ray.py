"""kf train / grid / retrain on Ray: a simulated cluster (a head without resources and two
worker nodes with one logical GPU each), kept on loopback (kfold.execute.simulated), shared
by the whole module.

The driver (this process) joins it once; the executor then reuses that connection, as in
a notebook. The command-line path (--address) runs in a subprocess in the driver-kill test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
import ray

from kfold.errors import KfError
from kfold.execute import make_executor
from kfold.execute.simulated import simulated_cluster
from kfold.grid import read_grid, run_grid
from kfold.progress import Reporter
from kfold.train.retrain import retrain_run
from kfold.train.run import train_run
from kfold.train_config import TrainConfig
from kfold.workspace import Workspace


@pytest.fixture(scope="module")
def cluster():
    """Two worker nodes with one logical GPU and one CPU each; everything on 127.0.0.1."""
    with simulated_cluster(workers=2, gpus=1, cpus=1) as c:
        ray.init(address=c.address, logging_level="WARNING", log_to_driver=False)
        yield c
        ray.shutdown()


@pytest.fixture
def ray_ws(tmp_path, synth_data) -> Workspace:
    shutil.copytree(synth_data, tmp_path / "data")
    return Workspace.init(tmp_path, n_folds=3, image_size=32, seed=0)


def cfg(**kw) -> TrainConfig:
    return TrainConfig(**{"n_folds": 3, "image_size": 32, "epochs": 2, "batch_size": 16,
                          "seed": 0, "patience": 5, "device": "cpu", **kw})


def worker_ids(c) -> set[str]:
    return {n.node_id for n in c.worker_nodes}


def artifact_names(ws: Workspace) -> list[str]:
    return sorted(str(p.relative_to(ws.root)) for d in (ws.models_dir, ws.oof_dir, ws.submissions_dir)
                  for p in d.rglob("*") if p.is_file() and p.name != ".gitkeep")


def test_folds_spread_over_both_workers_with_a_local_runs_predictions(cluster, ray_ws, tmp_path):
    """A fold given one CPU trains with one thread on either executor: the same bits."""
    local_ws = Workspace.init(tmp_path / "local", n_folds=3, image_size=32, seed=0)
    shutil.copytree(ray_ws.data_dir, local_ws.data_dir)
    meta = train_run(ray_ws, cfg(), "cnn", executor=make_executor("ray", gpus_per_fold=1))
    local = train_run(local_ws, cfg(), "cnn", executor=make_executor("local", cpus_per_fold=1))

    nodes = {r.where["node_id"] for r in meta.folds}
    assert nodes == worker_ids(cluster)
    assert all(r.where["gpu_ids"] and r.where["executor"] == "ray" for r in meta.folds)
    assert artifact_names(ray_ws) == artifact_names(local_ws)
    for name in ("cnn.parquet", "cnn.test.parquet"):
        got, want = pd.read_parquet(ray_ws.oof_dir / name), pd.read_parquet(local_ws.oof_dir / name)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert meta.oof_auc == local.oof_auc
    assert {r.where["executor"] for r in local.folds} == {"local"}
    assert not list(ray_ws.run_dir("cnn").glob("*.last.pt"))  # resume state cleaned up

    full = retrain_run(ray_ws, "cnn", executor=make_executor("ray", gpus_per_fold=0.5))
    assert full.retrain.where["node_id"] in worker_ids(cluster)
    assert ray_ws.full_test_path("cnn").exists()


def test_grid_runs_every_fold_together_and_skips_finished_runs(cluster, ray_ws, tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text('[defaults]\nepochs = 1\nbatch-size = 16\ndevice = "cpu"\n'
                    '[[run]]\nname = "s1"\nlr = 0.001\n[[run]]\nname = "s2"\nlr = 0.002\n')
    runs = read_grid(grid, ray_ws)
    metas = run_grid(ray_ws, runs, executor=make_executor("ray", gpus_per_fold=0.5))
    assert [m.name for m in metas] == ["s1", "s2"]
    assert {r.where["node_id"] for m in metas for r in m.folds} == worker_ids(cluster)
    stamps = {p: p.stat().st_mtime_ns for p in ray_ws.models_dir.rglob("*.result.json")}
    again = run_grid(ray_ws, runs, executor=make_executor("ray", gpus_per_fold=0.5))
    assert [m.oof_auc for m in again] == [m.oof_auc for m in metas]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_a_config_error_is_raised_once_without_retries_or_artifacts(cluster, ray_ws):
    logged = []

    class Log(Reporter):
        def log(self, message):
            logged.append(message)

    # The cluster offers (logical) GPUs, so the driver lets --device cuda through and every
    # fold's task fails on its worker, which has no CUDA: an error inside the tasks.
    with pytest.raises(KfError, match=r"^run 'gpu' fold\d: .*--device cuda") as err:
        train_run(ray_ws, cfg(device="cuda"), "gpu", executor=make_executor("ray"),
                  reporter=Log())
    assert "\n" not in str(err.value)
    assert not any("retrying" in m for m in logged)
    assert not ray_ws.run_dir("gpu").exists() and not ray_ws.oof_path("gpu").exists()


def test_bad_cluster_options_are_refused_before_anything_is_written(cluster, ray_ws):
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # refused by kf's own TCP check (seconds), not by Ray's join (which retries for minutes)
    with pytest.raises(KfError, match=rf"^cannot reach a Ray cluster at --address "
                                      rf"127.0.0.1:{port} .*ray start --head"):
        train_run(ray_ws, cfg(), "x", executor=make_executor("ray", address=f"127.0.0.1:{port}"))
    with pytest.raises(KfError, match=r"--gpus-per-fold 2 .*3 node\(s\) with 2 GPU\(s\)"):
        train_run(ray_ws, cfg(), "x", executor=make_executor("ray", gpus_per_fold=2))
    with pytest.raises(KfError, match=r"--device cuda with no GPU per fold \(--gpus-per-fold 0\)"):
        train_run(ray_ws, cfg(device="cuda"), "x", executor=make_executor("ray", gpus_per_fold=0))
    with pytest.raises(KfError, match="only apply with --executor ray"):
        make_executor("local", gpus_per_fold=1)
    assert not (ray_ws.root / ".cache").exists() and not ray_ws.models_dir.joinpath("x").exists()


def test_killed_driver_then_rerun_keeps_finished_folds(cluster, ray_ws):
    cmd = [sys.executable, "-m", "kfold", "train", "-w", str(ray_ws.root), "--name", "k",
           "--executor", "ray", "--address", cluster.address, "--gpus-per-fold", "1",
           "--epochs", "4", "--batch-size", "8", "--device", "cpu", "--seed", "0"]
    driver = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    first = ray_ws.run_dir("k") / "fold0.result.json"
    try:
        deadline = time.time() + 600  # only a hang gets this far
        while not any(ray_ws.run_dir("k").glob("fold*.result.json")) and time.time() < deadline:
            assert driver.poll() is None, "the driver ended before any fold finished"
            time.sleep(0.2)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait()
    finished = {p: p.read_bytes() for p in ray_ws.run_dir("k").glob("fold*.result.json")}
    assert finished and not ray_ws.run_json("k").exists()
    meta = train_run(ray_ws, cfg(epochs=4, batch_size=8), "k", executor=make_executor("ray"))
    assert {p: p.read_bytes() for p in finished} == finished
    assert len(meta.folds) == 3 and first.exists()


def test_bench_case_pieces_measure_on_the_cluster(cluster):
    from kfold.bench import ray as bench

    rows = bench.scheduling_overhead(ray, n=20)
    rows += bench.cache_shipping(ray, next(iter(worker_ids(cluster))), (300, 64, 64))
    rows += bench.scale_out(size=32, device="cpu", n_images=80)
    values = {r["what"]: r["value"] for r in rows}
    assert len(values) == 7 and all(v > 0 for v in values.values())
    assert values["2 folds on 2 workers / one fold"] < 10


def test_node_lost_mid_fold_resumes_from_its_last_epoch(cluster, ray_ws):
    """Last in the module: it removes a worker node."""
    run_dir = ray_ws.run_dir("lost")
    out: dict = {}

    def train():
        out["meta"] = train_run(ray_ws, cfg(n_folds=3, epochs=12, patience=12, batch_size=4),
                                "lost", executor=make_executor("ray", gpus_per_fold=1))

    thread = threading.Thread(target=train)
    thread.start()
    deadline = time.time() + 600  # only a hang gets this far
    while (not (run_dir / "fold0.last.pt").exists() or not (run_dir / "fold1.last.pt").exists()):
        assert time.time() < deadline and thread.is_alive()
        time.sleep(0.1)
    victim = next(iter(cluster.worker_nodes))
    cluster.remove_node(victim)
    thread.join(timeout=300)
    meta = out["meta"]
    retried = [r for r in meta.folds if len(r.where["attempts"]) > 1]
    assert retried, "no fold lost its node"
    for r in retried:
        assert r.where["attempts"][0]["node_id"] == victim.node_id
        assert r.where["attempts"][-1]["start_epoch"] >= 1  # not from scratch
        history = pd.read_csv(run_dir / f"history_fold{r.fold}.csv")
        assert history["epoch"].tolist() == list(range(r.epochs_run))
    assert len(pd.read_parquet(ray_ws.oof_path("lost"))) == 60
    assert json.loads(ray_ws.run_json("lost").read_text())["oof_auc"] == meta.oof_auc




@pytest.mark.parametrize("cause, kind, message", [
    (KfError("--weights x.pth: not a checkpoint"), KfError,
     r"^run 'r' fold1: --weights x.pth: not a checkpoint$"),
    (type("OutOfMemoryError", (RuntimeError,), {})("CUDA out of memory. Tried 2 GiB\nmore"),
     KfError, r"^run 'r' fold1: the GPU ran out of memory \(CUDA out of memory. Tried 2 GiB\); "
              r"fewer folds per GPU \(a larger --gpus-per-fold"),
    (ValueError("a bug"), RuntimeError, r"run 'r' fold1 failed in its Ray task:\n"),
])
def test_an_error_inside_a_fold_task_names_the_run_and_fold(cause, kind, message):
    from kfold.execute import FoldJob
    from kfold.execute.ray_executor import task_error

    job = FoldJob("r", 1, cfg(), "data", np.arange(3), np.arange(3, 5))
    error = ray.exceptions.RayTaskError("fold_task", "Traceback ...", cause)
    out = task_error(job, error)
    assert type(out) is kind
    assert re.search(message, str(out))


def test_a_pseudo_labelled_run_trains_on_ray_as_it_does_here(cluster, ray_ws):
    from kfold.train.pseudo import PseudoOptions, pseudo_run

    train_run(ray_ws, cfg(epochs=1), "src")
    opts = PseudoOptions(top_share=0.5)
    on_ray = pseudo_run(ray_ws, "src", opts, "p-ray", executor=make_executor("ray", gpus_per_fold=1))
    here = pseudo_run(ray_ws, "src", opts, "p-here")
    assert {r.where["executor"] for r in on_ray.folds} == {"ray"}
    assert on_ray.taught_by["test_rows"] == here.taught_by["test_rows"]
    got, want = (pd.read_parquet(ray_ws.oof_path(n)) for n in ("p-ray", "p-here"))
    np.testing.assert_allclose(got["pred"], want["pred"], atol=1e-4)
