"""An epoch's validation predictions read the same way by both backends, framework-free:
the numbers of its history row, and how far apart they are (the collapse rule's input,
kfold.backends.rules)."""

from __future__ import annotations

import numpy as np

from kfold.backends import Head
from kfold.scoring import fold_metrics
from kfold.scoring.measures import log_loss


def validation_row(head: Head, y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """An epoch's validation numbers: the loss, the fold metrics (kfold.scoring.fold_metrics:
    `auc` and the confusion metrics of a binary task as before tasks) and the contest
    metric's `score`."""
    row = {"val_loss": validation_loss(head, y, p)} | fold_metrics(head.kind, head.metric, y, p)
    return row | {"score": row["auc"]}


def validation_loss(head: Head, y: np.ndarray, p: np.ndarray) -> float:
    """The loss the model trains on, of its predictions: log loss, or the squared error."""
    if head.kind == "regression":
        return float(np.mean((np.asarray(y, dtype=float) - p) ** 2))
    clipped = np.clip(p, 1e-7, 1 - 1e-7)
    if head.kind == "multiclass":
        return log_loss(y, clipped)
    return float(-np.mean(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)))


def collapse_range(head: Head, p: np.ndarray) -> float:
    """How far apart the predictions are (0: collapsed): the range of a binary probability or
    a value; for class probabilities, the largest range of a column, and 0 when every image
    gets the same class (a multi-class model that says one class for everything)."""
    if len(p) == 0:
        return float("inf")
    if p.ndim == 1:
        return float(np.ptp(p))
    if head.kind == "multiclass" and len(np.unique(p.argmax(axis=1))) == 1 and len(p) > 1:
        return 0.0
    return float(np.ptp(p, axis=0).max())
