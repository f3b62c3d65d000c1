"""Metrics equal scikit-learn's."""

import numpy as np
from sklearn.metrics import accuracy_score, precision_score, recall_score, roc_auc_score

from kfold.metrics import auc, binary_metrics


def test_binary_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1)
    m = binary_metrics(y, p)
    pred = p >= 0.5
    assert m["auc"] == roc_auc_score(y, p)
    assert m["accuracy"] == accuracy_score(y, pred)
    assert m["precision"] == precision_score(y, pred)
    assert m["recall"] == recall_score(y, pred)
    assert m["tp"] + m["fp"] + m["tn"] + m["fn"] == 500
    assert m["tp"] == int((pred & (y == 1)).sum())


def test_always_negative_model_has_zero_precision_not_an_error():
    m = binary_metrics(np.array([0, 0, 1, 1]), np.zeros(4))
    assert (m["tp"], m["fp"], m["precision"], m["recall"]) == (0, 0, 0.0, 0.0)


def test_auc_is_nan_with_one_class():
    assert np.isnan(auc(np.ones(5), np.linspace(0, 1, 5)))
