"""Blenders: meta-models that turn several runs' probabilities into one.

Every blender follows scikit-learn's contract:

- `__init__` only stores its keyword arguments (so `sklearn.base.clone` works);
- `fit(X, y)` validates, learns, returns `self`; learned state ends in `_`;
- `predict_proba(X)` returns the probability of the positive class as a **1-D array**
  (one value per row, in [0, 1]) — never the (n, 2) matrix, everywhere in kfold.stack.

`X` is always an (n_rows, n_runs) matrix of base-run probabilities in [0, 1]; a blender
chooses its own features (probabilities, logits or ranks) inside.

Blenders are looked up by name in `BLENDERS`; adding one is a decorated class and its name
in kfold.registry_names (help texts list it without importing scikit-learn).
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from kfold.errors import KfError
from kfold.metrics import auc
from kfold.stats.foldscale import ecdf_transform

BLENDERS: dict[str, type[Blender]] = {}

_EPS = 1e-6


def register(name: str):
    """Class decorator: make a blender available as `name` (order of registration is kept)."""

    def deco(cls):
        cls.name = name
        BLENDERS[name] = cls
        return cls

    return deco


def list_blenders() -> list[str]:
    """Registered blender names, in registration order (the order `--blender all` runs them)."""
    return list(BLENDERS)


def create_blender(name: str, **kwargs) -> Blender:
    """A blender by name; keyword arguments that are None are dropped (the blender's default wins)."""
    if name not in BLENDERS:
        raise KfError(f"unknown blender {name!r}; known blenders: {', '.join(BLENDERS)}")
    return BLENDERS[name](**{k: v for k, v in kwargs.items() if v is not None})


# --- small pure functions ------------------------------------------------------------------
def logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) with p clipped to [1e-6, 1 - 1e-6], so 0 and 1 stay finite."""
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def check_X(X, n_features: int | None = None) -> np.ndarray:
    """An (n, m) float matrix of probabilities, or a KfError saying what is wrong."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise KfError(f"blender input must be a non-empty (rows, runs) matrix; got shape {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise KfError(f"blender was fitted on {n_features} runs but is given {X.shape[1]}")
    bad = ~np.isfinite(X) | (X < 0) | (X > 1)
    if bad.any():
        raise KfError(f"blender input has {int(bad.sum())} value(s) that are NaN or outside [0, 1]")
    return X


def check_y(y, n_rows: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n_rows,):
        raise KfError(f"targets must be one per row ({n_rows}); got shape {y.shape}")
    if not np.isin(y, [0, 1]).all():
        raise KfError("targets must be 0 or 1")
    if len(np.unique(y)) < 2:
        raise KfError("a blender needs both classes among the rows it is fitted on")
    return y.astype(int)


# --- the blenders --------------------------------------------------------------------------
class Blender(BaseEstimator, ABC):
    """Base class: input checks and the shared contract. Subclasses set `learns`."""

    name: ClassVar[str] = "?"
    #: False for blenders with no parameters (mean, rank of probabilities): nothing to fit
    #: from targets, but they are still cross-fitted and reported the same way.
    learns: ClassVar[bool] = True

    def fit(self, X, y) -> Blender:
        X = check_X(X)
        y = check_y(y, X.shape[0])
        self.n_features_in_ = X.shape[1]
        self._fit(X, y)
        return self

    def predict_proba(self, X) -> np.ndarray:
        if not hasattr(self, "n_features_in_"):
            raise KfError(f"blender {self.name!r} is not fitted; call fit(X, y) first")
        X = check_X(X, self.n_features_in_)
        return np.clip(self._predict(X), 0.0, 1.0)

    def learned(self) -> dict:
        """What the fit learned, for a sidecar's lineage (e.g. weights per run)."""
        return {}

    @abstractmethod
    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        """Learn from OOF predictions X (n, runs) and targets y."""

    @abstractmethod
    def _predict(self, X: np.ndarray) -> np.ndarray:
        """Probability of defect for each row of X."""


@register("mean")
class MeanBlender(Blender):
    """Mean of the runs' probabilities. No parameters."""

    learns = False

    def _fit(self, X, y):
        pass

    def _predict(self, X):
        return X.mean(axis=1)


@register("rank")
class RankBlender(Blender):
    """Mean of the runs' ranks: each run's probability mapped to its quantile among the rows
    the blender was fitted on (so scale and calibration differences between runs vanish).
    Nothing is learned from targets."""

    learns = False

    def _fit(self, X, y):
        self.reference_ = np.sort(X, axis=0)

    def _predict(self, X):
        return ecdf_transform(self.reference_, X).mean(axis=1)


@register("logreg")
class LogRegBlender(Blender):
    """L2-regularised logistic regression on the runs' logits (scikit-learn, lbfgs)."""

    def __init__(self, C: float = 1.0, max_iter: int = 1000, tol: float = 1e-8):
        self.C = C
        self.max_iter = max_iter
        self.tol = tol

    def _fit(self, X, y):
        from sklearn.linear_model import LogisticRegression

        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter, tol=self.tol)
        self.model_.fit(logit(X), y)

    def _predict(self, X):
        return self.model_.predict_proba(logit(X))[:, 1]

    def learned(self):
        return {"coef": self.model_.coef_[0].round(6).tolist(),
                "intercept": round(float(self.model_.intercept_[0]), 6)}


