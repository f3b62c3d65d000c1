"""Grad-CAM for Keras runs, with a gradient tape over the last convolutional layer.

`KerasBackend.heatmaps` calls `heatmaps`: maps of the same shape and scale as the PyTorch
backend's, so `kf explain` feeds both to the same metric code. The target is the defect
logit (the layer before the sigmoid), which does not saturate, or for a multi-class model
each image's class logit (the layer before the softmax).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kfold.backends.keras._tf import keras, tf
from kfold.backends.keras.fold import load_checkpoint
from kfold.backends.keras.models import model_spec
from kfold.errors import KfError
from kfold.train_config import TrainConfig

_CACHE: dict = {}  # (path, mtime) -> grad model: kf explain calls once per chunk of images


def grad_model(path: Path, target_layer: str):
    """(feature map of `target_layer`, logit) of the checkpoint at `path`, cached."""
    key = (str(path), path.stat().st_mtime_ns if path.exists() else None)
    if key not in _CACHE:
        model = load_checkpoint(path)
        try:
            layer = model.get_layer(target_layer)
        except ValueError:
            raise KfError(f"{path}: no layer {target_layer!r} to explain") from None
        _CACHE.clear()
        _CACHE[key] = keras.Model(model.inputs,
                                  [layer.output, model.get_layer("logit").output])
    return _CACHE[key]


def gradcam(model, x: np.ndarray, classes: np.ndarray | None = None) -> np.ndarray:
    """Grad-CAM maps (N, h, w) of float images (N, S, S, 1) at the feature-map size, of the
    defect logit or of each image's logit in `classes`."""
    x = tf.convert_to_tensor(x, tf.float32)
    with tf.GradientTape() as tape:
        features, logit = model(x, training=False)
        picked = logit[:, 0] if classes is None else tf.gather(
            logit, tf.constant(classes, tf.int32), axis=1, batch_dims=1)
        score = tf.reduce_sum(picked)  # each image's logit depends on itself only
    grads = tape.gradient(score, features)  # (N, h, w, C)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    return tf.nn.relu(tf.reduce_sum(weights * features, axis=-1)).numpy()


def heatmaps(checkpoint: str | Path, images: np.ndarray, cfg: TrainConfig,
             batch_size: int = 32, classes: np.ndarray | None = None) -> np.ndarray:
    """Grad-CAM of the `.keras` model in `checkpoint` for uint8 images (N, S, S):
    (N, S, S) float32 in [0, 1], each map scaled by its own maximum (all zeros when the
    model sees nothing to raise its defect score)."""
    images = np.asarray(images)
    s = cfg.image_size
    if images.ndim != 3 or images.shape[1:] != (s, s):
        raise KfError(f"images to explain must be shaped (N, {s}, {s}) like the run's "
                      f"--image-size, got {images.shape}")
    model = grad_model(Path(checkpoint), model_spec(cfg.model).target_layer)
    out = np.zeros(images.shape, dtype=np.float32)
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size].astype(np.float32)[..., None]
        picked = None if classes is None else np.asarray(classes)[start:start + batch_size]
        cam = gradcam(model, batch, picked)[..., None]
        cam = tf.image.resize(cam, (s, s), method="bilinear").numpy()[..., 0]
        peak = cam.reshape(len(cam), -1).max(axis=1).reshape(-1, 1, 1)
        out[start:start + len(batch)] = np.where(peak > 0, cam / np.maximum(peak, 1e-12), 0)
    return np.clip(out, 0.0, 1.0)
