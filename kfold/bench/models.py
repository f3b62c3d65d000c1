"""Bench case `models`: throughput of the transfer-learning models.

For each model and precision: training images/s through the real pipeline (uint8 images on
the device, `DeviceBatches` with d4 augmentation and normalisation) and through ready-made
normalised tensors (the model alone), their ratio (1.0 = the pipeline costs nothing),
inference images/s without TTA and with d4 TTA (8 views), and peak memory. On CUDA each
model is measured twice: bf16 autocast + channels_last (what training uses) and fp32.
Random init; no downloads.
"""

from __future__ import annotations

import contextlib
import resource
import sys
import time

import numpy as np
import torch
from torch import nn

from kfold.backends.rules import TTA_VIEWS
from kfold.backends.torch.loader import apply_view
from kfold.backends.torch.loop import batches, build_model, resolve_device
from kfold.train_config import TrainConfig
from kfold.workspace import Workspace


def bench_models(names=("vgg16", "resnet50"), size: int = 64, batch: int = 16, steps: int = 3,
                 device: str = "auto", warmup: int = 1, seed: int = 0) -> list[dict]:
    """One row per (model, precision): name, precision, device, size, batch,
    train_pipeline_ips, train_memory_ips, pipeline_ratio, infer_ips, infer_d4_ips,
    d4_cost (infer_ips / infer_d4_ips), peak_mem_mb, mem_kind."""
    dev = resolve_device(device)
    precisions = ["bf16+channels_last", "fp32"] if dev.type == "cuda" else ["fp32"]
    rng = np.random.default_rng(seed)
    n = batch * (steps + warmup)
    images = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
    targets = (rng.random(n) < 0.2).astype(np.float32)
    rows = []
    for name in names:
        for precision in precisions:
            fast = precision != "fp32"
            cfg = TrainConfig(model=name, image_size=size, batch_size=batch, augment="d4",
                              device=str(dev), seed=seed)
            rows.append(_bench_one(cfg, images, targets, dev, fast, steps, warmup)
                        | {"precision": precision})
    return rows


def _bench_one(cfg, images, targets, dev, fast, steps, warmup) -> dict:
    """One row of `bench_models`: train through the pipeline and from ready-made batches,
    then infer, for one model at one precision (`fast`: bf16 + channels_last on CUDA)."""
    cuda = dev.type == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
    torch.manual_seed(cfg.init_seed)
    model = build_model(cfg, dev)  # channels_last on CUDA
    if cuda and not fast:
        model = model.to(memory_format=torch.contiguous_format)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loss_fn = nn.BCEWithLogitsLoss()

    def ctx():
        return (torch.autocast("cuda", dtype=torch.bfloat16) if cuda and fast
                else contextlib.nullcontext())

    def step(x, y):
        with ctx():
            loss = loss_fn(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def loader(train: bool):
        out = batches(images, targets if train else None, cfg, model.kf_info, dev, train=train,
                      generator=torch.Generator().manual_seed(cfg.init_seed))
        out.channels_last = cuda and fast
        return out

    model.train()
    ready = [(x.clone(), y.clone()) for x, y in loader(True)]  # ready-made normalised batches
    for x, y in ready[:warmup]:
        step(x, y)
    pipeline = memory = 0.0
    for _ in range(2):  # alternate, keep each one's best: fair against warm-up and noise
        it = iter(loader(True))
        for _ in range(warmup):  # the same steps as the ready-made ones, through the loader
            next(it)
        pipeline = max(pipeline, _timed(lambda it=it: sum(step(x, y) or len(y) for x, y in it),
                                        dev))
        memory = max(memory, _timed(lambda: sum(step(x, y) or len(y)
                                                for x, y in ready[warmup:]), dev))

    plain, d4 = _inference_ips(model, loader, ctx, dev)
    peak, kind = _peak_memory_mb(dev)
    return {
        "name": cfg.model, "device": str(dev), "size": cfg.image_size, "batch": cfg.batch_size,
        "params_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
        "train_pipeline_ips": round(pipeline, 1), "train_memory_ips": round(memory, 1),
        "pipeline_ratio": round(pipeline / memory, 3) if memory else float("nan"),
        "infer_ips": round(plain, 1), "infer_d4_ips": round(d4, 1),
        "d4_cost": round(plain / d4, 2) if d4 else float("nan"),
        "peak_mem_mb": round(peak, 1), "mem_kind": kind,
    }


def _inference_ips(model: nn.Module, loader, ctx, dev: torch.device) -> tuple[float, float]:
    """Inference images/s without TTA and with d4 TTA (8 views), after one warm-up pass."""

    @torch.no_grad()
    def infer(views):
        model.eval()
        count = 0
        for x, _ in loader(False):
            with ctx():
                torch.stack([torch.sigmoid(model(apply_view(x, v)).float())
                             for v in views]).mean(0)
            count += len(x)
        return count

    infer(TTA_VIEWS["none"])
    return (_timed(lambda: infer(TTA_VIEWS["none"]), dev),
            _timed(lambda: infer(TTA_VIEWS["d4"]), dev))


def _peak_memory_mb(dev: torch.device) -> tuple[float, str]:
    """Peak memory so far and what it measures: CUDA's max allocated, else the process's RSS."""
    if dev.type == "cuda":
        return torch.cuda.max_memory_allocated(dev) / 2**20, "cuda max allocated"
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB else
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20, "process peak RSS"


def _timed(fn, dev) -> float:
    """Images per second of `fn`, which returns how many images it handled."""
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    started = time.perf_counter()
    n = fn()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return n / max(time.perf_counter() - started, 1e-9)


def run(ws: Workspace, size: int = 64, device: str = "auto") -> list[dict]:
    """VGG16 and ResNet50 on random images (the workspace is not needed), one row each."""
    return [{"case": "models", "what": f"{r['name']} {r['precision']} {r['size']}px",
             "img/s": r["train_pipeline_ips"], "ratio": r["pipeline_ratio"],
             "infer img/s": r["infer_ips"], "infer d4 img/s": r["infer_d4_ips"],
             "peak MB": r["peak_mem_mb"]}
            for r in bench_models(size=size, device=device)]
