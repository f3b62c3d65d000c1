"""Row-mean metrics scored from per-row terms equal the metric itself, on every task."""

import numpy as np
import pytest

from kfold.scoring import get_metric
from kfold.stats.rowmean import from_mean, row_losses


def _task(task, n=300, seed=0):
    rng = np.random.default_rng(seed)
    if task == "multiclass":
        p = rng.dirichlet(np.ones(4), n)
        return rng.integers(0, 4, n), [p, rng.dirichlet(np.ones(4), n)]
    if task == "multilabel":
        return (rng.random((n, 3)) < 0.4).astype(int), [rng.random((n, 3)) for _ in range(2)]
    if task == "regression":
        return rng.normal(size=n), [rng.normal(size=n) for _ in range(2)]
    return rng.integers(0, 2, n), [rng.random(n), np.r_[0.0, 1.0, rng.random(n - 2)]]


@pytest.mark.parametrize("task, name", [
    ("multiclass", "logloss"), ("multiclass", "accuracy"), ("multiclass", "error"),
    ("multilabel", "logloss"), ("multilabel", "accuracy"), ("binary", "logloss"),
    ("binary", "error"), ("regression", "rmse"),
])
def test_per_row_terms_give_the_metric_on_any_rows(task, name):
    y, outputs = _task(task)
    metric = get_metric(name, task)
    losses = row_losses(metric, y, outputs)
    rows = np.random.default_rng(1).integers(0, len(y), 200)
    got = from_mean(metric, losses[rows].mean(axis=0))
    want = [metric.score(y[rows], o[rows]) for o in outputs]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_a_metric_that_is_not_a_row_mean_has_no_per_row_terms():
    y, outputs = _task("multiclass")
    assert row_losses(get_metric("f1-macro"), y, outputs) is None
    assert row_losses(get_metric("logloss-weighted"), y, outputs) is None
