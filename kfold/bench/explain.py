"""Bench case `explain`: Grad-CAM images/s, alone and with mapping back to the original frame
and the localization metrics (the explain loop), on random images with an untrained model."""

from __future__ import annotations

import time

import numpy as np
import torch

from kfold.backends.torch import cam
from kfold.backends.torch.loop import build_model, resolve_device
from kfold.data.preprocess import heatmap_to_original
from kfold.explain import metrics
from kfold.train_config import TrainConfig
from kfold.workspace import Workspace


def bench_explain(n_images: int = 256, image_size: int = 64, orig_size: int = 267,
                  crop: int = 20, model: str = "simple-cnn", method: str = "gradcam",
                  batch_size: int = 64, device: str = "auto", seed: int = 0) -> dict:
    """Images/s of explanation on random images with an untrained model: Grad-CAM alone and
    Grad-CAM + mapping to the original frame + the localization metrics (the explain loop)."""
    dev = resolve_device(device)
    torch.manual_seed(seed)
    net = build_model(TrainConfig(model=model, image_size=image_size), dev).eval()
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n_images, image_size, image_size), dtype=np.uint8)
    inner = orig_size - 2 * crop
    x1 = rng.integers(crop, crop + inner // 2, n_images)
    y1 = rng.integers(crop, crop + inner // 2, n_images)
    boxes = [np.array([[a, b, a + inner // 4, b + inner // 4]]) for a, b in zip(x1, y1)]
    layer = cam.target_layer(net, image_size)
    cam.cam_images(net, layer, images[:batch_size], dev, method, batch_size)  # warm-up
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    heat = cam.cam_images(net, layer, images, dev, method, batch_size)
    t1 = time.perf_counter()
    for s in range(0, n_images, batch_size):
        big = heatmap_to_original(heat[s:s + batch_size], (orig_size, orig_size), crop)
        metrics.localization(big, boxes[s:s + batch_size])
    t2 = time.perf_counter()
    return {"model": model, "method": method, "device": str(dev), "images": n_images,
            "image_size": image_size, "batch_size": batch_size,
            "cam_images_per_s": round(n_images / (t1 - t0), 1),
            "images_per_s": round(n_images / (t2 - t0), 1), "seconds": round(t2 - t0, 3)}


def run(ws: Workspace, size: int = 64, device: str = "auto") -> list[dict]:
    """256 random images (the workspace is not needed)."""
    r = bench_explain(n_images=256, image_size=size, device=device)
    return [{"case": "explain", "what": f"{r['model']} {r['method']} {size}px, CAM only",
             "img/s": r["cam_images_per_s"]},
            {"case": "explain", "what": "with mapping + localization metrics",
             "img/s": r["images_per_s"]}]
