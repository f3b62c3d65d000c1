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

    @property
    def key(self) -> str:
        """Stable text naming this preprocessing, part of the cache key."""
        return f"crop{self.crop}-thr{self.threshold}-bin{self.binarize}"

    def apply(self, img: np.ndarray, size: int) -> np.ndarray:
        """uint8 HxW image -> uint8 size x size image."""
        h, w = img.shape
        c = self.crop
        if 2 * c >= min(h, w):
            raise KfError(f"--crop {c} leaves nothing of a {w}x{h} image")
        img = img[c:h - c, c:w - c]
        if self.threshold is not None:
            img = np.where(img < self.threshold * 255, 0, img).astype(np.uint8)
        if self.binarize is not None:
            img = np.where(img >= self.binarize * 255, 255, 0).astype(np.uint8)
        if img.shape != (size, size):
            img = np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))
        return img


def box_to_input(boxes: np.ndarray, orig_hw: tuple[int, int], crop: int, size: int) -> np.ndarray:
    """Map (x_1, y_1, x_2, y_2) boxes in original pixels into the size x size model input.

    Pixel edges map linearly: the cropped frame [crop, W - crop] spans [0, size].
    Parts of a box inside the cropped border are clipped away.
    """
    h, w = orig_hw
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    sx, sy = size / (w - 2 * crop), size / (h - 2 * crop)
    out = (boxes - crop) * np.array([sx, sy, sx, sy])
    return np.clip(out, 0, size)


def heatmap_to_original(heat: np.ndarray, orig_hw: tuple[int, int], crop: int) -> np.ndarray:
    """Map a heatmap over the model input back onto the original image (zero in the crop)."""
    h, w = orig_hw
    inner = Image.fromarray(np.asarray(heat, dtype=np.float32), mode="F")
    inner = np.asarray(inner.resize((w - 2 * crop, h - 2 * crop), Image.BILINEAR))
    out = np.zeros((h, w), dtype=np.float32)
    out[crop:h - crop, crop:w - crop] = inner
    return out
