"""The metric functions Kaggle image contests score with, in numpy.

Shapes, the same everywhere in `kfold.scoring`: a binary target `y` is (n,) of 0/1 with `p`
(n,) the probability of the positive class; a multi-class `y` is (n,) class indices 0..C-1
with `p` (n, C); a multi-label `y` is (n, C) of 0/1 with `p` (n, C); a regression `y` and
`p` are (n,) numbers. Label metrics (accuracy, F1, kappa) receive labels already made from
the probabilities (`kfold.scoring.registry` decides how).

Each function equals its scikit-learn counterpart where one exists (tests check it), and
gives a defined answer where scikit-learn raises: a class absent from the rows scored is
left out of a macro AUC (all absent: NaN, as `kfold.metrics.auc` does for one class).
"""

from __future__ import annotations

import numpy as np

from kfold.metrics import auc

LOGLOSS_EPS = 1e-15  # Kaggle's clipping of probabilities before the log


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Binary ROC AUC (NaN when the rows hold one class)."""
    return auc(y, p)


def partial_auc(y: np.ndarray, p: np.ndarray, min_tpr: float = 0.8) -> float:
    """Area under the ROC curve above a true-positive rate of `min_tpr`, in [0, 1 - min_tpr].

    ISIC 2024's metric: the area between the ROC curve and the line TPR = min_tpr, i.e. how
    well the model ranks once it must catch at least `min_tpr` of the positives. Equal to
    Kaggle's formula built on scikit-learn's McClish-corrected `max_fpr` AUC of the flipped
    problem (the tests check it), without the correction's round trip.
    """
    y = np.asarray(y).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(-np.asarray(p, dtype=float), kind="stable")
    s, yy = np.asarray(p, dtype=float)[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last row of each tied score
    tpr = np.r_[0.0, np.cumsum(yy)[last] / n_pos]
    fpr = np.r_[0.0, np.cumsum(~yy)[last] / n_neg]
    # the curve is piecewise linear; clip its height at min_tpr and integrate exactly
    above = np.maximum(tpr - min_tpr, 0.0)
    crossing = (tpr[:-1] < min_tpr) & (tpr[1:] > min_tpr)
    area = np.sum((fpr[1:] - fpr[:-1]) * (above[1:] + above[:-1]) / 2)
    # a segment crossing min_tpr: only the part above it counts (a triangle, not a trapezoid)
    i = np.flatnonzero(crossing)
    frac = (tpr[i + 1] - min_tpr) / (tpr[i + 1] - tpr[i])
    area += np.sum((fpr[i + 1] - fpr[i]) * frac * above[i + 1] / 2
                   - (fpr[i + 1] - fpr[i]) * above[i + 1] / 2)
    return float(area)


def column_aucs(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """One-vs-rest ROC AUC of every column of a (n, C) indicator `y` (NaN: one class only)."""
    return np.array([auc(y[:, c], p[:, c]) for c in range(y.shape[1])])


def mean_column_auc(y: np.ndarray, p: np.ndarray, weighted: bool = False) -> float:
    """Mean ROC AUC over the columns of a multi-label target (columns holding one class are
    left out); `weighted` weighs each column by its positives, as scikit-learn's
    `average="weighted"` does."""
    y = np.asarray(y)
    aucs = column_aucs(y, np.asarray(p, dtype=float))
    keep = ~np.isnan(aucs)
    if not keep.any():
        return float("nan")
    weights = y.sum(axis=0)[keep] if weighted else np.ones(int(keep.sum()))
    return float(np.average(aucs[keep], weights=weights))


def macro_ovr_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Macro one-vs-rest ROC AUC of a multi-class target (scikit-learn's `multi_class="ovr"`);
    classes absent from `y` are left out."""
    p = np.asarray(p, dtype=float)
    return mean_column_auc(one_hot(y, p.shape[1]), p)


def one_hot(y: np.ndarray, n_classes: int) -> np.ndarray:
    """(n, C) 0/1 indicator of class indices `y`."""
    out = np.zeros((len(y), n_classes), dtype=np.int8)
    out[np.arange(len(y)), np.asarray(y, dtype=int)] = 1
    return out


def _clipped_rows(p: np.ndarray) -> np.ndarray:
    """Kaggle's log-loss input: probabilities clipped to [eps, 1 - eps], rows summing to 1."""
    p = np.clip(np.asarray(p, dtype=float), LOGLOSS_EPS, 1 - LOGLOSS_EPS)
    return p / p.sum(axis=1, keepdims=True)


