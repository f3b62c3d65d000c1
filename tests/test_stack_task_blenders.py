"""Blenders of any width are scikit-learn estimators: cloned, fitted, checked for fit,
(n, C) probabilities with classes_, cross-fitted with cross_val_predict on the runs' folds;
the multi-class logreg stack equals scikit-learn's StackingClassifier."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import StackingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import PredefinedSplit, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from kfold import artifacts
from kfold.bench.stack import write_task_workspace
from kfold.errors import KfError
from kfold.scoring import default_metric, get_metric
from kfold.stack.inputs import flat, targets_of
from kfold.stack.task_blenders import blenders_for, create_task_blender, log_features

TASKS = ["multiclass", "multilabel", "regression"]


def _data(tmp_path, task, n_rows=600, n_runs=3):
    ws = write_task_workspace(tmp_path / task, task, n_rows=n_rows, n_runs=n_runs, n_test=20)
    stack = artifacts.load_oof_stack(ws, [f"run{j}" for j in range(n_runs)])
    return flat(stack.preds), targets_of(stack), stack.rows["fold"].to_numpy(), \
        len(stack.contest.classes)


def _method(task):
    return "predict" if task == "regression" else "predict_proba"


@pytest.mark.parametrize("task", TASKS)
def test_every_blender_of_a_task_is_a_scikit_learn_estimator(tmp_path, task):
    X, y, folds, n_classes = _data(tmp_path, task)
    for name in blenders_for(task):
        blender = create_task_blender(name, task, n_classes)
        with pytest.raises(NotFittedError):
            blender.output(X)
        twin = clone(blender)
        assert twin.get_params() == blender.get_params()
        fitted = twin.fit(X, y)
        out = getattr(fitted, _method(task))(X)
        if task == "regression":
            assert out.shape == (len(y),) and not hasattr(fitted, "classes_")
            continue
        assert out.shape == (len(y), n_classes) and list(fitted.classes_) == list(range(n_classes))
        assert ((out >= 0) & (out <= 1)).all()
        if task == "multiclass":
            np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-9)


@pytest.mark.parametrize("task", TASKS)
def test_cross_fitted_blends_beat_the_best_run_in_the_metrics_direction(tmp_path, task):
    X, y, folds, n_classes = _data(tmp_path, task, n_rows=1500)
    metric = default_metric(task)
    width = max(n_classes, 1)
    runs = [metric.score(y, X[:, j * width:(j + 1) * width].squeeze()) for j in range(3)]
    best_run = runs[metric.best(runs)]
    for name in blenders_for(task):
        if name in ("mean", "rank"):
            continue  # nothing learned: no promise on runs of uneven quality
        oof = cross_val_predict(create_task_blender(name, task, n_classes), X, y,
                                cv=PredefinedSplit(folds), method=_method(task))
        assert metric.better(metric.score(y, oof), best_run), name


def test_multiclass_logreg_stack_agrees_with_sklearn_stacking_classifier(tmp_path):
    X, y, folds, n_classes = _data(tmp_path, "multiclass")

    class Prefit(ClassifierMixin, BaseEstimator):  # a "base model" whose CV predictions are run j's
        def __init__(self, j=0):
            self.j = j

        def fit(self, Z, t):
            self.classes_ = np.arange(n_classes)
            return self

        def predict_proba(self, Z):
            return Z[:, self.j * n_classes:(self.j + 1) * n_classes]

        def predict(self, Z):
            return self.predict_proba(Z).argmax(axis=1)

    final = make_pipeline(FunctionTransformer(log_features), StandardScaler(),
                          LogisticRegression(C=1.0, max_iter=1000, tol=1e-4))
    cv = PredefinedSplit(folds)
    sk = StackingClassifier([(f"run{j}", Prefit(j)) for j in range(3)], final_estimator=final,
                            cv=cv, stack_method="predict_proba", passthrough=False).fit(X, y)
    T = X[:50][::-1]
    ours = create_task_blender("logreg", "multiclass", n_classes).fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(T), sk.predict_proba(T), atol=1e-6)
    oof_sk = cross_val_predict(final, X, y, cv=cv, method="predict_proba")
    oof = cross_val_predict(create_task_blender("logreg", "multiclass", n_classes), X, y,
                            cv=cv, method="predict_proba")
    np.testing.assert_allclose(oof, oof_sk, atol=1e-6)


def test_hillclimb_improves_the_contests_metric_in_its_direction(tmp_path):
    X, y, _, n_classes = _data(tmp_path, "multiclass")
    for metric in ("logloss", "accuracy"):
        blender = create_task_blender("hillclimb", "multiclass", n_classes, metric).fit(X, y)
        m = get_metric(metric)
        runs = [m.score(y, X[:, j * n_classes:(j + 1) * n_classes]) for j in range(3)]
        assert not m.better(runs[m.best(runs)], blender.train_score_)
        assert blender.train_score_ == pytest.approx(m.score(y, blender.output(X)))
        assert blender.weights_.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("name, task, message", [
    ("logreg", "regression", "blender 'logreg' does not blend a regression task .* choose one "
                             "of mean, hillclimb, linear"),
    ("linear", "multiclass", "blender 'linear' does not blend a multiclass task"),
    ("rank", "regression", "does not blend a regression task"),
    ("ridge", "regression", "unknown blender 'ridge'"),
])
def test_a_blender_refuses_a_task_it_cannot_blend_in_one_line(name, task, message):
    with pytest.raises(KfError, match=message) as caught:
        create_task_blender(name, task, 3)
    assert "\n" not in str(caught.value)


def test_bad_inputs_are_refused_in_one_line(tmp_path):
    X, y, _, n_classes = _data(tmp_path, "multiclass", n_rows=100)
    blender = create_task_blender("mean", "multiclass", n_classes)
    with pytest.raises(KfError, match="runs x 4"):
        blender.fit(X[:, :-1], y)
    with pytest.raises(KfError, match="outside \\[0, 1\\]"):
        blender.fit(X + 1, y)
    with pytest.raises(KfError, match="from 0 to 3"):
        blender.fit(X, y + 4)
    with pytest.raises(KfError, match="fitted on 3 runs but is given 2"):
        blender.fit(X, y).output(X[:, :8])


def test_a_folds_cross_fitted_blend_never_sees_that_folds_targets(tmp_path):
    X, y, folds, n_classes = _data(tmp_path, "multiclass", n_rows=400)
    held = folds == 0
    shuffled = y.copy()
    shuffled[held] = np.random.default_rng(0).permutation(y[held])
    for name in blenders_for("multiclass"):
        blender = create_task_blender(name, "multiclass", n_classes)
        before, after = (cross_val_predict(blender, X, t, cv=PredefinedSplit(folds),
                                           method="predict_proba") for t in (y, shuffled))
        np.testing.assert_array_equal(after[held], before[held])


def test_all_blends_ranks_only_for_a_metric_that_reads_ranks():
    from kfold.scoring import get_metric

    assert "rank" not in blenders_for("multiclass", get_metric("logloss"))
    assert "rank" in blenders_for("multiclass", get_metric("auc-ovr"))
    assert "rank" in blenders_for("multiclass")  # every blender that can, when named
