"""Grad-CAM (and its relatives) for the PyTorch backend, batched over images.

Uses the `grad-cam` package (pytorch_grad_cam) on the layer the model registry names for
each architecture. Images go through the same normalisation as training (DeviceBatches), so
the model sees exactly what it saw when it predicted. The target is the defect logit, or for
a multi-class model each image's class logit (`classes`: the predicted or a named class).

`TorchBackend.heatmaps` calls `heatmaps`; the Keras backend's Grad-CAM gives maps of the
same shape and scale, so `kf explain` feeds both to the same metric code.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from kfold.backends.torch.loader import DeviceBatches
from kfold.backends.torch.loop import load_checkpoint, resolve_device
from kfold.errors import KfError
from kfold.train_config import TrainConfig

# CLI name -> class name in pytorch_grad_cam.
METHODS = {
    "gradcam": "GradCAM",
    "gradcam++": "GradCAMPlusPlus",
    "hirescam": "HiResCAM",
    "xgradcam": "XGradCAM",
    "layercam": "LayerCAM",
    "eigencam": "EigenCAM",
    "eigengradcam": "EigenGradCAM",
    "scorecam": "ScoreCAM",
}


def check_method(method: str) -> str:
    if method not in METHODS:
        raise KfError(f"unknown --method {method!r}; choose one of {', '.join(METHODS)}")
    return method


class DefectLogit:
    """Grad-CAM target: the model's defect logit for one image ((), (1,) or (2,) output)."""

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        return output.reshape(-1)[-1]


class ClassLogit:
    """Grad-CAM target: one class's logit of a multi-class model's output for one image."""

    def __init__(self, index: int):
        self.index = index

    def __call__(self, output: torch.Tensor) -> torch.Tensor:
        return output.reshape(-1)[self.index]


def _targets(classes: np.ndarray | None, start: int, n: int) -> list:
    """The Grad-CAM targets of images start..start+n: their class logits, else the defect's."""
    if classes is None:
        return [DefectLogit()] * n
    return [ClassLogit(int(c)) for c in classes[start:start + n]]


def tokens_to_map(t: torch.Tensor) -> torch.Tensor:
    """Grad-CAM reshape for transformer blocks: (N, L, C) tokens -> (N, C, s, s) over the
    s*s patch tokens (leading class/register tokens dropped). Conv maps pass through."""
    if t.ndim != 3:
        return t
    n, length, c = t.shape
    side = math.isqrt(length)
    return t[:, length - side * side:].reshape(n, side, side, c).permute(0, 3, 1, 2)


def target_layer(model: nn.Module, image_size: int) -> nn.Module:
    """The Grad-CAM layer of a model of `loop.build_model` (its registry entry says which)."""
    info = model.kf_info
    if info.target_layer is None:
        raise KfError(f"model {info.name!r} has no Grad-CAM target layer in the registry; "
                      "set target_layer in its @register_model")
    return info.target_layer(model, image_size)


def cam_images(model: nn.Module, layer: nn.Module, images: np.ndarray,
               device: torch.device, method: str = "gradcam",
               batch_size: int = 64, classes: np.ndarray | None = None) -> np.ndarray:
    """Heatmaps (N, S, S) float32 in [0, 1] (each scaled to its own maximum) for uint8
    images (N, S, S), computed `batch_size` images at a time; `classes`: the class index
    each image's map explains (a multi-class model), else the defect logit."""
    import pytorch_grad_cam

    cam_cls = getattr(pytorch_grad_cam, METHODS[check_method(method)])
    n, size = len(images), images.shape[-1]
    out = np.zeros((n, size, size), dtype=np.float32)
    if n == 0:
        return out
    model.eval().requires_grad_(False)  # only activation gradients are needed
    info = model.kf_info
    loader = DeviceBatches(images, None, batch_size=batch_size, device=device, mean=info.mean,
                           std=info.std, in_chans=info.in_chans,
                           channels_last=device.type == "cuda")
    cam = cam_cls(model=model, target_layers=[layer], reshape_transform=tokens_to_map)
    try:
        start = 0
        for x, _ in loader:
            x = x.detach().requires_grad_(True)
            heat = cam(input_tensor=x, targets=_targets(classes, start, len(x)))
            out[start:start + len(x)] = np.nan_to_num(heat, nan=0.0)
            start += len(x)
    finally:
        cam.activations_and_grads.release()
    return out


def heatmaps(checkpoint: Path, images: np.ndarray, cfg: TrainConfig, method: str = "gradcam",
             batch_size: int = 64, device: str | None = None,
             classes: np.ndarray | None = None) -> np.ndarray:
    """Heatmaps (N, S, S) in [0, 1] of the model in `checkpoint` on uint8 images (of each
    image's class in `classes`, when given)."""
    dev = resolve_device(device or cfg.device)
    model = load_checkpoint(cfg, Path(checkpoint), dev)
    layer = target_layer(model, cfg.image_size)
    return cam_images(model, layer, images, dev, method, batch_size, classes)
