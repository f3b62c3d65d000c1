"""Blenders of any width: meta-models for multi-class, multi-label and regression contests
(and binary ones scored by a metric other than AUC).

Full scikit-learn estimators (`clone`, `get_params`, `check_is_fitted` work):

- `X` is (n, runs * C): each run's C class columns side by side, run by run (the order
  scikit-learn's `StackingClassifier` concatenates its estimators' `predict_proba`); C = 1
  for a binary or regression run;
- `y` as `kfold.scoring` takes it: class indices (multi-class), an (n, C) 0/1 indicator
  (multi-label), 0/1 (binary), numbers (regression);
- classifiers: `predict_proba(X)` is (n, C) with `classes_` = 0..C-1 (multi-class rows sum
  to 1; multi-label columns are each label's probability; binary: (n, 2), scikit-learn's
  form); regression: `predict(X)` is (n,). `output(X)` is what the contest's metric scores.

Multi-label (and binary) blends are per label: label c is blended from the runs' column c
only. A blender refuses a task it cannot blend (`create_task_blender`). kfold.stack.blenders
keeps the binary AUC blenders, unchanged.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from kfold.errors import KfError
from kfold.scoring import Metric, default_metric, get_metric
from kfold.stack.blenders import logit
from kfold.stats.foldscale import ecdf_transform

CLASSIFY = ("binary", "multiclass", "multilabel")
_EPS = 1e-6  # as kfold.stack.blenders: probabilities clipped before a log


def log_features(p: np.ndarray) -> np.ndarray:
    """log p with p clipped to [1e-6, 1]: a multinomial model's natural input."""
    return np.log(np.clip(np.asarray(p, dtype=float), _EPS, 1.0))


class TaskBlender(BaseEstimator, ABC):
    """Shared contract: checks, the (n, runs, C) view of X, the output of each task."""

    name: ClassVar[str] = "?"
    tasks: ClassVar[tuple[str, ...]] = ("binary", "multiclass", "multilabel", "regression")
    # blends ranks, not probabilities: `all` runs it only for a rank-based metric
    ranks_only: ClassVar[bool] = False

    def __init__(self, task: str = "multiclass", n_classes: int = 2, metric: str = ""):
        self.task = task
        self.n_classes = n_classes
        self.metric = metric

    # --- scikit-learn's interface ---------------------------------------------------------
    def fit(self, X, y) -> TaskBlender:
        self._check_task()
        X = self._check_X(X)
        self.n_features_in_ = X.shape[1]
        self.width_ = self._width()
        if self.task != "regression":
            self.classes_ = np.arange(self.n_classes if self.task != "binary" else 2)
        self._fit(self._runs(X), self._check_y(y, X.shape[0]))
        return self

    def predict_proba(self, X) -> np.ndarray:
        if self.task == "regression":
            raise KfError(f"blender {self.name!r}: a regression blend has no probabilities; "
                          "use predict")
        out = self._output(X)
        return np.column_stack([1 - out[:, 0], out[:, 0]]) if self.task == "binary" else out

    def predict(self, X) -> np.ndarray:
        """Regression: the blended values; classifiers: the most probable class."""
        out = self._output(X)
        if self.task == "regression":
            return out[:, 0]
        if self.task == "multiclass":
            return out.argmax(axis=1)
        return (out >= 0.5).astype(int)[:, 0 if self.task == "binary" else slice(None)]

    def output(self, X) -> np.ndarray:
        """What the contest's metric scores: (n, C) for multi-class and multi-label, (n,)
        for binary (the positive class's probability) and regression."""
        out = self._output(X)
        return out[:, 0] if out.shape[1] == 1 else out

    def learned(self) -> dict:
        """What the fit learned, for a sidecar's lineage (e.g. weights per run)."""
        return {}

    # --- what subclasses define -----------------------------------------------------------
    @abstractmethod
    def _fit(self, P: np.ndarray, y: np.ndarray) -> None:
        """Learn from the runs' OOF predictions P (n, runs, C) and targets y."""

    @abstractmethod
    def _predict(self, P: np.ndarray) -> np.ndarray:
        """(n, C) blended output of P (n, runs, C)."""

    # --- helpers --------------------------------------------------------------------------
    def _output(self, X) -> np.ndarray:
        check_is_fitted(self, "width_")
        out = self._predict(self._runs(self._check_X(X, self.n_features_in_)))
        if self.task == "regression":
            return out
        out = np.clip(out, 0.0, 1.0)
        if self.task == "multiclass":  # rows of probabilities sum to 1
            out = out / np.maximum(out.sum(axis=1, keepdims=True), _EPS)
        return out

    def _width(self) -> int:
        return self.n_classes if self.task in ("multiclass", "multilabel") else 1

    def _runs(self, X: np.ndarray) -> np.ndarray:
        """(n, runs * C) as (n, runs, C)."""
        return X.reshape(X.shape[0], -1, self._width())

    def _check_task(self) -> None:
        if self.task not in self.tasks:
            raise KfError(f"blender {self.name!r} does not blend a {self.task} task (it blends "
                          f"{', '.join(self.tasks)}); choose one of "
                          f"{', '.join(blenders_for(self.task))}")

    def _metric(self) -> Metric:
        return get_metric(self.metric, self.task) if self.metric else default_metric(self.task)

    def _check_X(self, X, n_features: int | None = None) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        width = self._width()
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0 or X.shape[1] % width:
            raise KfError(f"blender input must be a non-empty (rows, runs x {width}) matrix; "
                          f"got shape {X.shape}")
        if n_features is not None and X.shape[1] != n_features:
            raise KfError(f"blender was fitted on {n_features // width} runs but is given "
                          f"{X.shape[1] // width}")
        bad = ~np.isfinite(X) if self.task == "regression" else \
            ~np.isfinite(X) | (X < 0) | (X > 1)
        if bad.any():
            raise KfError(f"blender input has {int(bad.sum())} value(s) that are NaN, infinite"
                          + ("" if self.task == "regression" else " or outside [0, 1]"))
        return X

    def _check_y(self, y, n_rows: int) -> np.ndarray:
        y = np.asarray(y)
        shape = (n_rows, self.n_classes) if self.task == "multilabel" else (n_rows,)
        if y.shape != shape:
            raise KfError(f"{self.task} targets must have shape {shape}; got {y.shape}")
        if self.task == "regression":
            return y.astype(float)
        top = self.n_classes if self.task == "multiclass" else 2
        if not np.isin(y, np.arange(top)).all():
            raise KfError(f"{self.task} targets must be whole numbers from 0 to {top - 1}")
        return y.astype(int)


