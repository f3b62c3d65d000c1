"""Fold-honest out-of-fold predictions of a blender, on the base runs' own folds.

For fold k a fresh clone of the blender is fitted on the other folds' OOF rows only and
predicts fold k's rows; no row's prediction ever depends on its own fold's targets. The
stacked OOF AUC is therefore comparable with the base runs' OOF AUC (same rows, same split).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from kfold.errors import KfError
from kfold.stack.blenders import Blender


def check_folds(y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """The sorted fold numbers; each fold and each fold's complement must hold both classes."""
    ks = np.unique(folds)
    if len(ks) < 2:
        raise KfError(f"stacking needs at least 2 folds; the runs' OOF rows have {len(ks)}")
    for k in ks:
        inside = y[folds == k]
        if len(np.unique(inside)) < 2:
            raise KfError(f"fold {int(k)} holds only one class; its AUC is undefined")
    return ks


def cross_fit(blender: Blender, X: np.ndarray, y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """OOF predictions of `blender`: fold k predicted by a clone fitted on the other folds."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y).astype(int)
    folds = np.asarray(folds)
    out = np.full(len(y), np.nan)
    for k in check_folds(y, folds):
        held = folds == k
        model = clone(blender).fit(X[~held], y[~held])
        out[held] = model.predict_proba(X[held])
    return out
