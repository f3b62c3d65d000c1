"""Quadratic weighted kappa and the class thresholds that turn a score into an ordinal class.

An ordinal contest (grades 0..C-1 scored by QWK) is best modelled as a number, then cut into
grades by C-1 thresholds fitted to maximise QWK. A threshold fitted on the rows it scores
leaks: even random scores then beat chance. `crossfit_labels` fits the thresholds of each fold
on the other folds only, so an OOF score stays honest (the tests check that random scores
stay at chance).
"""

from __future__ import annotations

import numpy as np

PASSES = 3  # coordinate-descent sweeps over the thresholds
GRID = 40  # candidate positions of one threshold between its neighbours


def qwk(y: np.ndarray, labels: np.ndarray, n_classes: int | None = None) -> float:
    """Quadratic weighted Cohen's kappa of integer grades (scikit-learn's
    `cohen_kappa_score(weights="quadratic")`); 0.0 when undefined (one grade in both)."""
    y, labels = np.asarray(y, dtype=int), np.asarray(labels, dtype=int)
    c = n_classes or int(max(y.max(initial=0), labels.max(initial=0))) + 1
    observed = np.bincount(y * c + labels, minlength=c * c).reshape(c, c).astype(float)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / max(len(y), 1)
    grade = np.arange(c)
    weights = (grade[:, None] - grade[None, :]) ** 2
    denom = float((weights * expected).sum())
    return 0.0 if denom == 0 else float(1 - (weights * observed).sum() / denom)


def cut(values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Grades of `values` given sorted thresholds (grade i between threshold i-1 and i)."""
    return np.searchsorted(np.asarray(thresholds), np.asarray(values, dtype=float), side="right")


def default_thresholds(n_classes: int) -> np.ndarray:
    """Rounding: 0.5, 1.5, ... (a value is the grade nearest to it)."""
    return np.arange(n_classes - 1) + 0.5


def fit_thresholds(values: np.ndarray, y: np.ndarray, n_classes: int) -> np.ndarray:
    """Thresholds maximising QWK on these rows: coordinate descent from rounding, each
    threshold tried at `GRID` points between its neighbours, `PASSES` sweeps."""
    values = np.asarray(values, dtype=float)
    t = default_thresholds(n_classes)
    low_end, high_end = min(values.min(initial=0.0), 0.0) - 1, max(values.max(initial=0.0), n_classes) + 1
    best = qwk(y, cut(values, t), n_classes)
    for _ in range(PASSES):
        for i in range(len(t)):
            lo = t[i - 1] if i > 0 else low_end
            hi = t[i + 1] if i + 1 < len(t) else high_end
            for cand in np.linspace(lo, hi, GRID + 2)[1:-1]:
                trial = t.copy()
                trial[i] = cand
                score = qwk(y, cut(values, trial), n_classes)
                if score > best:
                    best, t = score, trial
    return t


def fit_cuts(values: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The thresholds a test submission is cut by: fitted on every OOF row, grades 0 to the
    highest grade of `y` (the OOF score itself uses `crossfit_labels`, which never cuts a
    row by thresholds fitted on it)."""
    y = np.asarray(y, dtype=int)
    return fit_thresholds(values, y, int(y.max(initial=0)) + 1)


def crossfit_labels(values: np.ndarray, y: np.ndarray, folds: np.ndarray,
                    n_classes: int) -> np.ndarray:
    """Grades of every row, each fold cut by thresholds fitted on the other folds."""
    values, y, folds = np.asarray(values, dtype=float), np.asarray(y, dtype=int), np.asarray(folds)
    labels = np.empty(len(values), dtype=int)
    for k in np.unique(folds):
        rows = folds == k
        t = fit_thresholds(values[~rows], y[~rows], n_classes) if (~rows).any() \
            else default_thresholds(n_classes)
        labels[rows] = cut(values[rows], t)
    return labels


def expected_grade(p: np.ndarray) -> np.ndarray:
    """A number per row from class probabilities (n, C): the expected grade sum_c c p_c; a
    (n,) regression output is already one."""
    p = np.asarray(p, dtype=float)
    return p if p.ndim == 1 else p @ np.arange(p.shape[1])
