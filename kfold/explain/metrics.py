"""Localization metrics: how well a heatmap points at the defect boxes. Pure functions.

All work in one frame (the original image's, in practice) on heatmaps (N, H, W) and, per
image, a (k, 4) array of inclusive pixel boxes (x_1, y_1, x_2, y_2) -- usually k = 1; with
several boxes an image's target region is their union.

- pointing game: the heatmap's peak pixel lies inside a box;
- distance: pixels from the peak pixel to the nearest box pixel (0 inside), the metric the
  original Nexperia work proposed;
- energy: share of the (positive) heatmap mass inside the boxes (energy-based pointing game);
- IoU at threshold t: IoU of {heat >= t * max(heat)} with the boxes.

A flat heatmap (all equal: the model's gradient gave nothing) has no peak: it counts as a
miss, energy 0 and IoU 0, its distance is NaN (left out of the distance summary) and it is
counted as `flat`, so no number silently improves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

THRESHOLDS = (0.25, 0.5, 0.75)
FLAT_EPS = 1e-6


def box_mask(boxes: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """(N, H, W) bool: the union of each image's inclusive boxes."""
    h, w = shape
    mask = np.zeros((len(boxes), h, w), dtype=bool)
    for i, b in enumerate(boxes):
        for x1, y1, x2, y2 in np.asarray(b, dtype=int).reshape(-1, 4):
            mask[i, max(y1, 0):y2 + 1, max(x1, 0):x2 + 1] = True
    return mask


def peaks(heat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, flat) of each heatmap's maximum (first in row-major order on ties)."""
    heat = np.asarray(heat)
    n, _, w = heat.shape
    flat_view = heat.reshape(n, -1)
    idx = flat_view.argmax(1)
    flat = (flat_view.max(1) - flat_view.min(1)) <= FLAT_EPS
    return idx // w, idx % w, flat


def distance_to_boxes(rows: np.ndarray, cols: np.ndarray, boxes: list[np.ndarray]) -> np.ndarray:
    """Euclidean pixel distance from each point (row, col) to its image's nearest box pixel."""
    out = np.full(len(boxes), np.nan)
    for i, b in enumerate(boxes):
        b = np.asarray(b, dtype=float).reshape(-1, 4)
        if not len(b):
            continue
        dx = np.maximum.reduce([b[:, 0] - cols[i], np.zeros(len(b)), cols[i] - b[:, 2]])
        dy = np.maximum.reduce([b[:, 1] - rows[i], np.zeros(len(b)), rows[i] - b[:, 3]])
        out[i] = float(np.hypot(dx, dy).min())
    return out


def localization(heat: np.ndarray, boxes: list[np.ndarray],
                 thresholds: tuple[float, ...] = THRESHOLDS,
                 flat: np.ndarray | None = None) -> pd.DataFrame:
    """Per-image metrics for heatmaps (N, H, W) against each image's boxes.

    `flat` marks heatmaps known to be flat before mapping (a map constant over the model's
    input is not constant once the cropped border is added back as zeros).

    Columns: peak_x, peak_y, flat, hit, distance, energy, box_share (share of the image the
    boxes cover: the pointing game of a random peak and the energy of a uniform map, i.e.
    chance level), iou@<t> for each threshold.
    """
    heat = np.asarray(heat, dtype=np.float32)
    if heat.ndim != 3:
        raise ValueError(f"heatmaps must be (N, H, W), got shape {heat.shape}")
    if len(boxes) != len(heat):
        raise ValueError(f"{len(heat)} heatmaps but {len(boxes)} box lists")
    n = len(heat)
    inside = box_mask(boxes, heat.shape[1:])
    rows, cols, is_flat = peaks(heat)
    flat = is_flat if flat is None else is_flat | np.asarray(flat, dtype=bool)
    hit = inside[np.arange(n), rows, cols] & ~flat
    distance = distance_to_boxes(rows, cols, boxes)
    distance[flat] = np.nan
    pos = np.clip(heat, 0, None)
    mass = pos.sum(axis=(1, 2), dtype=np.float64)
    in_mass = (pos * inside).sum(axis=(1, 2), dtype=np.float64)
    energy = np.divide(in_mass, mass, out=np.zeros(n), where=(mass > 0) & ~flat)
    box_share = inside.sum(axis=(1, 2)) / float(inside[0].size) if n else np.zeros(0)
    out = {"peak_x": cols, "peak_y": rows, "flat": flat, "hit": hit, "distance": distance,
           "energy": energy, "box_share": box_share}
    top = heat.reshape(n, -1).max(1)[:, None, None]
    for t in thresholds:
        region = (heat >= t * top) & ~flat[:, None, None]
        inter = (region & inside).sum(axis=(1, 2))
        union = (region | inside).sum(axis=(1, 2))
        out[f"iou@{t:g}"] = np.divide(inter, union, out=np.zeros(n), where=union > 0)
    return pd.DataFrame(out)


def summarize(per_image: pd.DataFrame, thresholds: tuple[float, ...] = THRESHOLDS) -> dict:
    """Means over images: pointing_game, distance_mean/median (non-flat images), energy,
    iou@t, chance (mean box_share); n images and n flat. Empty input gives n = 0 and None
    for every metric."""
    n = len(per_image)
    if n == 0:
        keys = ["pointing_game", "distance_mean", "distance_median", "energy", "chance",
                *(f"iou@{t:g}" for t in thresholds)]
        return {"n": 0, "flat": 0, **{k: None for k in keys}}
    d = per_image["distance"].dropna()
    return {
        "n": int(n),
        "flat": int(per_image["flat"].sum()),
        "pointing_game": float(per_image["hit"].mean()),
        "distance_mean": float(d.mean()) if len(d) else None,
        "distance_median": float(d.median()) if len(d) else None,
        "energy": float(per_image["energy"].mean()),
        "chance": float(per_image["box_share"].mean()) if "box_share" in per_image else None,
        **{f"iou@{t:g}": float(per_image[f"iou@{t:g}"].mean()) for t in thresholds},
    }
