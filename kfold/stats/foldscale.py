"""Fold-aware scores and the fold scale: OOF predictions come from k different models.

A k-fold run's OOF file holds k fold models' validation predictions side by side. Each fold
model can be good and still put its probabilities on its own scale (one kept an early,
badly calibrated checkpoint): pooling the rows then mixes scales and the pooled AUC falls
far below every fold's AUC. On the test set nothing is mixed (each image gets the mean of
all fold models), so the pooled score understates what a submission scores, and any blender
fitted on pooled rows learns from mixed scales.

The *fold scale* removes the difference: a row's prediction is replaced by its mid-rank
quantile among its own fold model's validation predictions (`to_fold_scale`); a test row is
mapped through each fold model's same quantile function and the k values averaged
(`map_test_to_fold_scale`), so OOF and test rows share one scale. For blending, the
quantiles can be read off a reference distribution (the run's fold-mean test predictions)
to keep the run's calibration; scores see only the order, so the reference changes none. Three scores per run
(`fold_scores`): pooled, fold-normalised (the metric on the fold scale; what kfold ranks
by, docs/stack.md) and the mean of the folds' scores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kfold.errors import KfError
from kfold.metrics import auc

#: pooled this far below fold-normalised (AUC points) flags "fold models on different
#: scales": on runs without drift the two differ by a few thousandths (docs/stack.md)
DRIFT_GAP = 0.01

Metric = Callable[[np.ndarray, np.ndarray], float]


def ecdf_transform(sorted_reference: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Map each column of X to its mid-rank quantile in the matching sorted reference column.

    The result is in [0, 1]; a value equal to the reference median maps to about 0.5. It is a
    monotone map fitted on the reference rows, so one row's value never depends on the other
    rows being transformed (unlike ranking within the batch).
    """
    n = sorted_reference.shape[0]
    out = np.empty_like(X, dtype=float)
    for j in range(X.shape[1]):
        col = sorted_reference[:, j]
        left = np.searchsorted(col, X[:, j], side="left")
        right = np.searchsorted(col, X[:, j], side="right")
        out[:, j] = (left + right) / (2.0 * n)
    return out


def quantiles(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """1-D `ecdf_transform`: each value's mid-rank quantile among `reference`."""
    ref = np.sort(np.asarray(reference, dtype=float))[:, None]
    return ecdf_transform(ref, np.asarray(values, dtype=float)[:, None])[:, 0]


def onto(reference: np.ndarray | None, u: np.ndarray) -> np.ndarray:
    """Quantiles `u` read off `reference`'s distribution (None: kept as quantiles)."""
    return u if reference is None else np.quantile(np.asarray(reference, dtype=float), u)


def to_fold_scale(pred: np.ndarray, folds: np.ndarray,
                  reference: np.ndarray | None = None) -> np.ndarray:
    """Each OOF row's quantile among its own fold's rows (that fold model's validation
    predictions), the order within a fold kept and every fold on one scale: [0, 1], or
    `reference`'s values at those quantiles. Any reference ranks the rows alike."""
    pred, folds = np.asarray(pred, dtype=float), np.asarray(folds)
    out = np.empty(len(pred))
    for k in np.unique(folds):
        rows = folds == k
        out[rows] = quantiles(pred[rows], pred[rows])
    return onto(reference, out)


def columns_to_fold_scale(output: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """`to_fold_scale` of each column of an (n, C) output (a 1-D one as is)."""
    output = np.asarray(output, dtype=float)
    if output.ndim == 1:
        return to_fold_scale(output, folds)
    return np.column_stack([to_fold_scale(output[:, c], folds) for c in range(output.shape[1])])


def map_test_to_fold_scale(oof_pred: np.ndarray, folds: np.ndarray, fold_test: np.ndarray,
                           reference: np.ndarray | None = None) -> np.ndarray:
    """Test rows on the OOF rows' fold scale: column k of `fold_test` (fold model k's test
    predictions, k in sorted fold order) mapped through the quantiles of that fold model's
    validation predictions (and `reference`), then the k values averaged. A test prediction
    equal to a validation prediction of fold k gets the value `to_fold_scale` gave that OOF
    row."""
    oof_pred, folds = np.asarray(oof_pred, dtype=float), np.asarray(folds)
    ks = np.unique(folds)
    fold_test = np.asarray(fold_test, dtype=float)
    if fold_test.ndim != 2 or fold_test.shape[1] != len(ks):
        raise KfError(f"fold-scale test predictions need one column per fold model "
                      f"({len(ks)}); got shape {fold_test.shape}")
    return np.mean([onto(reference, quantiles(oof_pred[folds == k], fold_test[:, i]))
                    for i, k in enumerate(ks)], axis=0)


def self_scale(pred: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Predictions of one model (a 100% retrain) on the fold scale: their own quantiles,
    uniform on [0, 1] like each fold's OOF rows (or read off `reference`)."""
    return onto(reference, quantiles(pred, pred))


@dataclass(frozen=True)
class FoldScores:
    """A run's OOF predictions scored three ways."""

    pooled: float  # every OOF row in one score: mixes the fold models' scales
    normalised: float  # the score on the fold scale: what kfold ranks by
    per_fold: tuple[float, ...]  # each fold's rows alone

    @property
    def fold_mean(self) -> float:
        return float(np.mean(self.per_fold))

    @property
    def fold_std(self) -> float:
        return float(np.std(self.per_fold, ddof=1)) if len(self.per_fold) > 1 else 0.0

    @property
    def drift(self) -> bool:
        """Fold models on different scales: pooling loses more than `DRIFT_GAP`."""
        return self.normalised - self.pooled > DRIFT_GAP


def fold_scores(y: np.ndarray, pred: np.ndarray, folds: np.ndarray,
                metric: Metric | None = None) -> FoldScores:
    """Pooled, fold-normalised and per-fold scores of `pred` by `metric` (default: AUC,
    which needs both classes in every fold or raises a KfError). A metric that reads
    probabilities as probabilities (log loss) should be given calibrated predictions:
    the fold scale keeps order only."""
    score = metric or (lambda t, p: auc(t, p, single_class="raise"))
    y, pred, folds = np.asarray(y), np.asarray(pred, dtype=float), np.asarray(folds)
    per_fold = tuple(float(score(y[folds == k], pred[folds == k])) for k in np.unique(folds))
    return FoldScores(float(score(y, pred)), float(score(y, to_fold_scale(pred, folds))),
                      per_fold)
