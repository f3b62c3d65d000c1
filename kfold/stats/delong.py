"""DeLong's variance of the ROC AUC, and DeLong's test for two correlated AUCs.

DeLong, DeLong & Clarke-Pearson (1988) write the AUC as a U-statistic and estimate its
variance from "structural components": for each positive, the share of negatives it outranks;
for each negative, the share of positives that outrank it (ties count one half). Sun & Xu
(2014, IEEE Signal Processing Letters 21(11)) obtain all of them from three mid-rankings
(positives alone, negatives alone, all rows), so k scorings of n rows cost O(k n log n)
instead of O(k m n). Two runs scored on the same images are correlated; the covariance of
their AUCs comes from the same components, which is what makes the paired test valid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from kfold.errors import KfError

Z95 = 1.959963984540054  # standard normal quantile at 0.975


def _z(level: float) -> float:
    from scipy.stats import norm

    if not 0 < level < 1:
        raise KfError(f"confidence level {level} is outside (0, 1); use e.g. 0.95")
    return Z95 if level == 0.95 else float(norm.ppf(0.5 + level / 2))


@dataclass(frozen=True)
class AucInterval:
    """An AUC with its DeLong standard error and a normal-theory interval clipped to [0, 1]."""

    auc: float
    se: float
    low: float
    high: float
    n_pos: int
    n_neg: int

    @property
    def text(self) -> str:
        return f"{self.auc:.4f} [{self.low:.4f}, {self.high:.4f}]"


@dataclass(frozen=True)
class PairedDifference:
    """AUC(a) - AUC(b) on the same rows, its DeLong standard error, interval and p-value."""

    diff: float
    se: float
    low: float
    high: float
    p_value: float
    correlation: float  # of the two AUC estimates

    @property
    def within_noise(self) -> bool:
        """The interval contains 0: the data cannot tell the two AUCs apart at this level."""
        return self.low <= 0 <= self.high

    @property
    def text(self) -> str:
        return f"{self.diff:+.4f} [{self.low:+.4f}, {self.high:+.4f}] p={self.p_value:.3g}"


def _check(y, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).ravel()
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    if scores.shape[1] != len(y):
        raise KfError(f"{scores.shape[1]} scores for {len(y)} targets; they must pair up")
    labels = set(np.unique(y).tolist())
    if not labels <= {0, 1}:
        raise KfError(f"targets must be 0/1, got values {sorted(labels)[:5]}")
    if not np.isfinite(scores).all():
        raise KfError("scores hold NaN or infinite values; AUC is undefined")
    y = y.astype(bool)
    if y.all() or not y.any():
        raise KfError("AUC needs both classes among the targets; only one is present")
    return y, scores


def delong_covariance(y, scores) -> tuple[np.ndarray, np.ndarray]:
    """AUCs of k scorings of the same rows and their k x k DeLong covariance matrix.

    `scores`: shape (n,) or (k, n). Fast DeLong (Sun & Xu 2014): three mid-rankings per
    scoring. With a single positive or negative the variance is undefined (NaN).
    """
    y, scores = _check(y, scores)
    pos, neg = scores[:, y], scores[:, ~y]
    m, n = pos.shape[1], neg.shape[1]
    tx = rankdata(pos, axis=1)  # mid-ranks among positives
    ty = rankdata(neg, axis=1)  # mid-ranks among negatives
    tz = rankdata(np.hstack([pos, neg]), axis=1)  # mid-ranks among all rows
    aucs = (tz[:, :m].sum(axis=1) / m - (m + 1) / 2) / n
    v10 = (tz[:, :m] - tx) / n  # per positive: share of negatives it outranks
    v01 = 1.0 - (tz[:, m:] - ty) / m  # per negative: share of positives outranking it
    if m < 2 or n < 2:
        return aucs, np.full((len(aucs), len(aucs)), np.nan)
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, cov


def auc_interval(y, score, level: float = 0.95) -> AucInterval:
    """The AUC of one scoring with its DeLong standard error and `level` interval.

    With a single positive or negative the standard error is NaN and the interval [0, 1]."""
    z = _z(level)
    aucs, cov = delong_covariance(y, np.asarray(score, dtype=float).ravel())
    a, var = float(aucs[0]), float(cov[0, 0])
    y = np.asarray(y).astype(bool)
    if math.isnan(var):  # a single positive or negative: any AUC is possible
        return AucInterval(a, var, 0.0, 1.0, int(y.sum()), int((~y).sum()))
    se = math.sqrt(max(var, 0.0))
    return AucInterval(a, se, max(0.0, a - z * se), min(1.0, a + z * se),
                       int(y.sum()), int((~y).sum()))


def paired_difference(y, a, b, level: float = 0.95) -> PairedDifference:
    """DeLong's test of AUC(a) = AUC(b) for two scorings of the same rows (two-sided).

    The interval is clipped to [-1, 1]. With a single positive or negative the variance is
    undefined: the interval is [-1, 1] (within noise) and the p-value NaN, never 0."""
    z = _z(level)
    aucs, cov = delong_covariance(y, np.vstack([np.ravel(a), np.ravel(b)]))
    diff = float(aucs[0] - aucs[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    if math.isnan(var):  # a single positive or negative: untestable, any difference possible
        return PairedDifference(diff, var, -1.0, 1.0, float("nan"), float("nan"))
    se = math.sqrt(max(var, 0.0))
    if se > 0:
        p = math.erfc(abs(diff) / se / math.sqrt(2))
    else:  # no variation: both orderings are constant or perfect on every resample
        p = 1.0 if diff == 0 else 0.0
    denom = math.sqrt(max(cov[0, 0] * cov[1, 1], 0.0))
    corr = float(cov[0, 1] / denom) if denom > 0 else float("nan")
    return PairedDifference(diff, se, max(-1.0, diff - z * se), min(1.0, diff + z * se), p, corr)


def hanley_mcneil_se(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil (1982) standard error of an AUC from its value and class sizes.

    Assumes exponential score distributions; a cross-check on DeLong, not a replacement."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc)
           + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    return math.sqrt(max(var, 0.0))
