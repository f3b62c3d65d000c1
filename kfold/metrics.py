"""Binary classification metrics: ROC AUC (the one AUC of kfold) and the original notebooks'
threshold metrics."""

from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.metrics import confusion_matrix

from kfold.errors import KfError


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of a 1-D array, ties sharing their average rank (like scipy's rankdata)."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    order = np.argsort(values)  # ties are averaged below, so sort stability does not matter
    ordered = values[order]
    starts = np.concatenate([[0], np.flatnonzero(np.diff(ordered)) + 1])
    ends = np.concatenate([starts[1:], [n]])
    ranks = np.empty(n, dtype=float)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def auc(y: np.ndarray, score: np.ndarray, *,
        single_class: Literal["nan", "raise"] = "nan") -> float:
    """ROC AUC (Mann-Whitney U, tied scores counted as half); equals sklearn's roc_auc_score.

    AUC is undefined when the rows hold one class only. `single_class` says what the caller
    wants then: "nan" (a number to record, e.g. a validation fold's AUC while training goes
    on) or "raise" (a `KfError`, where a score is required, e.g. to rank blends).
    """
    y = np.asarray(y).astype(bool)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        if single_class == "nan":
            return float("nan")
        raise KfError("AUC needs both classes among the rows scored; found only one")
    ranks = average_ranks(score)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """tp fp tn fn accuracy precision recall auc at a probability threshold."""
    y = np.asarray(y).astype(int)
    pred = (np.asarray(p) >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
    n = tp + fp + tn + fn
    return {
        "tp": int(tp), "fp": int(fp), "tn": int(tn), "fn": int(fn),
        "accuracy": float((tp + tn) / n) if n else float("nan"),
        "precision": float(tp / (tp + fp)) if tp + fp else 0.0,
        "recall": float(tp / (tp + fn)) if tp + fn else 0.0,
        "auc": auc(y, p),
    }
