"""`kf bench`: speed measured side by side in one run, printed as ratios.

Cases (each returns rows of plain dicts; the CLI prints them):
- pipeline: images/s delivered by the cached, on-batch-augmented loader vs decoding JPEGs
  every epoch with PIL in a torch DataLoader;
- train: small-CNN training images/s with the real pipeline vs the same steps on tensors
  already in memory (the pipeline's efficiency; aim >= 0.95).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from kfold.data.cache import load_decoded
from kfold.data.preprocess import Preprocess
from kfold.data.sources import discover
from kfold.data.synth import synthesize
from kfold.nets import model_info
from kfold.train.config import TrainConfig
from kfold.train.loader import DeviceBatches
from kfold.train.loop import batches, build_model, resolve_device, train_epoch
from kfold.workspace import Workspace


def bench_workspace(root: Path, n: int, source_size: int = 267) -> Workspace:
    """A workspace with `n` synthetic training images at the contest's size."""
    ws = Workspace.init(root)
    if not ws.data_dir.exists():
        synthesize(ws.data_dir, n_train=n, n_test=16, size=source_size, seed=0)
    return ws


class _JpegDataset(Dataset):
    """The usual baseline: decode, resize and augment one JPEG per item, every epoch."""

    def __init__(self, paths: list[str], targets: np.ndarray, size: int) -> None:
        self.paths, self.targets, self.size = paths, targets, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        with Image.open(self.paths[i]) as im:
            img = im.convert("L").resize((self.size, self.size), Image.BILINEAR)
        x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255)[None]
        if torch.rand(()) < 0.5:
            x = x.flip(-1)
        if torch.rand(()) < 0.5:
            x = x.flip(-2)
        return (x - 0.5) / 0.5, torch.tensor(float(self.targets[i]))


def _rate(n_images: int, fn) -> float:
    started = time.perf_counter()
    fn()
    return n_images / (time.perf_counter() - started)


def bench_pipeline(ws: Workspace, size: int = 64, batch_size: int = 64, epochs: int = 2,
                   device: str = "auto") -> list[dict]:
    dev = resolve_device(device)
    train = discover(ws).train
    decoded = load_decoded(train, Preprocess(), size, ws.cache_dir, "train")  # built once
    loader = DeviceBatches(decoded.images, train["target"].to_numpy(), batch_size=batch_size,
                           device=dev, mean=(0.5,), std=(0.5,), shuffle=True, augment="d4")
    jpeg = DataLoader(_JpegDataset(train["path"].tolist(), train["target"].to_numpy(), size),
                      batch_size=batch_size, shuffle=True, num_workers=2, drop_last=True)

    def drain(it) -> None:
        for _ in range(epochs):
            for x, _ in it:
                x.sum().item()  # make sure the batch really exists

    n = len(train) * epochs
    cached, per_epoch = _rate(n, lambda: drain(loader)), _rate(n, lambda: drain(jpeg))
    return [{"case": "pipeline", "what": "cached + on-batch augmentation", "img/s": cached},
            {"case": "pipeline", "what": "PIL decode every epoch (DataLoader, 2 workers)",
             "img/s": per_epoch},
            {"case": "pipeline", "what": "ratio cached / per-epoch decode", "ratio": cached / per_epoch}]


