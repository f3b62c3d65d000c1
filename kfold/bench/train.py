"""Bench case `train`: small-CNN training images/s with the real pipeline vs the same steps
on tensors already in memory (the pipeline's efficiency; aim >= 0.95)."""

from __future__ import annotations

import torch

from kfold.backends.torch.loop import batches, build_model, config_info, resolve_device, train_epoch
from kfold.bench import rate
from kfold.data.cache import load_decoded
from kfold.data.preprocess import Preprocess
from kfold.data.sources import discover
from kfold.train_config import TrainConfig
from kfold.workspace import Workspace


def run(ws: Workspace, model: str = "simple-cnn", size: int = 64, batch_size: int = 64,
                epochs: int = 2, device: str = "auto") -> list[dict]:
    """Training images/s through DeviceBatches vs the same steps on ready tensors."""
    dev = resolve_device(device)
    cfg = TrainConfig(model=model, image_size=size, batch_size=batch_size, device=device)
    info = config_info(cfg)
    train = discover(ws).train
    decoded = load_decoded(train, Preprocess(), size, ws.cache_dir, "train")
    y = train["target"].to_numpy()
    pipeline = batches(decoded.images, y, cfg, info, dev, train=True,
                       generator=torch.Generator().manual_seed(0))
    ready = [(x.clone(), t.clone()) for x, t in pipeline]  # same batches, already made

    def steps(source) -> None:
        torch.manual_seed(0)
        net = build_model(cfg, dev)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
        for _ in range(epochs):
            train_epoch(net, source, opt, None, torch.nn.BCEWithLogitsLoss(), dev)
        if dev.type == "cuda":
            torch.cuda.synchronize()

    n = sum(len(t) for _, t in ready) * epochs
    steps(ready)  # warm-up (allocator, kernels)
    real, memory = rate(n, lambda: steps(pipeline)), rate(n, lambda: steps(ready))
    return [{"case": "train", "what": f"{model} {size}px, real pipeline", "img/s": real},
            {"case": "train", "what": f"{model} {size}px, tensors in memory", "img/s": memory},
            {"case": "train", "what": "ratio pipeline / in-memory (aim >= 0.95)",
             "ratio": real / memory}]
