"""A simulated multi-node Ray cluster on this machine, kept on loopback: a head without
resources and worker nodes with logical GPUs (`ray.cluster_utils.Cluster`), for the tests
and `kf bench --case ray`.

Every node gets `node_ip_address="127.0.0.1"`, and three things Ray would otherwise do are
turned off, so that nothing leaves 127.0.0.1 (checked with strace):

- `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`: Ray rewrites 127.0.0.1 in an address to the
  machine's interface address (found with a UDP socket towards 8.8.8.8) unless it is set;
  Ray reads it once, at import, so this process's copy is set too;
- Ray's dashboard process sends a "usage stats disabled" report to usage-stats.ray.io for
  clusters not started by `ray.init()`: `RAY_USAGE_STATS_REPORT_URL` points it at a closed
  loopback port;
- the same process asks the cloud metadata address (169.254.169.254) which cloud it runs
  on unless `~/ray_bootstrap_config.yaml` names a provider: the nodes start with HOME set
  to a folder holding one that says "local".
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOOPBACK = {"node_ip_address": "127.0.0.1"}
LOOPBACK_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_USAGE_STATS_REPORT_URL": "http://127.0.0.1:9/",
}


@contextmanager
def simulated_cluster(workers: int = 2, gpus: float = 1, cpus: float = 1,
                      object_store_memory: int | None = None) -> Iterator:
    """A started `Cluster` (its `.address` for `--address`); shut down on exit."""
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    saved = {k: os.environ.get(k) for k in [*LOOPBACK_ENV, "HOME"]}
    store = {"object_store_memory": object_store_memory} if object_store_memory else {}
    with tempfile.TemporaryDirectory(prefix="kf-ray-home-") as home:
        (Path(home) / "ray_bootstrap_config.yaml").write_text("provider:\n  type: local\n")
        os.environ.update(LOOPBACK_ENV, HOME=home)
        ray_constants.ENABLE_RAY_CLUSTER = False  # read once, when this process imported ray
        cluster = None
        try:
            cluster = Cluster(initialize_head=True, head_node_args={
                "num_cpus": 0, "include_dashboard": False, **LOOPBACK, **store})
            for _ in range(workers):
                cluster.add_node(num_cpus=cpus, num_gpus=gpus, **LOOPBACK, **store)
            os.environ["HOME"] = saved["HOME"] or home
            yield cluster
        finally:
            if cluster is not None:
                cluster.shutdown()
            ray_constants.ENABLE_RAY_CLUSTER = True
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
