"""Each run's OOF score with its 95% interval, and its paired difference to the best run.

A binary run scored by AUC keeps DeLong's interval and paired test on the fold scale (the
score every kf command ranks it by, docs/stack.md). Any other contest metric gets a paired
bootstrap (`kfold.stats.bootstrap`): every run on the same rows is scored on the same
resampled rows, so its difference to the best run is interval-bounded too; there is no
p-value. A kappa run is resampled on its cross-fitted grades (the thresholds are fitted once
per fold, not per resample). `kf runs` and `kf plan` read these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kfold import artifacts
from kfold.data.task import Task, model_targets
from kfold.scoring import Metric, get_metric
from kfold.workspace import Workspace


@dataclass(frozen=True)
class OofRows:
    """A run's OOF rows as its metric scores them: the truth `y` and the model's `output`
    (kappa's cross-fitted grades in place of the raw output), sorted by id."""

    ids: pd.Series
    target: pd.Series
    folds: np.ndarray
    y: np.ndarray
    output: np.ndarray

    def same_rows(self, other: OofRows) -> bool:
        """Both runs scored the same images with the same targets on the same folds."""
        return (self.ids.equals(other.ids) and self.target.equals(other.target)
                and np.array_equal(self.folds, other.folds))


@dataclass(frozen=True)
class Interval:
    """A run's score with its 95% interval; `vs_best` and its interval (and DeLong's
    p-value for AUC) when it scored the same rows as the best run, else None."""

    score: float
    low: float
    high: float
    vs_best: float | None = None
    vs_best_low: float | None = None
    vs_best_high: float | None = None
    vs_best_p: float | None = None

    @property
    def within_noise(self) -> bool | None:
        """The difference's interval holds 0 (None: no difference measured)."""
        if self.vs_best is None:
            return None
        return bool(self.vs_best_low <= 0 <= self.vs_best_high)


@dataclass(frozen=True)
class Scoring:
    """What a run is: its task and classes, and the metric it is scored by."""

    task: Task
    metric: Metric

    @property
    def uses_delong(self) -> bool:
        return self.task.kind == "binary" and self.metric.name == "auc"


def scoring_of(ws: Workspace, name: str, inputs: list[str] | None = None) -> Scoring:
    """A run's scoring from its run.json; a stack's from its first input run's (`inputs`,
    its lineage), else from any run of the workspace (they share its task); binary AUC when
    there is none."""
    names = [name] if ws.run_json(name).exists() else [
        *(inputs or []), *artifacts.list_runs(ws)]
    for candidate in names:
        if ws.run_json(candidate).exists():
            meta = artifacts.read_run(ws, candidate)
            return Scoring(Task(meta.task, tuple(meta.classes), "run.json"),
                           get_metric(meta.metric))
    return Scoring(Task("binary", (), "default"), get_metric("auc"))


def read_rows(ws: Workspace, name: str, scoring: Scoring) -> OofRows | None:
    """The run's OOF rows (None when its OOF file is gone); a rank-based metric's (the AUC
    family's) on the fold scale, as every kf command scores it."""
    from kfold.stats.foldscale import columns_to_fold_scale

    path = ws.oof_path(name)
    if not path.exists():
        return None
    kind = scoring.task.kind
    oof = artifacts.read_oof(path, kind).sort_values("id").reset_index(drop=True)
    folds = oof["fold"].to_numpy()
    columns = artifacts.pred_columns(kind, artifacts.classes_of(oof))
    output = oof[columns].to_numpy() if kind in artifacts.WIDE else oof["pred"].to_numpy()
    if scoring.metric.rank_based:
        output = columns_to_fold_scale(output, folds)
    task = Task(kind, tuple(artifacts.classes_of(oof)), scoring.task.reason)
    y = model_targets(task, oof["target"])
    return OofRows(oof["id"], oof["target"], folds, y,
                   scoring.metric.oof_output(y, output, folds))


def fold_scores(rows: OofRows, metric: Metric) -> list[float]:
    """The metric on each fold's rows."""
    return [metric.score(rows.y[rows.folds == k], rows.output[rows.folds == k])
            for k in np.unique(rows.folds)]


def intervals(runs: dict[str, OofRows], metric: Metric) -> dict[str, Interval]:
    """Every run's interval, `runs` given best first; the difference to the first for those
    on its rows."""
    if not runs:
        return {}
    names = list(runs)
    best = runs[names[0]]
    paired = [n for n in names if runs[n].same_rows(best)]
    if metric.name == "auc":
        return {n: _delong(runs[n], best if n in paired else None, n == names[0])
                for n in names}
    out = _bootstrap({n: runs[n] for n in paired}, metric, with_diff=True)
    for n in names:
        if n not in out:
            out |= _bootstrap({n: runs[n]}, metric, with_diff=False)
    return {n: out[n] for n in names}


def _delong(rows: OofRows, best: OofRows | None, is_best: bool) -> Interval:
    from kfold.stats import auc_interval, paired_difference

    iv = auc_interval(rows.target, rows.output)
    if best is None or is_best:
        return Interval(iv.auc, iv.low, iv.high)
    d = paired_difference(rows.target, rows.output, best.output)
    return Interval(iv.auc, iv.low, iv.high, d.diff, d.low, d.high, d.p_value)


def _bootstrap(runs: dict[str, OofRows], metric: Metric, with_diff: bool) -> dict[str, Interval]:
    from kfold.stats.bootstrap import paired_bootstrap

    first = next(iter(runs.values()))
    found = paired_bootstrap(first.y, {n: r.output for n, r in runs.items()}, metric)
    out = {}
    for i, b in enumerate(found):
        diff = (b.diff, b.diff_low, b.diff_high) if with_diff and i else (None, None, None)
        out[b.run] = Interval(b.score, b.low, b.high, *diff)
    return out
