"""A PNG grid of heatmaps overlaid on the original images, the defect boxes drawn."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kfold.plots import plt, save_figure


@dataclass
class Panel:
    """One cell: the original image (H, W) uint8, its heatmap in the same frame, boxes
    (k, 4) inclusive pixel indices (may be empty) and a title."""

    image: np.ndarray
    heat: np.ndarray
    boxes: np.ndarray
    title: str
    peak: tuple[int, int] | None = None  # (x, y)


def save_grid(panels: list[Panel], path: Path, title: str = "", columns: int = 8) -> Path:
    """Write the panels as one PNG, `columns` per row."""
    n = max(len(panels), 1)
    cols = min(columns, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.0 * cols, 2.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, p in zip(axes.flat, panels):
        ax.imshow(p.image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        top = max(float(p.heat.max()), 1e-6)
        level = np.clip(p.heat / top, 0, 1)
        rgba = plt.get_cmap("jet")(level)
        rgba[..., 3] = 0.6 * level  # cold areas stay see-through
        ax.imshow(rgba, interpolation="bilinear")
        # Pixel centres sit on integer coordinates: an inclusive box spans x_1 - 0.5 .. x_2 + 0.5.
        for x1, y1, x2, y2 in np.asarray(p.boxes).reshape(-1, 4):
            ax.add_patch(plt.Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1 + 1, y2 - y1 + 1,
                                       fill=False, edgecolor="lime", linewidth=1.2))
        if p.peak is not None:
            ax.plot(*p.peak, marker="x", color="white", markersize=6, mew=1.5)
        ax.set_title(p.title, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10, y=1.0 + 0.04 / rows)
    return save_figure(fig, Path(path))