@register("lightgbm")
class LightGBMBlender(Blender):
    """A small, strongly regularised LightGBM on the runs' logits (or ranks).

    Few leaves, many rows per leaf, a fixed schedule of rounds, L2 on leaf values, and a
    monotone increasing constraint on every base prediction: a higher base probability can
    never lower the blend, so it cannot learn to invert a model. Deterministic for a seed.

    `features="logit"` (default) or `"rank"` (each run's quantile among the fitted rows).
    Trees only see the order of each feature, so both give the same splits up to LightGBM's
    binning; logits were kept (see docs/stack.md for the measurement).
    """

    def __init__(
        self,
        features: str = "logit",
        num_leaves: int = 4,
        min_child_samples: int = 100,
        n_estimators: int = 100,
        learning_rate: float = 0.05,
        reg_lambda: float = 10.0,
        seed: int = 0,
        n_jobs: int = 1,
    ):
        self.features = features
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.reg_lambda = reg_lambda
        self.seed = seed
        self.n_jobs = n_jobs

    def _features(self, X):
        if self.features == "logit":
            return logit(X)
        return ecdf_transform(self.reference_, X)

    def _fit(self, X, y):
        import lightgbm as lgb

        if self.features not in ("logit", "rank"):
            raise KfError(f"lightgbm blender: features must be 'logit' or 'rank', not {self.features!r}")
        self.reference_ = np.sort(X, axis=0)
        self.model_ = lgb.LGBMClassifier(
            objective="binary",
            num_leaves=self.num_leaves,
            max_depth=-1,
            min_child_samples=min(self.min_child_samples, max(1, X.shape[0] // 4)),
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            reg_lambda=self.reg_lambda,
            monotone_constraints=[1] * X.shape[1],
            monotone_constraints_method="advanced",
            random_state=self.seed,
            deterministic=True,
            force_row_wise=True,
            n_jobs=self.n_jobs,
            verbose=-1,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model_.fit(self._features(X), y)

    def _predict(self, X):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.model_.predict_proba(self._features(X))[:, 1]

    def learned(self):
        gain = self.model_.booster_.feature_importance(importance_type="gain")
        total = gain.sum() or 1.0
        return {"gain_share": (gain / total).round(4).tolist(), "rounds": self.n_estimators}


@register("hillclimb")
class HillClimbBlender(Blender):
    """Greedy ensemble selection with replacement (Caruana et al. 2004), maximising AUC.

    Starts from the best single run and, at each step, adds the run (possibly again) whose
    addition to the average of probabilities most raises AUC; stops when no addition raises it
    by more than `tol` or after `max_iter` steps. `weights_` are the selection counts divided
    by their sum.
    """

    def __init__(self, max_iter: int = 50, tol: float = 1e-7):
        self.max_iter = max_iter
        self.tol = tol

    def _fit(self, X, y):
        m = X.shape[1]
        counts = np.zeros(m, dtype=int)
        scores = [auc(y, X[:, j], single_class="raise") for j in range(m)]
        first = int(np.argmax(scores))
        counts[first] = 1
        total = X[:, first].copy()
        best = scores[first]
        for _ in range(self.max_iter):
            trial = [auc(y, total + X[:, j], single_class="raise") for j in range(m)]
            j = int(np.argmax(trial))
            if trial[j] <= best + self.tol:
                break
            best = trial[j]
            counts[j] += 1
            total += X[:, j]
        self.counts_ = counts
        self.weights_ = counts / counts.sum()
        self.train_auc_ = best

    def _predict(self, X):
        return X @ self.weights_

    def learned(self):
        return {"weights": self.weights_.round(6).tolist()}
