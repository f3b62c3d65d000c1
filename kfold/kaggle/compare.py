"""Comparing predictions of submission files: identical per id, or the same ranking.

ROC AUC only sees the order of the predictions, so two files with the same ranking score
exactly the same (a duplicate: a slot spent for nothing), and two whose rank correlation is
above NEAR_COPY score almost the same. A metric that is not rank-based scores two files
alike only when their predictions are identical per id.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kfold.scoring import get_metric

NEAR_COPY = 0.9999  # Spearman above this: the same ranking, for AUC purposes
SCORED_BY = "auc"  # the default metric; kf submit passes the contest's (contest_metric)


def read_preds(source: str | Path | bytes, id_column: str) -> pd.Series | None:
    """The first prediction column of a CSV (a path or its bytes), indexed by id; None if
    it cannot be read."""
    try:
        buf = io.BytesIO(source) if isinstance(source, bytes) else source
        df = pd.read_csv(buf, dtype={id_column: str})
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    cols = [c for c in df.columns if c != id_column]
    if id_column not in df.columns or not cols:
        return None
    return pd.to_numeric(df.set_index(id_column)[cols[0]], errors="coerce")


def spearman(a: pd.Series, b: pd.Series) -> float:
    """Rank correlation over the ids both have (nan with fewer than 3, or no spread)."""
    common = a.index.intersection(b.index)
    if len(common) < 3:
        return float("nan")
    return float(a.loc[common].rank().corr(b.loc[common].rank()))


def identical(a: pd.Series, b: pd.Series) -> bool:
    """The same ids with the same predictions, whatever the row order or number format."""
    if len(a) != len(b) or set(a.index) != set(b.index):
        return False
    return bool(np.array_equal(a.to_numpy(float), b.loc[a.index].to_numpy(float)))


def same_ranking(a: pd.Series, b: pd.Series) -> bool:
    """The same ids in the same order of predictions (ties where the other has ties)."""
    if len(a) != len(b) or set(a.index) != set(b.index):
        return False
    return bool(np.array_equal(a.rank().to_numpy(), b.loc[a.index].rank().to_numpy()))


def scores_alike(a: pd.Series, b: pd.Series, metric: str = SCORED_BY) -> bool:
    """Whether `metric` (a name of `kfold.scoring`) necessarily gives both files the same
    score: identical predictions, or for a rank-based metric the same ranking."""
    return identical(a, b) or (get_metric(metric).rank_based and same_ranking(a, b))


@dataclass(frozen=True)
class Match:
    label: str  # names the submission: "ref R 'name' (<date>)"
    rho: float
    same: bool  # scores the same by the metric: identical predictions, or the same ranking
    identical: bool = False  # identical predictions per id


def closest(preds: pd.Series, others: dict[str, pd.Series],
            metric: str = SCORED_BY) -> Match | None:
    """The submitted file that `metric` scores the same as `preds`, else the one with the
    highest rank correlation; None when there is nothing to compare with."""
    best: Match | None = None
    for label, other in others.items():
        if identical(preds, other):
            return Match(label, 1.0, True, True)
        if scores_alike(preds, other, metric):
            return Match(label, 1.0, True)
        rho = spearman(preds, other)
        if not np.isnan(rho) and (best is None or rho > best.rho):
            best = Match(label, rho, False)
    return best
