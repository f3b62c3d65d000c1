"""`task gpu-check` (`python -m kfold.bench.gpu_check`): is this GPU machine ready, and how fast?

One table: the CUDA device, ResNet50 training throughput at 224 px in bf16 + channels_last
vs fp32 on ready-made tensors and through the real pipeline (their ratio), the JPEG decode
rate into the cache, the demo end to end on CUDA, and whether TensorFlow (the Keras backend)
sees a GPU. Without CUDA it says so and exits 0 without the GPU rows. A few minutes on a GPU.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch


def tensorflow_gpus() -> str:
    """What TensorFlow sees: its GPU devices, or why there are none."""
    try:
        from kfold.backends.keras._tf import tf
    except Exception as exc:  # noqa: BLE001 -- any import failure: no TF here
        return f"TensorFlow not usable ({type(exc).__name__}); pip install 'kfold[keras]'"
    gpus = tf.config.list_physical_devices("GPU")
    built = "CUDA build" if tf.test.is_built_with_cuda() else "CPU-only build (kfold[keras-cpu])"
    return f"{len(gpus)} GPU(s) ({built})"


def gpu_rows(root: Path, *, size: int = 224, batch: int = 64, steps: int = 10,
             n_jpeg: int = 1000) -> list[dict]:
    """The GPU rows: throughput, pipeline ratio, decode rate, demo wall time."""
    from rich.console import Console

    from kfold.bench.models import bench_models
    from kfold.data.cache import load_decoded
    from kfold.data.preprocess import Preprocess
    from kfold.data.sources import discover
    from kfold.data.synth import synthesize
    from kfold.demo import run_demo
    from kfold.workspace import Workspace

    rows = []
    by_precision = {r["precision"]: r for r in bench_models(("resnet50",), size=size,
                                                            batch=batch, steps=steps)}
    fast, fp32 = by_precision["bf16+channels_last"], by_precision["fp32"]
    rows += [
        {"what": f"ResNet50 {size} px train, tensors, bf16 + channels_last",
         "value": fast["train_memory_ips"], "unit": "img/s"},
        {"what": f"ResNet50 {size} px train, tensors, fp32", "value": fp32["train_memory_ips"],
         "unit": "img/s"},
        {"what": "bf16 + channels_last / fp32", "value": round(
            fast["train_memory_ips"] / fp32["train_memory_ips"], 2), "unit": "x"},
        {"what": f"ResNet50 {size} px train, real pipeline, bf16 + channels_last",
         "value": fast["train_pipeline_ips"], "unit": "img/s"},
        {"what": "pipeline / tensors (1 = the pipeline costs nothing)",
         "value": fast["pipeline_ratio"], "unit": "x"},
    ]
    ws = Workspace.init(root / "decode")
    synthesize(ws.data_dir, n_train=n_jpeg, n_test=2, size=267, seed=0)
    started = time.perf_counter()
    load_decoded(discover(ws).train, Preprocess(), size, ws.cache_dir, "train")
    rows.append({"what": f"JPEG decode into the cache (267 px -> {size} px)",
                 "value": round(n_jpeg / (time.perf_counter() - started), 1), "unit": "img/s"})
    started = time.perf_counter()
    demo = run_demo(root / "demo", Console(quiet=True))
    rows.append({"what": "kf demo end to end on CUDA", "value": round(
        time.perf_counter() - started, 1), "unit": "s"})
    rows.append({"what": "demo: best single run / best stack, OOF AUC",
                 "value": f"{demo['best_single']:.4f} / {demo['best_stack']:.4f}", "unit": "AUC"})
    return rows


def gpu_check(root: Path | None = None) -> list[dict]:
    """Every row; without CUDA only the device and TensorFlow rows."""
    cuda = torch.cuda.is_available()
    name = torch.cuda.get_device_name(0) if cuda else "none: no CUDA device, GPU rows skipped"
    rows = [{"what": "CUDA device", "value": name, "unit": ""},
            {"what": "TensorFlow GPUs (Keras backend)", "value": tensorflow_gpus(), "unit": ""}]
    if cuda:
        with tempfile.TemporaryDirectory(prefix="kf-gpu-check-") as tmp:
            rows[1:1] = gpu_rows(Path(root or tmp))
    return rows


def main() -> int:
    from rich.console import Console

    from kfold.views import records

    Console().print(records("kf gpu-check", gpu_check(), text_columns=("what", "value", "unit")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
