"""Preprocessing of the original Nexperia work, and exact coordinate mapping through it.

Order: crop a border of `crop` pixels -> method I (`threshold`: pixels darker than t*255 set
to 0) or method II (`binarize`: >= t*255 -> 255, else 0) -> resize to `size` x `size`.
Boxes are mapped into the model's input frame and heatmaps back, through the same chain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from kfold.errors import KfError
from kfold.train_config import TrainConfig


@dataclass(frozen=True)
class Preprocess:
    crop: int = 0
    threshold: float | None = None
    binarize: float | None = None

    def __post_init__(self) -> None:
        if self.crop < 0:
            raise KfError(f"--crop must be >= 0, got {self.crop}")
        for name in ("threshold", "binarize"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise KfError(f"--{name} must be in [0, 1], got {value}")
        if self.threshold is not None and self.binarize is not None:
            raise KfError("choose one of --threshold (method I) and --binarize (method II)")

    @classmethod
    def of(cls, cfg: TrainConfig) -> Preprocess:
        """The preprocessing a run's config asks for."""
        return cls(cfg.crop, cfg.threshold, cfg.binarize)

    @property
    def key(self) -> str:
        """Stable text naming this preprocessing, part of the cache key."""
        return f"crop{self.crop}-thr{self.threshold}-bin{self.binarize}"

    def apply(self, img: np.ndarray, size: int) -> np.ndarray:
        """uint8 HxW image -> uint8 size x size image."""
        h, w = img.shape
        c = self.crop
        if 2 * c >= min(h, w):
            raise KfError(f"--crop {c} is too large for the image size ({w}x{h} images): it "
                          f"leaves nothing; use --crop {max(0, (min(h, w) - 1) // 2)} or less")
        img = img[c:h - c, c:w - c]
        if self.threshold is not None:
            img = np.where(img < self.threshold * 255, 0, img).astype(np.uint8)
        if self.binarize is not None:
            img = np.where(img >= self.binarize * 255, 255, 0).astype(np.uint8)
        if img.shape != (size, size):
            img = np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))
        return img


# --- coordinates through the chain ---------------------------------------------------------
# Convention: a pixel (i, j) covers [j, j + 1) x [i, i + 1) in continuous coordinates, so
# its centre is (j + 0.5, i + 0.5). Boxes in defect_area.csv are *inclusive* pixel indices:
# x_1..x_2 and y_1..y_2 are the first and last columns and rows of the defect, i.e. the
# continuous rectangle [x_1, x_2 + 1) x [y_1, y_2 + 1). Cropping shifts the frame by `crop`;
# PIL's bilinear resize (like torch's align_corners=False) maps the cropped frame's edges
# [0, W - 2 crop] linearly onto [0, size], which is what `apply` does to the pixels.


def _scales(orig_hw: tuple[int, int], crop: int, size: int) -> tuple[float, float]:
    h, w = (int(v) for v in orig_hw)
    if 2 * crop >= min(h, w):
        raise KfError(f"--crop {crop} leaves nothing of a {w}x{h} image")
    return size / (w - 2 * crop), size / (h - 2 * crop)


def box_to_input(boxes: np.ndarray, orig_hw: tuple[int, int], crop: int, size: int) -> np.ndarray:
    """Map inclusive (x_1, y_1, x_2, y_2) boxes in original pixels into the size x size model
    input: continuous edges (u_0, v_0, u_1, v_1), clipped to [0, size].

    Parts of a box inside the cropped border are clipped away; a box wholly inside the
    border comes out empty (u_1 <= u_0 or v_1 <= v_0).
    """
    sx, sy = _scales(orig_hw, crop, size)
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    edges = boxes + np.array([0.0, 0.0, 1.0, 1.0])  # inclusive indices -> pixel edges
    out = (edges - crop) * np.array([sx, sy, sx, sy])
    return np.clip(out, 0, size)


def input_box_mask(edges: np.ndarray, size: int) -> np.ndarray:
    """(size, size) bool mask of the input pixels whose centres lie inside continuous box
    edges (u_0, v_0, u_1, v_1) (one box, or the union of several given as (k, 4))."""
    centres = np.arange(size) + 0.5
    mask = np.zeros((size, size), dtype=bool)
    for u0, v0, u1, v1 in np.asarray(edges, dtype=float).reshape(-1, 4):
        cols = (centres >= u0) & (centres < u1)
        rows = (centres >= v0) & (centres < v1)
        mask |= rows[:, None] & cols[None, :]
    return mask


def point_to_original(uv: np.ndarray, orig_hw: tuple[int, int], crop: int,
                      size: int) -> np.ndarray:
    """Continuous (u, v) points of the model input -> continuous (x, y) of the original image.
    An input pixel's centre (j + 0.5, i + 0.5) lands on the original point it was sampled at."""
    sx, sy = _scales(orig_hw, crop, size)
    uv = np.asarray(uv, dtype=float).reshape(-1, 2)
    return uv / np.array([sx, sy]) + crop


def heatmap_to_original(heat: np.ndarray, orig_hw: tuple[int, int], crop: int) -> np.ndarray:
    """Map heatmaps over the model input back onto the original image frame.

    `heat` is (S, S) or (N, S, S); the result is (H, W) or (N, H, W) float32: the inner
    (cropped) region is a bilinear resize (half-pixel centres, the inverse of `apply`'s
    geometry) and the cropped border, which the model never saw, is zero.
    """
    h, w = (int(v) for v in orig_hw)
    heat = np.asarray(heat, dtype=np.float32)
    single = heat.ndim == 2
    batch = heat[None] if single else heat
    if 2 * crop >= min(h, w):
        raise KfError(f"--crop {crop} leaves nothing of a {w}x{h} image")
    inner_hw = (h - 2 * crop, w - 2 * crop)
    if batch.shape[1:] == inner_hw:
        inner = batch
    else:
        import torch
        import torch.nn.functional as F

        with torch.no_grad():
            inner = F.interpolate(torch.from_numpy(np.ascontiguousarray(batch))[:, None],
                                  size=inner_hw, mode="bilinear", align_corners=False)
        inner = inner[:, 0].numpy()
    out = np.zeros((len(batch), h, w), dtype=np.float32)
    out[:, crop:h - crop, crop:w - crop] = inner
    return out[0] if single else out
