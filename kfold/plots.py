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
    """Loss and validation AUC per epoch, one line per fold; epochs are whole numbers on the
    axis, and each fold's best epoch (highest validation AUC, the checkpoint kept) is a star
    on its AUC curve and a dotted line on its loss curve."""
    from matplotlib.ticker import MaxNLocator

    fig, (ax_loss, ax_auc) = plt.subplots(1, 2, figsize=(10, 3.8))
    for tag, h in histories.items():
        line, = ax_loss.plot(h["epoch"], h["train_loss"], label=f"{tag} train")
        if "val_loss" in h:
            ax_loss.plot(h["epoch"], h["val_loss"], "--", color=line.get_color())
        if "auc" in h and h["auc"].notna().any():
            ax_auc.plot(h["epoch"], h["auc"], color=line.get_color(), label=tag)
            best = h.loc[h["auc"].idxmax()]
            ax_auc.plot([best["epoch"]], [best["auc"]], "*", ms=12, color=line.get_color())
            ax_loss.axvline(best["epoch"], ls=":", lw=1, color=line.get_color())
    for ax in (ax_loss, ax_auc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_loss.set(xlabel="epoch", ylabel="BCE loss (dashed: validation)")
    ax_auc.set(xlabel="epoch", ylabel="validation AUC (star: best epoch, kept)")
    ax_loss.legend(fontsize=7)
    fig.suptitle(title)
    return save_figure(fig, path)