def bench_train(ws: Workspace, model: str = "simple-cnn", size: int = 64, batch_size: int = 64,
                epochs: int = 2, device: str = "auto") -> list[dict]:
    """Training images/s through DeviceBatches vs the same steps on ready tensors."""
    dev = resolve_device(device)
    cfg = TrainConfig(model=model, image_size=size, batch_size=batch_size, device=device)
    info = model_info(model)
    train = discover(ws).train
    decoded = load_decoded(train, Preprocess(), size, ws.cache_dir, "train")
    y = train["target"].to_numpy()
    pipeline = batches(decoded.images, y, cfg, info, dev, train=True,
                       generator=torch.Generator().manual_seed(0))
    ready = [(x.clone(), t.clone()) for x, t in pipeline]  # same batches, already made

    def steps(source) -> None:
        torch.manual_seed(0)
        net = build_model(cfg, info, dev)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
        for _ in range(epochs):
            train_epoch(net, source, opt, None, torch.nn.BCEWithLogitsLoss(), dev)
        if dev.type == "cuda":
            torch.cuda.synchronize()

    n = sum(len(t) for _, t in ready) * epochs
    steps(ready)  # warm-up (allocator, kernels)
    real, memory = _rate(n, lambda: steps(pipeline)), _rate(n, lambda: steps(ready))
    return [{"case": "train", "what": f"{model} {size}px, real pipeline", "img/s": real},
            {"case": "train", "what": f"{model} {size}px, tensors in memory", "img/s": memory},
            {"case": "train", "what": "ratio pipeline / in-memory (aim >= 0.95)",
             "ratio": real / memory}]


def run_bench(cases: list[str], n_images: int = 512, size: int = 64, device: str = "auto",
              root: Path | None = None) -> list[dict]:
    """Run the named cases on a synthetic workspace and return every row."""
    with tempfile.TemporaryDirectory(prefix="kf-bench-") as tmp:
        ws = bench_workspace(Path(root or tmp), n_images)
        rows: list[dict] = []
        for case in cases:
            rows += CASES[case](ws, size=size, device=device)
        return rows


def bench_models(ws: Workspace, size: int = 64, device: str = "auto") -> list[dict]:
    """VGG16 and ResNet50: training through the pipeline vs in memory, inference with and
    without d4 TTA, peak memory (and bf16 vs fp32 on CUDA)."""
    from kfold.train.bench_models import bench_models as run

    return [{"case": "models", "what": f"{r['name']} {r['precision']} {r['size']}px",
             "img/s": r["train_pipeline_ips"], "ratio": r["pipeline_ratio"],
             "infer img/s": r["infer_ips"], "infer d4 img/s": r["infer_d4_ips"],
             "peak MB": r["peak_mem_mb"]}
            for r in run(size=size, device=device)]


def bench_stack(ws: Workspace, size: int = 64, device: str = "auto") -> list[dict]:
    """Every blender on 35,000 rows x 10 runs (seconds, not minutes)."""
    from kfold.stack import bench_stacking

    return [{"case": "stack", "what": r["blender"], "seconds": r["seconds"]}
            for r in bench_stacking(n_rows=35000, n_runs=10)]


def bench_explain(ws: Workspace, size: int = 64, device: str = "auto") -> list[dict]:
    """Grad-CAM images/s, alone and with mapping back to the original frame and scoring."""
    from kfold.explain.run import bench_explain as run

    r = run(n_images=256, image_size=size, device=device)
    return [{"case": "explain", "what": f"{r['model']} {r['method']} {size}px, CAM only",
             "img/s": r["cam_images_per_s"]},
            {"case": "explain", "what": "with mapping + localization metrics",
             "img/s": r["images_per_s"]}]


def bench_keras(ws: Workspace, size: int = 64, device: str = "auto") -> list[dict]:
    """The Keras small CNN on the same cached images as the PyTorch `train` case (run last:
    TensorFlow in the process slows PyTorch down)."""
    from kfold.keras_backend.bench import bench_keras_simple_cnn

    train = discover(ws).train
    decoded = load_decoded(train, Preprocess(), size, ws.cache_dir, "train")
    row = bench_keras_simple_cnn(size, images=decoded.images, targets=train["target"].to_numpy())
    return [row]


# Every case is `case(ws, size=..., device=...) -> rows`; keras stays last.
CASES = {"pipeline": bench_pipeline, "train": bench_train, "models": bench_models,
         "stack": bench_stack, "explain": bench_explain, "keras": bench_keras}
