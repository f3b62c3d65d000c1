"""The metric registry: every contest metric kf knows, what it needs and which way is better.

A `Metric` scores a model's raw output (probabilities, or numbers for regression) against the
truth: label metrics turn the output into labels first (argmax of a multi-class row, 0.5 on a
binary or multi-label probability, fitted thresholds for kappa), so every caller passes OOF
predictions as they are. `output` is how the output becomes a submission when the sample
submission does not say otherwise. `rank_based` metrics ignore any monotone change of the
scores (two submissions ranking the rows alike score alike).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from kfold.errors import KfError
from kfold.scoring import kappa, measures

TASKS = ("binary", "multiclass", "multilabel", "regression")
Direction = Literal["max", "min"]
Needs = Literal["ranks", "probabilities", "labels", "values"]
Output = Literal["probabilities", "label", "labels", "top-k", "value"]
MAX_K = 100


@dataclass(frozen=True)
class Metric:
    """One contest metric. `fn(y, output)` takes the model's raw output (module docstring)."""

    name: str
    title: str
    direction: Direction
    needs: Needs
    tasks: tuple[str, ...]
    output: Output
    fn: Callable[[np.ndarray, np.ndarray], float]
    k: int = 0  # the k of MAP@k
    bounds: tuple[float, float] = (0.0, 1.0)  # the scores it can give (log loss: unbounded)

    @property
    def rank_based(self) -> bool:
        """Scores depend on the order of the rows' scores within each column only (the AUC
        family): a monotone map of any column leaves them alone, so kf scores and blends
        them on the fold scale (docs/stack.md). Not MAP@k, which ranks a row's classes."""
        return self.needs == "ranks" and not self.k

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "max"

    @property
    def label(self) -> str:
        """The metric named with its direction, for table headers: "log loss ↓"."""
        return f"{self.title} {'↑' if self.higher_is_better else '↓'}"

    def score(self, y: np.ndarray, output: np.ndarray) -> float:
        return float(self.fn(np.asarray(y), np.asarray(output)))

    def score_oof(self, y: np.ndarray, output: np.ndarray, folds: np.ndarray) -> float:
        """The OOF score; kappa's thresholds are cross-fitted over `folds` (a threshold fitted
        on the rows it scores leaks), every other metric ignores the folds."""
        return self.score(y, self.oof_output(y, output, folds))

    def oof_output(self, y: np.ndarray, output: np.ndarray, folds: np.ndarray) -> np.ndarray:
        """The OOF output as `score_oof` reads it, for `score` to read alike (a bootstrap
        resamples it): kappa's cross-fitted grades (one-hot over the classes for a (n, C)
        output), every other metric's output as it is."""
        output = np.asarray(output)
        if self.name != "qwk":
            return output
        y = np.asarray(y, dtype=int)
        n = _n_grades(y, output)
        labels = kappa.crossfit_labels(kappa.expected_grade(output), y, folds, n)
        return np.eye(n)[labels] if output.ndim == 2 else labels.astype(float)

    def better(self, a: float, b: float) -> bool:
        """`a` is a strictly better score than `b` (NaN is never better)."""
        return a > b if self.higher_is_better else a < b

    def order(self, score: float | None) -> float:
        """Sort key putting the best score first in this metric's direction (None or NaN
        last)."""
        if score is None or score != score:
            return float("inf")
        return -score if self.higher_is_better else score

    def clip(self, score: float) -> float:
        """A predicted score kept inside the range the metric can give."""
        return float(np.clip(score, *self.bounds))

    def best(self, scores: list[float]) -> int:
        """Index of the best score (the first of equals; NaN scores lose)."""
        keyed = [(-s if self.higher_is_better else s) for s in scores]
        return int(np.nanargmin(keyed)) if not np.all(np.isnan(keyed)) else 0

    def check_task(self, task: str) -> Metric:
        """This metric, when it can score `task`; KfError naming the ones that can."""
        if task not in self.tasks:
            fits = ", ".join(m for m in metric_names() if task in _lookup(m).tasks)
            raise KfError(f"metric {self.name!r} does not score a {task} task "
                          f"(it scores {', '.join(self.tasks)}); for {task} use one of: {fits}")
        return self

    def submission_values(self, output: np.ndarray, classes: list[str]) -> np.ndarray:
        """The submission's prediction column(s) in this metric's `output` form: (n, C) or (n,)
        probabilities, class names, space-separated labels or top-k, or numbers."""
        output = np.asarray(output)
        names = np.asarray(classes, dtype=object)
        if self.output in ("probabilities", "value"):
            if self.name != "qwk":
                return output
            n = output.shape[1] if output.ndim == 2 else len(classes)
            grades = kappa.cut(kappa.expected_grade(output), kappa.default_thresholds(n))
            return names[grades] if len(names) == n else grades
        if self.output == "label":
            return names[labels_of(output, output.ndim == 2)]
        picked = measures.top_k(output, self.k) if self.output == "top-k" else [
            np.flatnonzero(row >= 0.5) for row in output]
        return np.array([" ".join(names[c]) for c in picked], dtype=object)


def labels_of(output: np.ndarray, multiclass: bool) -> np.ndarray:
    """The labels an output stands for: argmax of each multi-class row, else p >= 0.5."""
    output = np.asarray(output, dtype=float)
    return output.argmax(axis=1) if multiclass else (output >= 0.5).astype(int)


