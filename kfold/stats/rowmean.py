"""Metrics that are a mean over rows (log loss, accuracy, error rate, RMSE): scored on many
row subsets at once from each run's per-row terms, e.g. every simulated split of
`kfold.stats.shakeup` or every resample of `kfold.stats.bootstrap`.

`from_mean(metric, row_losses(metric, y, outputs)[rows].mean(axis=0))` equals
`metric.score(y[rows], output[rows])` for each output (tests check it).
"""

from __future__ import annotations

import numpy as np

from kfold.scoring import Metric, labels_of
from kfold.scoring.measures import LOGLOSS_EPS


def row_losses(metric: Metric, y: np.ndarray, outputs: list[np.ndarray]) -> np.ndarray | None:
    """(n, runs) per-row terms whose mean (then `from_mean`) is the metric; None when the
    metric is not a mean over rows."""
    if metric.name == "logloss":
        return np.column_stack([_row_log_loss(y, o) for o in outputs])
    if metric.name in ("accuracy", "error"):
        return np.column_stack([_row_right(y, o) for o in outputs]).astype(float)
    if metric.name == "rmse":
        return np.column_stack([(np.asarray(y, float) - o) ** 2 for o in outputs])
    return None


def from_mean(metric: Metric, means: np.ndarray) -> np.ndarray:
    """The metric from the mean of its per-row terms."""
    if metric.name == "rmse":
        return np.sqrt(means)
    return 1 - means if metric.name == "error" else means


def _row_log_loss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Each row's log loss as `kfold.scoring.measures.log_loss` computes it (clipped,
    rows normalised; a multi-label row: the mean over its columns)."""
    p = np.asarray(p, dtype=float)
    if np.asarray(y).ndim == 2:
        return np.mean([_row_log_loss(y[:, c], p[:, c]) for c in range(y.shape[1])], axis=0)
    q = np.column_stack([1 - p, p]) if p.ndim == 1 else p
    q = np.clip(q, LOGLOSS_EPS, 1 - LOGLOSS_EPS)
    q = q / q.sum(axis=1, keepdims=True)
    return -np.log(q[np.arange(len(q)), np.asarray(y, dtype=int)])


def _row_right(y: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Each row predicted right (a multi-label row: every label)."""
    y = np.asarray(y)
    labels = labels_of(output, y.ndim == 1 and np.ndim(output) == 2)
    return (y == labels).all(axis=1) if y.ndim == 2 else y == labels
