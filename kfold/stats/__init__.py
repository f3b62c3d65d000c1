"""Statistics for decisions under uncertainty; numpy/scipy only (no torch, no plotting).

- `delong`: ROC AUC with its DeLong standard error and 95% interval, and DeLong's paired test
  for two AUCs measured on the same rows (fast algorithm of Sun & Xu 2014).
- `foldscale`: pooled, fold-normalised and per-fold scores; the fold scale of OOF and
  test predictions (each fold model's validation-prediction quantiles).
- `shakeup`: simulated public/private splits of a test set drawn from OOF rows, scored by
  AUC (fast U statistics) or any contest metric;
- `bootstrap`: the paired bootstrap of any metric; `rowmean`: row-mean metrics (log loss,
  accuracy, RMSE) scored on many row subsets at once from per-row terms.
"""

from kfold.stats.delong import (
    AucInterval,
    PairedDifference,
    auc_interval,
    delong_covariance,
    hanley_mcneil_se,
    paired_difference,
)
from kfold.stats.foldscale import FoldScores, fold_scores, to_fold_scale
from kfold.stats.shakeup import Shakeup, check_fraction, simulate, split_aucs

__all__ = [
    "AucInterval", "PairedDifference", "auc_interval", "delong_covariance",
    "hanley_mcneil_se", "paired_difference", "Shakeup", "check_fraction", "simulate",
    "split_aucs", "FoldScores", "fold_scores", "to_fold_scale",
]
