"""Paired bootstrap: intervals hold the score, the paired difference is tighter than either
interval, and the same seed gives the same intervals."""

import numpy as np
import pytest

from kfold.errors import KfError
from kfold.scoring import get_metric
from kfold.stats.bootstrap import paired_bootstrap


def _runs(n=400, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    shared = rng.normal(size=(n, 3)) + 1.2 * np.eye(3)[y]
    softmax = lambda z: np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)  # noqa: E731
    return y, {"good": softmax(shared + 0.4 * np.eye(3)[y]), "base": softmax(shared)}


def test_interval_holds_the_score_and_the_best_has_zero_difference():
    y, runs = _runs()
    out = {b.run: b for b in paired_bootstrap(y, runs, get_metric("logloss"), n_boot=100)}
    for b in out.values():
        assert b.low <= b.score <= b.high
    assert out["good"].diff == 0 and out["good"].diff_low == out["good"].diff_high == 0
    assert out["base"].diff > 0  # log loss: the other run is worse, i.e. higher
    assert out["base"].diff_low > 0  # and the paired interval knows it
    width = out["base"].diff_high - out["base"].diff_low
    assert width < out["base"].high - out["base"].low


def test_same_seed_same_intervals_and_bad_settings_are_errors():
    y, runs = _runs(n=100)
    m = get_metric("accuracy")
    assert paired_bootstrap(y, runs, m, n_boot=20) == paired_bootstrap(y, runs, m, n_boot=20)
    with pytest.raises(KfError, match="--n-boot"):
        paired_bootstrap(y, runs, m, n_boot=1)
    with pytest.raises(KfError, match="no runs"):
        paired_bootstrap(y, {}, m)
