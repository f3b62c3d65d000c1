"""Bench case `metrics`: every registry metric on 100,000 rows x 10 classes, kf vs
scikit-learn on the same raw output (ratio = scikit-learn's seconds / kf's), and the cost of
the paired bootstrap interval.

Each metric is fed the target of its task: multi-class targets for the multi-class metrics,
the 10 columns as labels for the multi-label ones, class 0 against the rest for the binary
ones, the expected grade for RMSE. No images needed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from sklearn import metrics as sk

from kfold.scoring import METRICS, Metric
from kfold.scoring.kappa import default_thresholds, expected_grade
from kfold.stats.bootstrap import paired_bootstrap
from kfold.workspace import Workspace

N_ROWS, N_CLASSES, N_BOOT = 100_000, 10, 20


def make_data(n: int = N_ROWS, c: int = N_CLASSES, seed: int = 0) -> dict[str, tuple]:
    """(y, output) per task, from one draw of informative class probabilities."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    logits = rng.normal(size=(n, c)) + 1.5 * np.eye(c)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    multilabel = ((rng.random((n, c)) < 0.2) | (np.eye(c)[y] > 0)).astype(int)
    grade = expected_grade(p)
    return {"binary": ((y == 0).astype(int), np.round(p[:, 0], 3)), "multiclass": (y, p),
            "multilabel": (multilabel, np.round(p, 3)),
            "regression": (y.astype(float), grade)}


def _pauc(y, p, min_tpr=0.8):
    max_fpr = 1 - min_tpr
    scaled = sk.roc_auc_score(1 - y, -p, max_fpr=max_fpr)
    return 0.5 * max_fpr ** 2 + (max_fpr - 0.5 * max_fpr ** 2) / 0.5 * (scaled - 0.5)


SKLEARN: dict[str, Callable] = {
    "auc": sk.roc_auc_score,
    "pauc": _pauc,
    "auc-ovr": lambda y, p: sk.roc_auc_score(y, p, multi_class="ovr"),
    "auc-columns": sk.roc_auc_score,
    "auc-weighted": lambda y, p: sk.roc_auc_score(y, p, average="weighted"),
    "logloss": sk.log_loss,
    "logloss-weighted": lambda y, p: sk.log_loss(y, p, sample_weight=1 / np.bincount(y)[y]),
    "accuracy": lambda y, p: sk.accuracy_score(y, p.argmax(axis=1)),
    "error": lambda y, p: 1 - sk.accuracy_score(y, p.argmax(axis=1)),
    "f1": lambda y, p: sk.f1_score(y, p >= 0.5),
    "f1-macro": lambda y, p: sk.f1_score(y, p.argmax(axis=1), average="macro"),
    "f1-micro": lambda y, p: sk.f1_score(y, p.argmax(axis=1), average="micro"),
    "qwk": lambda y, p: sk.cohen_kappa_score(
        y, np.searchsorted(default_thresholds(p.shape[1]), expected_grade(p)),
        weights="quadratic"),
    "rmse": sk.root_mean_squared_error,
}


def _seconds(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def bench_metric(metric: Metric, data: dict[str, tuple]) -> dict:
    """kf's and scikit-learn's seconds and values for one metric, and its bootstrap's cost."""
    y, out = data["multiclass" if "multiclass" in metric.tasks else metric.tasks[0]]
    kf_s, value = _seconds(lambda: metric.score(y, out))
    row = {"case": "metrics", "what": metric.name, "kf_s": round(kf_s, 4),
           "sklearn_s": None, "ratio": None, "same": None, "value": round(value, 5)}
    if metric.name in SKLEARN:
        sk_s, sk_value = _seconds(lambda: SKLEARN[metric.name](y, out))
        row.update(sklearn_s=round(sk_s, 4), ratio=round(sk_s / kf_s, 2),
                   same=bool(np.isclose(value, sk_value, atol=1e-9)))
    boot_s, _ = _seconds(lambda: paired_bootstrap(y, {"run": out}, metric, n_boot=N_BOOT))
    row[f"boot{N_BOOT}_s"] = round(boot_s, 3)
    return row


def run(ws: Workspace, size: int = 64, device: str = "auto") -> list[dict]:
    """Every metric of the registry (`same`: kf's value equals scikit-learn's)."""
    data = make_data()
    return [bench_metric(m, data) for m in METRICS.values()]
