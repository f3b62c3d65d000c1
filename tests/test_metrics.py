"""Metrics equal scikit-learn's; a single class gives the AUC policy the caller chose."""

import numpy as np
import pytest
from scipy.stats import rankdata
from sklearn.metrics import accuracy_score, precision_score, recall_score, roc_auc_score

from kfold.errors import KfError
from kfold.metrics import auc, average_ranks, binary_metrics


def test_binary_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    p = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1)
    m = binary_metrics(y, p)
    pred = p >= 0.5
    assert m["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert m["accuracy"] == accuracy_score(y, pred)
    assert m["precision"] == precision_score(y, pred)
    assert m["recall"] == recall_score(y, pred)
    assert m["tp"] + m["fp"] + m["tn"] + m["fn"] == 500
    assert m["tp"] == int((pred & (y == 1)).sum())


def test_always_negative_model_has_zero_precision_not_an_error():
    m = binary_metrics(np.array([0, 0, 1, 1]), np.zeros(4))
    assert (m["tp"], m["fp"], m["precision"], m["recall"]) == (0, 0, 0.0, 0.0)


def test_auc_and_ranks_match_scipy_and_sklearn_with_ties():
    rng = np.random.default_rng(0)
    score = rng.integers(0, 20, 500) / 20  # many ties
    y = rng.integers(0, 2, 500)
    np.testing.assert_allclose(average_ranks(score), rankdata(score))
    assert auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)


def test_one_class_auc_is_nan_by_default_and_an_error_on_request():
    y, score = np.ones(5), np.linspace(0, 1, 5)
    assert np.isnan(auc(y, score))
    assert np.isnan(binary_metrics(y, score)["auc"])
    with pytest.raises(KfError, match="both classes"):
        auc(np.zeros(5), score, single_class="raise")