BLENDERS: dict[str, type[TaskBlender]] = {}


def register(name: str):
    """Class decorator: make a blender of any width available as `name`."""

    def deco(cls):
        cls.name = name
        BLENDERS[name] = cls
        return cls

    return deco


def blenders_for(task: str, metric: Metric | None = None) -> list[str]:
    """The blenders that blend `task`, in registration order; with the contest's `metric`,
    what `--blender all` runs: a blend of ranks only where the metric reads ranks (a rank
    blend's quantiles are no probabilities for log loss to score)."""
    return [name for name, cls in BLENDERS.items() if task in cls.tasks
            and (metric is None or metric.rank_based or not cls.ranks_only)]


def create_task_blender(name: str, task: str, n_classes: int, metric: str = "") -> TaskBlender:
    """A blender by name for `task`; a KfError for an unknown name or a task it cannot blend."""
    if name not in BLENDERS:
        raise KfError(f"unknown blender {name!r}; known blenders: {', '.join(BLENDERS)}")
    blender = BLENDERS[name](task=task, n_classes=n_classes, metric=metric)
    blender._check_task()
    return blender


def _as_labels(y: np.ndarray) -> np.ndarray:
    """Binary 0/1 targets as a one-label (n, 1) indicator; a multi-label indicator as is."""
    return y[:, None] if y.ndim == 1 else y


# --- the blenders --------------------------------------------------------------------------
@register("mean")
class MeanBlender(TaskBlender):
    """Mean of the runs' outputs, column by column. Nothing is learned."""

    def _fit(self, P, y):
        pass

    def _predict(self, P):
        return P.mean(axis=1)


@register("rank")
class RankBlender(TaskBlender):
    """Mean over runs of each class column's quantile among the fitted rows (scale and
    calibration differences between runs vanish); a multi-class row is renormalised to sum
    to 1. For rank-based metrics (AUC family)."""

    tasks = CLASSIFY
    ranks_only = True

    def _fit(self, P, y):
        self.reference_ = np.sort(P.reshape(len(P), -1), axis=0)

    def _predict(self, P):
        ranks = ecdf_transform(self.reference_, P.reshape(len(P), -1))
        return ranks.reshape(P.shape).mean(axis=1)


@register("logreg")
class LogRegBlender(TaskBlender):
    """Multinomial logistic regression on the standardised log probabilities of every run's
    class columns (multi-class: unscaled, lbfgs needs ~10x the iterations); per label, a
    binary one on the runs' logits of that label (multi-label, binary). scikit-learn,
    lbfgs, C = 1."""

    tasks = CLASSIFY

    def _fit(self, P, y):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        def model():
            return LogisticRegression(C=1.0, max_iter=1000, tol=1e-4)

        if self.task == "multiclass":
            pipeline = make_pipeline(StandardScaler(), model())
            self.models_ = [pipeline.fit(_run_logs(P), y)]
        else:
            labels = _as_labels(y)
            self.models_ = [_fit_or_constant(model(), logit(P[:, :, c]), labels[:, c])
                            for c in range(P.shape[2])]

    def _predict(self, P):
        return _predict_models(self.models_, P, self.task, self.n_classes)


