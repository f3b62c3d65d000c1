"""Blenders: scikit-learn's contract, input checks, and what each one guarantees."""

import numpy as np
import pytest
from sklearn.base import clone

from kfold.bench.stack import make_runs
from kfold.errors import KfError
from kfold.metrics import auc
from kfold.stack.blenders import BLENDERS, create_blender, ecdf_transform, list_blenders


@pytest.fixture(scope="module")
def xy():
    folds, oofs, _ = make_runs(n_rows=1500, n_runs=3, seed=1)
    X = np.column_stack([oofs[r]["pred"] for r in oofs])
    return X, folds["target"].to_numpy()


def test_registry_holds_the_five_blenders_in_order():
    assert list_blenders() == ["mean", "rank", "logreg", "lightgbm", "hillclimb"]


@pytest.mark.parametrize("name", list(BLENDERS))
def test_blender_follows_the_sklearn_contract(name, xy):
    X, y = xy
    blender = create_blender(name)
    assert not [k for k in vars(blender) if k.endswith("_")], "__init__ must only store params"
    assert blender.fit(X, y) is blender
    assert blender.n_features_in_ == X.shape[1]
    pred = blender.predict_proba(X)
    assert pred.shape == (len(X),)  # 1-D: the positive class's probability
    assert np.all((pred >= 0) & (pred <= 1))
    again = clone(blender).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(pred, again)  # deterministic
    assert auc(y, pred) > 0.8


@pytest.mark.parametrize("name", list(BLENDERS))
def test_unfitted_blender_refuses_to_predict(name, xy):
    with pytest.raises(KfError, match="not fitted"):
        create_blender(name).predict_proba(xy[0])


X_OK = np.array([[0.1, 0.2], [0.8, 0.9], [0.3, 0.7], [0.6, 0.4]])
Y_OK = np.array([0, 1, 0, 1])


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.array([[0.1, np.nan], [0.8, 0.9], [0.3, 0.7], [0.6, 0.4]]), Y_OK, "NaN or outside"),
        (np.array([[0.1, 1.2], [0.8, 0.9], [0.3, 0.7], [0.6, 0.4]]), Y_OK, "NaN or outside"),
        (np.array([0.1, 0.8, 0.3, 0.6]), Y_OK, "matrix"),
        (np.empty((0, 2)), np.array([]), "matrix"),
        (X_OK, np.array([0, 0, 0, 0]), "both classes"),
        (X_OK, np.array([0, 2, 0, 1]), "0 or 1"),
        (X_OK, np.array([0, 1, 0]), "one per row"),
    ],
)
@pytest.mark.parametrize("name", list(BLENDERS))
def test_bad_inputs_are_refused(name, X, y, match):
    with pytest.raises(KfError, match=match):
        create_blender(name).fit(X, y)


@pytest.mark.parametrize("name", list(BLENDERS))
def test_predicting_with_another_number_of_runs_is_refused(name):
    blender = create_blender(name).fit(X_OK, Y_OK)
    with pytest.raises(KfError, match="fitted on 2 runs but is given 3"):
        blender.predict_proba(np.full((2, 3), 0.5))


def test_unknown_blender_names_the_known_ones():
    with pytest.raises(KfError, match="unknown blender 'xgb'; known blenders: mean, rank"):
        create_blender("xgb")


def test_none_arguments_keep_the_blender_default():
    assert create_blender("logreg", C=None).C == 1.0


def test_ecdf_transform_is_a_monotone_map_into_unit_interval():
    ref = np.sort(np.array([[0.1], [0.2], [0.3], [0.4]]), axis=0)
    out = ecdf_transform(ref, np.array([[0.0], [0.2], [0.25], [1.0]]))[:, 0]
    np.testing.assert_allclose(out, [0.0, 0.375, 0.5, 1.0])


def test_lightgbm_is_monotone_increasing_in_every_base_prediction(xy):
    X, y = xy
    model = create_blender("lightgbm").fit(X, y)
    grid = np.linspace(0.001, 0.999, 60)
    for j in range(X.shape[1]):
        rows = np.repeat(X[:40], len(grid), axis=0)
        rows[:, j] = np.tile(grid, 40)
        pred = model.predict_proba(rows).reshape(40, len(grid))
        assert np.all(np.diff(pred, axis=1) >= -1e-12), f"blend decreases in run {j}"


def test_lightgbm_cannot_invert_an_anti_correlated_run(xy):
    X, y = xy
    X_inv = np.column_stack([X[:, 0], 1 - X[:, 1]])  # the second run predicts the opposite
    model = create_blender("lightgbm").fit(X_inv, y)
    gain = model.learned()["gain_share"]
    assert gain[1] < 0.05  # it can only ignore it, not flip it


def test_lightgbm_rejects_unknown_features(xy):
    with pytest.raises(KfError, match="features must be 'logit' or 'rank'"):
        create_blender("lightgbm", features="raw").fit(*xy)


def test_hillclimb_weights_sum_to_one_and_skip_a_useless_run(xy):
    X, y = xy
    rng = np.random.default_rng(0)
    X_noise = np.column_stack([X, rng.random(len(X))])  # pure noise as a fourth run
    model = create_blender("hillclimb").fit(X_noise, y)
    assert model.weights_.sum() == pytest.approx(1.0)
    assert model.weights_[-1] == 0.0
    assert model.train_auc_ >= max(auc(y, X[:, j]) for j in range(X.shape[1]))


def test_rank_blender_ignores_calibration():
    X = np.array([[0.1, 0.50], [0.2, 0.51], [0.9, 0.52], [0.8, 0.53]])
    y = np.array([0, 0, 1, 1])
    squashed = create_blender("rank").fit(X, y).predict_proba(X)
    stretched = create_blender("rank").fit(X ** 0.2, y).predict_proba(X ** 0.2)
    np.testing.assert_allclose(squashed, stretched)
