"""defect_area.csv boxes, checked against the images they belong to.

A box is inclusive pixel indices (x_1, y_1, x_2, y_2) of the original image. Boxes that
cannot be scored are left out and *counted by reason* (never scored wrongly, never silently
dropped): unknown id, box on an image labelled good, non-numeric, inverted, outside the image,
or wholly inside the border the preprocessing crops away. A box ending exactly on the far
edge (x_2 = W or y_2 = H, an edge-based convention) is taken as ending on the last pixel and
counted under `clamped`.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

SKIP_REASONS = ("unknown id", "image labelled good", "not numbers", "inverted",
                "outside the image", "inside the cropped border")


def boxes_by_id(boxes: pd.DataFrame | None, ids: np.ndarray, targets: np.ndarray,
                orig_hw: np.ndarray, crop: int) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Valid boxes per defect image id ((k, 4) int arrays), and {reason: count} of the rest
    (plus `clamped`: boxes moved one pixel in from the far edge)."""
    counts: Counter[str] = Counter()
    if boxes is None or not len(boxes):
        return {}, {}
    index = {str(i): k for k, i in enumerate(ids)}
    coords = boxes[["x_1", "y_1", "x_2", "y_2"]].apply(pd.to_numeric, errors="coerce")
    found: dict[str, list] = {}
    for box_id, row in zip(boxes["id"].astype(str), coords.to_numpy(dtype=float)):
        k = index.get(box_id)
        if k is None:
            counts["unknown id"] += 1
            continue
        if targets[k] != 1:
            counts["image labelled good"] += 1
            continue
        if not np.isfinite(row).all() or (row != np.round(row)).any():
            counts["not numbers"] += 1
            continue
        x1, y1, x2, y2 = row.astype(int)
        h, w = (int(v) for v in orig_hw[k])
        if x2 < x1 or y2 < y1:
            counts["inverted"] += 1
            continue
        if x1 < 0 or y1 < 0 or x2 > w or y2 > h or x1 >= w or y1 >= h:
            counts["outside the image"] += 1
            continue
        if x2 == w or y2 == h:
            counts["clamped"] += 1
            x2, y2 = min(x2, w - 1), min(y2, h - 1)
        if x2 < crop or y2 < crop or x1 >= w - crop or y1 >= h - crop:
            counts["inside the cropped border"] += 1
            continue
        found.setdefault(box_id, []).append((x1, y1, x2, y2))
    return {i: np.array(b, dtype=int) for i, b in found.items()}, dict(counts)
