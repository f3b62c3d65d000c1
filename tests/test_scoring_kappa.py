"""QWK equals scikit-learn; thresholds fitted on the rows they score leak, cross-fitted ones
do not (random scores stay at chance)."""

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from kfold.scoring import kappa


def test_qwk_equals_sklearn_and_is_zero_when_undefined():
    rng = np.random.default_rng(0)
    y, pred = rng.integers(0, 5, 400), rng.integers(0, 5, 400)
    assert kappa.qwk(y, pred) == pytest.approx(cohen_kappa_score(y, pred, weights="quadratic"))
    assert kappa.qwk(y, np.full(400, 2)) == pytest.approx(0.0)
    assert kappa.qwk(np.ones(5, int), np.ones(5, int)) == 0.0


def test_fitted_thresholds_improve_a_shifted_score():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 2000)
    values = 0.5 * y + rng.normal(0, 0.3, 2000)  # a squashed scale: rounding misgrades
    rounded = kappa.qwk(y, kappa.cut(values, kappa.default_thresholds(4)))
    fitted = kappa.qwk(y, kappa.cut(values, kappa.fit_thresholds(values, y, 4)))
    assert fitted > rounded + 0.05


def test_crossfitted_thresholds_keep_random_scores_at_chance():
    leaked, honest = [], []
    for seed in range(12):  # one draw of QWK on 200 rows is noisy: average a dozen
        rng = np.random.default_rng(seed)
        y, values, folds = rng.integers(0, 5, 200), rng.random(200) * 4, np.arange(200) % 5
        leaked.append(kappa.qwk(y, kappa.cut(values, kappa.fit_thresholds(values, y, 5))))
        honest.append(kappa.qwk(y, kappa.crossfit_labels(values, y, folds, 5)))
    assert np.mean(leaked) > 0.07
    assert np.mean(honest) < 0.02


def test_expected_grade_of_probabilities():
    p = np.array([[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])
    np.testing.assert_allclose(kappa.expected_grade(p), [1.0, 1.0])