def _as_two_columns(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return np.column_stack([1 - p, p]) if p.ndim == 1 else p


def log_loss(y: np.ndarray, p: np.ndarray, class_weighted: bool = False) -> float:
    """Log loss as Kaggle computes it: clip to [1e-15, 1 - 1e-15], normalise each row, mean of
    -log p(true class). A multi-label target scores the mean over its columns of each column's
    binary log loss. `class_weighted`: each class present in `y` weighs the same whatever its
    size (the mean over classes of the class's mean log loss), Kaggle's "weighted multi-class
    log loss" with equal weights."""
    y = np.asarray(y)
    if y.ndim == 2:
        return float(np.mean([log_loss(y[:, c], np.asarray(p)[:, c], class_weighted)
                              for c in range(y.shape[1])]))
    q = _clipped_rows(_as_two_columns(p))
    yi = y.astype(int)
    losses = -np.log(q[np.arange(len(yi)), yi])
    if not class_weighted:
        return float(losses.mean())
    sums = np.bincount(yi, weights=losses, minlength=q.shape[1])
    counts = np.bincount(yi, minlength=q.shape[1])
    present = counts > 0
    return float(np.mean(sums[present] / counts[present]))


def accuracy(y: np.ndarray, labels: np.ndarray) -> float:
    """Share of rows predicted right (a multi-label row counts when every label is right)."""
    y, labels = np.asarray(y), np.asarray(labels)
    right = (y == labels).all(axis=1) if y.ndim == 2 else y == labels
    return float(right.mean())


def f1(y: np.ndarray, labels: np.ndarray, average: str) -> float:
    """F1 of labels: "binary" (of class 1), "macro" or "micro", as scikit-learn's `f1_score`.

    Macro over a multi-class target averages the classes present in `y` or `labels`; over a
    multi-label target every column (one never true nor predicted scores 0), as scikit-learn.
    """
    y, labels = np.asarray(y).astype(int), np.asarray(labels).astype(int)
    tp, fp, fn = _label_counts(y, labels)
    present = np.ones(len(tp), dtype=bool) if y.ndim == 2 else (tp + fp + fn) > 0
    if average == "binary":
        tp, fp, fn, present = tp[1:2], fp[1:2], fn[1:2], present[1:2] | True
    elif average == "micro":
        tp, fp, fn = (x[present].sum(keepdims=True) for x in (tp, fp, fn))
        present = np.ones(1, dtype=bool)
    denom = 2 * tp + fp + fn
    scores = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    return float(scores[present].mean())


def _label_counts(y: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, ...]:
    """True positives, false positives and false negatives per class (or per column)."""
    if y.ndim == 2:
        return (y & labels).sum(axis=0), ((1 - y) & labels).sum(axis=0), \
            (y & (1 - labels)).sum(axis=0)
    n_classes = max(int(max(y.max(initial=0), labels.max(initial=0))) + 1, 2)
    tp = np.bincount(y[y == labels], minlength=n_classes)
    return tp, np.bincount(labels, minlength=n_classes) - tp, \
        np.bincount(y, minlength=n_classes) - tp


def rmse(y: np.ndarray, p: np.ndarray) -> float:
    """Root mean squared error."""
    diff = np.asarray(y, dtype=float) - np.asarray(p, dtype=float)
    return float(np.sqrt(np.mean(diff ** 2)))


def top_k(p: np.ndarray, k: int) -> np.ndarray:
    """(n, k) column indices of each row's k highest probabilities, best first (ties: the
    lower column first, so a submission is reproducible)."""
    p = np.asarray(p, dtype=float)
    k = min(k, p.shape[1])
    return np.argsort(-p, axis=1, kind="stable")[:, :k]


def map_at_k(y: np.ndarray, ranked: np.ndarray, k: int) -> float:
    """Mean average precision at k of ranked guesses (n, k) (Kaggle's `mapk`): for a single
    label per row, 1 / (position of the true label) or 0 when it is not among the k; for a
    (n, C) multi-label target, the precision at each hit summed over min(#labels, k)."""
    y, ranked = np.asarray(y), np.asarray(ranked)[:, :k]
    if y.ndim == 1:
        hit = ranked == np.asarray(y, dtype=int)[:, None]
        return float((hit / np.arange(1, ranked.shape[1] + 1)).sum(axis=1).mean())
    hit = np.take_along_axis(y.astype(bool), ranked, axis=1)
    precision = np.cumsum(hit, axis=1) / np.arange(1, ranked.shape[1] + 1)
    n_true = np.minimum(y.sum(axis=1), k)
    ap = np.where(n_true > 0, (precision * hit).sum(axis=1) / np.maximum(n_true, 1), 0.0)
    return float(ap.mean())
