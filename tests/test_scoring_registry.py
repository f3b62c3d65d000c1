"""The registry: each metric's direction, what it needs, the tasks it scores, how raw output
becomes labels and submission values; unknown names suggest close ones."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score, log_loss

from kfold.errors import KfError
from kfold.scoring import DEFAULTS, METRICS, TASKS, default_metric, get_metric


def test_every_metric_declares_direction_needs_tasks_and_output():
    for m in METRICS.values():
        assert m.direction in ("max", "min") and set(m.tasks) <= set(TASKS)
        assert m.needs in ("ranks", "probabilities", "labels", "values")
    assert get_metric("logloss").direction == "min" and get_metric("auc").direction == "max"
    assert get_metric("auc").rank_based and not get_metric("logloss").rank_based
    assert get_metric("auc-ovr").rank_based and not get_metric("map@5").rank_based  # a row's classes
    assert get_metric("rmse").label == "RMSE ↓"
    assert {t: default_metric(t).name for t in TASKS} == DEFAULTS


def test_scores_take_raw_output_and_make_labels_per_task():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    p = rng.dirichlet(np.ones(3), 300)
    assert get_metric("accuracy").score(y, p) == accuracy_score(y, p.argmax(1))
    assert get_metric("error").score(y, p) == pytest.approx(1 - accuracy_score(y, p.argmax(1)))
    assert get_metric("f1-macro").score(y, p) == pytest.approx(
        f1_score(y, p.argmax(1), average="macro"))
    assert get_metric("logloss").score(y, p) == pytest.approx(log_loss(y, p))
    grades = np.rint(p @ np.arange(3)).astype(int)
    assert get_metric("qwk").score(y, p) == pytest.approx(
        cohen_kappa_score(y, grades, weights="quadratic"))
    ym = rng.integers(0, 2, (300, 3))
    assert get_metric("f1-micro").score(ym, p) == pytest.approx(
        f1_score(ym, p >= 0.5, average="micro"))


def test_best_and_better_follow_the_direction():
    loss, auc = get_metric("logloss"), get_metric("auc")
    assert loss.best([0.5, 0.2, float("nan")]) == 1 and auc.best([0.5, 0.7, 0.6]) == 1
    assert loss.better(0.1, 0.2) and not auc.better(0.1, 0.2)


def test_qwk_oof_score_crossfits_thresholds_and_others_ignore_folds():
    rng = np.random.default_rng(1)
    y, values, folds = rng.integers(0, 4, 400), rng.random(400) * 3, np.arange(400) % 4
    qwk = get_metric("qwk")
    assert qwk.score_oof(y, values, folds) != qwk.score(y, values)
    rmse = get_metric("rmse")
    assert rmse.score_oof(y, values, folds) == rmse.score(y, values)


def test_submission_values_per_output_form():
    p = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.8]])
    classes = ["a", "b", "c"]
    assert get_metric("accuracy").submission_values(p, classes).tolist() == ["b", "c"]
    assert get_metric("f1-macro").submission_values(p, classes).tolist() == ["b", "a c"]
    assert get_metric("map@2").submission_values(p, classes).tolist() == ["b c", "c a"]
    np.testing.assert_array_equal(get_metric("logloss").submission_values(p, classes), p)
    grades = np.array([[0.1, 0.7, 0.2], [0.1, 0.1, 0.8]])  # expected grades 1.1 and 1.7
    assert get_metric("qwk").submission_values(grades, classes).tolist() == ["b", "c"]


def test_map_at_any_k_and_names_are_case_insensitive():
    assert get_metric("MAP@3").k == 3 and get_metric(" AUC ").name == "auc"


def test_unknown_metric_suggests_close_names():
    with pytest.raises(KfError, match="unknown metric 'acuracy'; did you mean accuracy"):
        get_metric("acuracy")
    with pytest.raises(KfError, match="unknown metric 'map@0'"):
        get_metric("map@0")


def test_a_metric_refuses_a_task_it_cannot_score():
    with pytest.raises(KfError, match="does not score a multiclass task.*logloss"):
        get_metric("rmse", task="multiclass")
    with pytest.raises(KfError, match="unknown task"):
        default_metric("ranking")


def test_kfold_toml_task_choices_are_the_registrys_tasks():
    from kfold.settings import TASK_CHOICES

    assert TASK_CHOICES == ("auto", *TASKS)
