"""Matplotlib figures written as PNG files: the one place that picks the headless backend
and writes a figure (atomically). Every module that draws imports `plt` and `save_figure`
from here, lazily where its package must stay light at import time."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from kfold.atomic import atomic_path  # noqa: E402


def save_figure(fig, path: Path, dpi: int = 110) -> Path:
    """Write `fig` as a PNG at `path` (temp file + rename) and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_training_curves(histories: dict[str, pd.DataFrame], path: Path, title: str) -> Path:
    """Loss and validation AUC per epoch, one line per fold."""
    fig, (ax_loss, ax_auc) = plt.subplots(1, 2, figsize=(10, 3.8))
    for tag, h in histories.items():
        line, = ax_loss.plot(h["epoch"], h["train_loss"], label=f"{tag} train")
        if "val_loss" in h:
            ax_loss.plot(h["epoch"], h["val_loss"], "--", color=line.get_color())
            ax_auc.plot(h["epoch"], h["auc"], color=line.get_color(), label=tag)
    ax_loss.set(xlabel="epoch", ylabel="BCE loss (dashed: validation)")
    ax_auc.set(xlabel="epoch", ylabel="validation AUC")
    ax_loss.legend(fontsize=7)
    fig.suptitle(title)
    return save_figure(fig, path)
