"""Paired bootstrap intervals for any contest metric (DeLong's are for the AUC alone).

Runs scored on the same rows are correlated, so their difference is far more certain than
either score: each resample draws one set of rows and scores every run on it, and the
interval of a run's difference to the best run comes from those paired draws. Percentile
intervals; a resample on which the metric is undefined (an AUC drawing one class) is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kfold.errors import KfError, check_whole
from kfold.scoring import Metric
from kfold.stats.rowmean import from_mean, row_losses

N_BOOT = 200


@dataclass(frozen=True)
class BootInterval:
    """A run's score and interval, and its difference to the best run (`diff` = score - best's
    score, 0 for the best itself) with that difference's interval."""

    run: str
    score: float
    low: float
    high: float
    diff: float
    diff_low: float
    diff_high: float


def resample_scores(y: np.ndarray, outputs: list[np.ndarray], metric: Metric, n_boot: int,
                    seed: int) -> np.ndarray:
    """(n_boot, runs) scores, every run scored on the same drawn rows in each resample (a
    row-mean metric from its per-row terms, `kfold.stats.rowmean`)."""
    rng = np.random.default_rng(seed)
    y = np.asarray(y)
    losses = row_losses(metric, y, [np.asarray(o) for o in outputs])
    scores = np.empty((n_boot, len(outputs)))
    for b in range(n_boot):
        rows = rng.integers(0, len(y), len(y))
        scores[b] = [metric.score(y[rows], np.asarray(o)[rows]) for o in outputs] \
            if losses is None else from_mean(metric, losses[rows].mean(axis=0))
    return scores


def paired_bootstrap(y: np.ndarray, outputs: dict[str, np.ndarray], metric: Metric, *,
                     n_boot: int = N_BOOT, level: float = 0.95, seed: int = 0,
                     reference: str | None = None) -> list[BootInterval]:
    """Each run's score with its interval and its paired difference to the best run (or to
    `reference`, e.g. the best single run when `outputs` also holds stacks)."""
    check_whole("--n-boot", n_boot, 10, 100_000)
    if not 0 < level < 1:
        raise KfError(f"confidence level {level} is outside (0, 1); use e.g. 0.95")
    if not outputs:
        raise KfError("no runs to bootstrap")
    names = list(outputs)
    full = [metric.score(y, outputs[n]) for n in names]
    if reference is not None and reference not in outputs:
        raise KfError(f"no output named {reference!r} to compare with")
    best = metric.best(full) if reference is None else names.index(reference)
    draws = resample_scores(y, [outputs[n] for n in names], metric, n_boot, seed)
    q = [50 * (1 - level), 50 * (1 + level)]
    out = []
    for j, name in enumerate(names):
        low, high = _percentiles(draws[:, j], q)
        d_low, d_high = _percentiles(draws[:, j] - draws[:, best], q)
        out.append(BootInterval(name, full[j], low, high, full[j] - full[best], d_low, d_high))
    return out


def _percentiles(values: np.ndarray, q: list[float]) -> tuple[float, float]:
    kept = values[~np.isnan(values)]
    if not len(kept):
        return float("nan"), float("nan")
    low, high = np.percentile(kept, q)
    return float(low), float(high)
