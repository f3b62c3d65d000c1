"""Bench case `keras`: training throughput of the Keras small CNN beside the PyTorch one."""

from __future__ import annotations

import time

import numpy as np

from kfold.backends.keras._tf import device_name
from kfold.backends.keras.fold import fresh_model, train_dataset
from kfold.data.cache import load_decoded
from kfold.data.preprocess import Preprocess
from kfold.data.sources import discover
from kfold.train_config import TrainConfig
from kfold.workspace import Workspace


def bench_keras_simple_cnn(size: int = 64, n: int = 512, batch: int = 64, epochs: int = 2,
                           images: np.ndarray | None = None,
                           targets: np.ndarray | None = None) -> dict:
    """Training images/s of the Keras simple CNN through the backend's real input pipeline
    (tf.data from the uint8 cache, on-batch d4 augmentation), after one warm-up epoch that
    traces the graph. Pass `images` (N, size, size) uint8 and `targets` to time the same
    data as the PyTorch case; otherwise `n` random images are used."""
    if images is None:
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
        targets = (rng.random(n) < 0.2).astype(np.float32)
    size = images.shape[1]
    cfg = TrainConfig(model="simple-cnn", backend="keras", image_size=size, batch_size=batch,
                      augment="d4")
    model = fresh_model(cfg)
    data = train_dataset(images, np.asarray(targets), cfg)
    model.fit(data, epochs=1, shuffle=False, verbose=0)  # warm-up: tracing, allocator
    started = time.perf_counter()
    model.fit(data, epochs=epochs, shuffle=False, verbose=0)  # the dataset shuffles itself
    seconds = time.perf_counter() - started
    seen = (len(images) // batch if len(images) > batch else 1) * min(batch, len(images))
    return {"case": "train", "what": f"keras simple-cnn {size}px, tf.data pipeline",
            "img/s": seen * epochs / seconds, "seconds": round(seconds, 3),
            "images": len(images), "device": device_name()}


def run(ws: Workspace, size: int = 64, device: str = "auto") -> list[dict]:
    """The same cached images as the PyTorch `train` case (TensorFlow picks its own device)."""
    train = discover(ws).train
    decoded = load_decoded(train, Preprocess(), size, ws.cache_dir, "train")
    return [bench_keras_simple_cnn(size, images=decoded.images, targets=train["target"].to_numpy())]