def _n_grades(y: np.ndarray, output: np.ndarray) -> int:
    return output.shape[1] if output.ndim == 2 else int(max(y.max(initial=0), 0)) + 1


def _labels(y: np.ndarray, output: np.ndarray) -> np.ndarray:
    return labels_of(output, y.ndim == 1 and output.ndim == 2)


def _qwk_rounded(y: np.ndarray, output: np.ndarray) -> float:
    n = _n_grades(np.asarray(y, dtype=int), output)
    grades = kappa.cut(kappa.expected_grade(output), kappa.default_thresholds(n))
    return kappa.qwk(y, grades, n)


def _map_at(k: int) -> Metric:
    return Metric(f"map@{k}", f"MAP@{k}", "max", "ranks", ("multiclass", "multilabel"), "top-k",
                  lambda y, o: measures.map_at_k(y, measures.top_k(o, k), k), k=k)


_ALL = ("binary", "multiclass", "multilabel")
_UNBOUNDED = (0.0, float("inf"))
METRICS: dict[str, Metric] = {m.name: m for m in [
    Metric("auc", "AUC", "max", "ranks", ("binary",), "probabilities", measures.roc_auc),
    Metric("pauc", "pAUC above 80% TPR", "max", "ranks", ("binary",), "probabilities",
           measures.partial_auc),
    Metric("auc-ovr", "macro OvR AUC", "max", "ranks", ("multiclass",), "probabilities",
           measures.macro_ovr_auc),
    Metric("auc-columns", "mean column AUC", "max", "ranks", ("multilabel",), "probabilities",
           measures.mean_column_auc),
    Metric("auc-weighted", "weighted column AUC", "max", "ranks", ("multilabel",),
           "probabilities", lambda y, o: measures.mean_column_auc(y, o, weighted=True)),
    Metric("logloss", "log loss", "min", "probabilities", _ALL, "probabilities",
           measures.log_loss, bounds=_UNBOUNDED),
    Metric("logloss-weighted", "class-weighted log loss", "min", "probabilities",
           ("binary", "multiclass"), "probabilities",
           lambda y, o: measures.log_loss(y, o, class_weighted=True), bounds=_UNBOUNDED),
    Metric("accuracy", "accuracy", "max", "labels", _ALL, "label",
           lambda y, o: measures.accuracy(y, _labels(y, o))),
    Metric("error", "error rate", "min", "labels", _ALL, "label",
           lambda y, o: 1 - measures.accuracy(y, _labels(y, o))),
    Metric("f1", "F1", "max", "labels", ("binary",), "label",
           lambda y, o: measures.f1(y, _labels(y, o), "binary")),
    Metric("f1-macro", "macro F1", "max", "labels", ("multiclass", "multilabel"), "labels",
           lambda y, o: measures.f1(y, _labels(y, o), "macro")),
    Metric("f1-micro", "micro F1", "max", "labels", ("multiclass", "multilabel"), "labels",
           lambda y, o: measures.f1(y, _labels(y, o), "micro")),
    Metric("qwk", "quadratic weighted kappa", "max", "labels", ("multiclass", "regression"),
           "value", _qwk_rounded, bounds=(-1.0, 1.0)),
    Metric("rmse", "RMSE", "min", "values", ("regression",), "value", measures.rmse,
           bounds=_UNBOUNDED),
    _map_at(5),
]}
DEFAULTS = {"binary": "auc", "multiclass": "logloss", "multilabel": "auc-columns",
            "regression": "rmse"}


def metric_names() -> list[str]:
    return list(METRICS)


def _lookup(name: str) -> Metric:
    found = METRICS.get(name)
    match = re.fullmatch(r"map@(\d+)", name)
    if found is None and match and 1 <= int(match.group(1)) <= MAX_K:
        found = _map_at(int(match.group(1)))
    if found is None:
        close = difflib.get_close_matches(name, metric_names(), n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise KfError(f"unknown metric {name!r}; {hint}known: {', '.join(metric_names())} "
                      f"(map@k for any k from 1 to {MAX_K})")
    return found


def get_metric(name: str, task: str | None = None) -> Metric:
    """The metric called `name` (case-insensitive), checked against `task` when given."""
    metric = _lookup(str(name).strip().lower())
    return metric.check_task(task) if task else metric


def default_metric(task: str) -> Metric:
    """The metric a task is scored by when kfold.toml names none."""
    if task not in DEFAULTS:
        raise KfError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return METRICS[DEFAULTS[task]]


def fold_metrics(kind: str, metric: str, y: np.ndarray, output: np.ndarray) -> dict:
    """A validation fold's numbers as a fold result records them: `auc` holds the contest
    metric's score (the AUC of a binary task, with its confusion metrics at 0.5, as before
    tasks); a classification task adds its accuracy."""
    from kfold.metrics import binary_metrics

    if kind == "binary" and metric == "auc":
        return binary_metrics(y, output)
    out = {"auc": get_metric(metric, kind).score(y, output)}
    if kind == "binary":
        out = binary_metrics(y, output) | out
    elif kind != "regression":
        out["accuracy"] = measures.accuracy(y, _labels(np.asarray(y), np.asarray(output)))
    return out
