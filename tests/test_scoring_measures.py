"""Every metric function equals scikit-learn (or Kaggle's own definition where scikit-learn
has none), with ties, absent classes and constant predictions giving a defined answer."""

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.metrics import log_loss as sk_log_loss

from kfold.scoring import measures

RNG = np.random.default_rng(0)
N, C = 600, 5


def _multiclass(n=N, c=C, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    logits = rng.normal(size=(n, c)) + 1.5 * np.eye(c)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, p


def _multilabel(n=N, c=C, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, c)) < 0.3).astype(int)
    p = np.clip(0.35 * y + 0.65 * rng.random((n, c)), 0, 1)
    return y, np.round(p, 2)  # rounding makes ties


def test_partial_auc_equals_kaggles_isic_formula():
    y = RNG.integers(0, 2, N)
    p = np.round(np.clip(0.3 * y + 0.7 * RNG.random(N), 0, 1), 2)
    for min_tpr in (0.8, 0.5, 0.95):
        max_fpr = 1 - min_tpr
        scaled = roc_auc_score(1 - y, -p, max_fpr=max_fpr)
        kaggle = 0.5 * max_fpr ** 2 + (max_fpr - 0.5 * max_fpr ** 2) / 0.5 * (scaled - 0.5)
        assert measures.partial_auc(y, p, min_tpr) == pytest.approx(kaggle, abs=1e-9)


def test_partial_auc_bounds_and_one_class():
    y = np.array([0, 0, 1, 1])
    assert measures.partial_auc(y, y.astype(float)) == pytest.approx(0.2)
    assert measures.partial_auc(y, 1 - y.astype(float)) == 0.0
    assert np.isnan(measures.partial_auc(np.ones(4), np.linspace(0, 1, 4)))


def test_macro_ovr_and_column_aucs_equal_sklearn():
    y, p = _multiclass()
    assert measures.macro_ovr_auc(y, p) == pytest.approx(
        roc_auc_score(y, p, multi_class="ovr", average="macro"), abs=1e-12)
    ym, pm = _multilabel()
    assert measures.mean_column_auc(ym, pm) == pytest.approx(roc_auc_score(ym, pm), abs=1e-12)
    assert measures.mean_column_auc(ym, pm, weighted=True) == pytest.approx(
        roc_auc_score(ym, pm, average="weighted"), abs=1e-12)


def test_a_class_absent_from_the_rows_is_left_out_of_a_macro_auc():
    y, p = _multiclass()
    keep = y != 2
    present = [0, 1, 3, 4]
    expected = np.mean([roc_auc_score(y[keep] == c, p[keep, c]) for c in present])
    assert measures.macro_ovr_auc(y[keep], p[keep]) == pytest.approx(expected, abs=1e-12)
    assert np.isnan(measures.mean_column_auc(np.zeros((4, 2)), np.ones((4, 2))))


def test_log_loss_is_kaggles_clip_and_row_normalisation():
    y, p = _multiclass()
    assert measures.log_loss(y, p) == pytest.approx(sk_log_loss(y, p), abs=1e-12)
    raw = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 2.0]])  # a zero on the truth, unnormalised
    clipped = np.clip(raw, 1e-15, 1 - 1e-15)
    clipped /= clipped.sum(axis=1, keepdims=True)
    kaggle = -np.mean(np.log(clipped[[0, 1], [1, 2]]))
    assert measures.log_loss(np.array([1, 2]), raw) == pytest.approx(kaggle, rel=1e-12)
    yb = RNG.integers(0, 2, N)
    pb = RNG.random(N)
    assert measures.log_loss(yb, pb) == pytest.approx(sk_log_loss(yb, pb), abs=1e-12)


def test_class_weighted_log_loss_weighs_each_class_alike():
    y = np.array([0, 0, 0, 1])
    p = np.array([[0.9, 0.1]] * 3 + [[0.5, 0.5]])
    assert measures.log_loss(y, p, class_weighted=True) == pytest.approx(
        (-np.log(0.9) - np.log(0.5)) / 2)
    sample_weight = 1 / np.bincount(y)[y]
    assert measures.log_loss(y, p, class_weighted=True) == pytest.approx(
        sk_log_loss(y, p, sample_weight=sample_weight))


def test_multilabel_log_loss_is_the_mean_over_columns():
    y, p = _multilabel()
    cols = [sk_log_loss(y[:, c], p[:, c], labels=[0, 1]) for c in range(C)]
    assert measures.log_loss(y, p) == pytest.approx(np.mean(cols), abs=1e-9)


def test_accuracy_and_f1_equal_sklearn_on_every_target():
    y, p = _multiclass()
    pred = p.argmax(axis=1)
    assert measures.accuracy(y, pred) == accuracy_score(y, pred)
    for average in ("macro", "micro"):
        assert measures.f1(y, pred, average) == pytest.approx(f1_score(y, pred, average=average))
    ym, pm = _multilabel()
    lm = (pm >= 0.5).astype(int)
    assert measures.accuracy(ym, lm) == accuracy_score(ym, lm)
    for average in ("macro", "micro"):
        assert measures.f1(ym, lm, average) == pytest.approx(
            f1_score(ym, lm, average=average, zero_division=0))
    yb = RNG.integers(0, 2, N)
    lb = RNG.integers(0, 2, N)
    assert measures.f1(yb, lb, "binary") == pytest.approx(f1_score(yb, lb))


def test_f1_with_an_absent_class_and_constant_predictions():
    y = np.array([0, 0, 1, 1, 3])  # class 2 absent from both
    pred = np.zeros(5, dtype=int)  # constant
    assert measures.f1(y, pred, "macro") == pytest.approx(
        f1_score(y, pred, average="macro", zero_division=0))
    assert measures.f1(np.zeros(3), np.zeros(3), "binary") == 0.0


def test_rmse_equals_sklearn():
    y, p = RNG.normal(size=N), RNG.normal(size=N)
    assert measures.rmse(y, p) == pytest.approx(root_mean_squared_error(y, p))


def _apk(actual, predicted, k):
    """Kaggle's reference average precision at k (ml_metrics.apk)."""
    predicted = predicted[:k]
    score, hits = 0.0, 0.0
    for i, guess in enumerate(predicted):
        if guess in actual and guess not in predicted[:i]:
            hits += 1.0
            score += hits / (i + 1.0)
    return score / min(len(actual), k) if actual else 0.0


def test_map_at_k_equals_kaggles_reference():
    y, p = _multiclass(c=12)
    ranked = measures.top_k(p, 5)
    expected = np.mean([_apk([t], list(r), 5) for t, r in zip(y, ranked)])
    assert measures.map_at_k(y, ranked, 5) == pytest.approx(expected)
    ym, pm = _multilabel(c=12)
    ranked = measures.top_k(pm, 5)
    expected = np.mean([_apk(list(np.flatnonzero(t)), list(r), 5) for t, r in zip(ym, ranked)])
    assert measures.map_at_k(ym, ranked, 5) == pytest.approx(expected)


def test_top_k_breaks_ties_by_column():
    assert measures.top_k(np.array([[0.2, 0.4, 0.4, 0.0]]), 3).tolist() == [[1, 2, 0]]