@register("lightgbm")
class LightGBMBlender(TaskBlender):
    """A small, strongly regularised LightGBM (as kfold.stack.blenders'): one multi-class
    model (objective multiclass) on every run's log probabilities, or per label a binary
    one on that label's logits, monotone increasing in each run's prediction."""

    tasks = CLASSIFY
    params: ClassVar[dict] = dict(num_leaves=4, max_depth=-1, n_estimators=100,
                                  learning_rate=0.05, reg_lambda=10.0, random_state=0,
                                  deterministic=True, force_row_wise=True, n_jobs=1, verbose=-1)

    def _model(self, n_rows: int, **extra):
        import lightgbm as lgb

        return lgb.LGBMClassifier(min_child_samples=min(100, max(1, n_rows // 4)),
                                  **self.params, **extra)

    def _fit(self, P, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.task == "multiclass":
                model = self._model(len(P), objective="multiclass")
                self.models_ = [model.fit(_run_logs(P), y)]
                return
            labels = _as_labels(y)
            self.models_ = [_fit_or_constant(
                self._model(len(P), objective="binary", monotone_constraints=[1] * P.shape[1],
                            monotone_constraints_method="advanced"),
                logit(P[:, :, c]), labels[:, c]) for c in range(P.shape[2])]

    def _predict(self, P):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _predict_models(self.models_, P, self.task, self.n_classes)


@register("hillclimb")
class HillClimbBlender(TaskBlender):
    """Greedy ensemble selection with replacement (Caruana et al. 2004) on the contest's
    metric, in its direction: start from the best run, add the run (possibly again) whose
    addition to the average of outputs most improves the metric, stop when no addition
    improves it by more than 1e-7 or after 50 steps. `weights_`: selection counts / sum."""

    max_iter: ClassVar[int] = 50
    tol: ClassVar[float] = 1e-7

    def _fit(self, P, y):
        metric = self._metric()
        outs = [self._scored(P[:, j, :]) for j in range(P.shape[1])]
        counts = np.zeros(P.shape[1], dtype=int)
        first = metric.best([metric.score(y, o) for o in outs])
        counts[first], total = 1, outs[first].copy()
        best = metric.score(y, total)
        for _ in range(self.max_iter):
            k = counts.sum() + 1
            trial = [metric.score(y, (total + o) / k) for o in outs]
            j = metric.best(trial)
            gain = (trial[j] - best) * (1 if metric.higher_is_better else -1)
            if not gain > self.tol:
                break
            best, counts[j], total = trial[j], counts[j] + 1, total + outs[j]
        self.counts_ = counts
        self.weights_ = counts / counts.sum()
        self.train_score_ = best

    def _scored(self, columns: np.ndarray) -> np.ndarray:
        return columns[:, 0] if columns.shape[1] == 1 else columns

    def _predict(self, P):
        return np.einsum("nrc,r->nc", P, self.weights_)

    def learned(self):
        return {"weights": self.weights_.round(6).tolist()}


@register("linear")
class LinearBlender(TaskBlender):
    """Ridge regression (alpha 1) of the target on the runs' values: a weighted mean with an
    intercept, shrunk towards equal weights' neighbourhood. Regression only."""

    tasks = ("regression",)

    def _fit(self, P, y):
        from sklearn.linear_model import Ridge

        self.model_ = Ridge(alpha=1.0).fit(P[:, :, 0], y)

    def _predict(self, P):
        return self.model_.predict(P[:, :, 0])[:, None]

    def learned(self):
        return {"coef": self.model_.coef_.round(6).tolist(),
                "intercept": round(float(self.model_.intercept_), 6)}


# --- per-label models that may meet one class ----------------------------------------------
class _Constant:
    """The stand-in for a per-label model whose training rows hold one class: it predicts
    that class's share (0 or 1), as any model fitted on those rows would."""

    def __init__(self, value: float) -> None:
        self.value = value

    def predict_proba(self, Z: np.ndarray) -> np.ndarray:
        return np.column_stack([np.full(len(Z), 1 - self.value), np.full(len(Z), self.value)])


def _fit_or_constant(model, Z: np.ndarray, y: np.ndarray):
    values = np.unique(y)
    return model.fit(Z, y) if len(values) > 1 else _Constant(float(values[0]))


def _run_logs(P: np.ndarray) -> np.ndarray:
    """(n, runs * C) log probabilities: a multinomial meta-model's features."""
    return log_features(P.reshape(len(P), -1))


def _predict_models(models: list, P: np.ndarray, task: str, n_classes: int) -> np.ndarray:
    """(n, C) output of the logreg and LightGBM blenders' fitted models: the one multinomial
    model on every run's log probabilities, or per label its model on that label's logits."""
    if task == "multiclass":
        return _full_width(models[0], _run_logs(P), n_classes)
    return np.column_stack([_positive(m, logit(P[:, :, c])) for c, m in enumerate(models)])


def _positive(model, Z: np.ndarray) -> np.ndarray:
    return model.predict_proba(Z)[:, 1]


def _full_width(model, Z: np.ndarray, n_classes: int) -> np.ndarray:
    """predict_proba over every class: a class absent from the fitted rows gets 0."""
    out = np.zeros((len(Z), n_classes))
    out[:, model.classes_.astype(int)] = model.predict_proba(Z)
    return out
