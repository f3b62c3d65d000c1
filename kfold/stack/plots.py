"""Pictures for choosing what to blend: OOF correlation heatmap and ROC curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kfold import artifacts
from kfold.metrics import auc, average_ranks
from kfold.workspace import Workspace


def rank_correlation(preds: np.ndarray) -> np.ndarray:
    """Spearman correlation between the columns of an (n_rows, n_runs) matrix."""
    ranks = np.column_stack([average_ranks(preds[:, j]) for j in range(preds.shape[1])])
    return np.corrcoef(ranks, rowvar=False)


def plot_runs(ws: Workspace, runs: list[str] | None = None,
              out_dir: str | Path | None = None) -> list[Path]:
    """Write `oof_corr.png` (Spearman correlation of OOF predictions between runs and stacks)
    and `oof_roc.png` (every run's and stack's OOF ROC curve on one plot) into `out_dir`
    (default: the workspace's `oof/`). `runs` default: every OOF file in `oof/`; they must
    share ids, targets and folds. Returns the paths written."""
    from sklearn.metrics import roc_curve

    from kfold.plots import plt, save_figure

    runs = list(runs) if runs else artifacts.list_oof_runs(ws)
    aligned = artifacts.load_aligned_oof(ws, runs)
    preds = aligned[runs].to_numpy(dtype=float)
    y = aligned["target"].to_numpy().astype(int)
    out_dir = Path(out_dir) if out_dir else ws.oof_dir
    out_dir.mkdir(parents=True, exist_ok=True)

    corr = rank_correlation(preds)
    size = max(4.0, 0.6 * len(runs) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(corr, vmin=min(0.0, corr.min()), vmax=1.0, cmap="viridis")
    ax.set_xticks(range(len(runs)), runs, rotation=45, ha="right")
    ax.set_yticks(range(len(runs)), runs)
    for i in range(len(runs)):
        for j in range(len(runs)):
            ax.text(j, i, f"{corr[i, j]:.2f}", ha="center", va="center",
                    color="white" if corr[i, j] < 0.8 else "black", fontsize=8)
    fig.colorbar(im, ax=ax, label="Spearman correlation of OOF predictions")
    ax.set_title("OOF prediction correlation (low = more to gain by blending)")
    fig.tight_layout()
    corr_path = save_figure(fig, out_dir / "oof_corr.png")

    fig, ax = plt.subplots(figsize=(6.5, 6))
    for j, run in enumerate(runs):
        fpr, tpr, _ = roc_curve(y, preds[:, j])
        ax.plot(fpr, tpr, lw=1.4, ls="--" if run.startswith("stack-") else "-",
                label=f"{run} (AUC {auc(y, preds[:, j], single_class='raise'):.4f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("OOF ROC curves")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return [corr_path, save_figure(fig, out_dir / "oof_roc.png")]
