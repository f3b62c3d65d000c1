"""Pixel layers in the canonical frame that both the scene and the defect kinds draw with.

They sit below `kinds` and `raster` because a defect repaints what the scene painted (a lead
cut short is the lead layer drawn again, shorter), so both need the same primitives.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from kfold.data.synth.scene import Lead, Scene


@lru_cache(maxsize=4)
def grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pixel's x and y coordinate (float32), shared by all images of one size."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return xx, yy


def rect_mask(xx, yy, x0, y0, x1, y1, soft: float = 0.7) -> np.ndarray:
    """A rectangle with a soft (about one pixel) edge, values in [0, 1]."""
    mx = np.clip(np.minimum(xx - x0, x1 - xx) / soft + 0.5, 0, 1)
    my = np.clip(np.minimum(yy - y0, y1 - yy) / soft + 0.5, 0, 1)
    return mx * my


def poly_mask(size: int, pts, width: int = 0) -> np.ndarray:
    """A polygon (width 0) or polyline (width > 0) drawn by PIL at 4x and averaged down."""
    k = 4
    im = Image.new("L", (size * k, size * k), 0)
    dr = ImageDraw.Draw(im)
    scaled = [(x * k + (k - 1) / 2, y * k + (k - 1) / 2) for x, y in pts]
    if width:
        dr.line(scaled, fill=255, width=width * k, joint="curve")
    else:
        dr.polygon(scaled, fill=255)
    a = np.asarray(im, dtype=np.float32).reshape(size, k, size, k).mean(axis=(1, 3))
    return a / 255.0


def lead_layer(scene: Scene, lead: Lead, gx, gy) -> np.ndarray:
    """A lead's contribution above the background: metal with a bright ridge along it."""
    m = rect_mask(gx, gy, lead.x0, lead.y0, lead.x1, lead.y1)
    if lead.side in ("top", "bottom"):
        t = (gx - (lead.x0 + lead.x1) / 2) / max(1e-6, (lead.x1 - lead.x0) / 2)
    else:
        t = (gy - (lead.y0 + lead.y1) / 2) / max(1e-6, (lead.y1 - lead.y0) / 2)
    shade = 1.0 - 0.35 * np.clip(t * t, 0, 1)
    return m * (scene.lead_level * shade - scene.background)
