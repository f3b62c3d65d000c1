"""A run's output written in the form the sample submission asks for
(kfold.submission.submission_values)."""

from __future__ import annotations

import numpy as np

from kfold.data.task import Task
from kfold.scoring import get_metric
from kfold.submission import submission_values

P = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])
CLASSES = ("a", "b", "c")


def _task(kind: str, output: str, k: int = 0) -> Task:
    return Task(kind, CLASSES, "test", output=output, k=k)


def test_probabilities_stay_probabilities():
    np.testing.assert_array_equal(
        submission_values(_task("multiclass", "probabilities"), get_metric("logloss"), P), P)


def test_a_label_column_gets_the_most_likely_class():
    out = submission_values(_task("multiclass", "label"), get_metric("logloss"), P)
    assert list(out) == ["b", "a"]


def test_a_top_k_column_lists_the_k_most_likely_best_first():
    out = submission_values(_task("multiclass", "top-k", k=2), get_metric("map@5"), P)
    assert list(out) == ["b c", "a c"]


def test_multilabel_labels_are_those_at_one_half_or_more():
    out = submission_values(_task("multilabel", "labels"), get_metric("auc-columns"), P)
    assert list(out) == ["b", "a"]


def test_regression_values_are_written_as_they_are():
    values = np.array([1.5, -0.25])
    task = Task("regression", (), "test", output="value")
    np.testing.assert_array_equal(submission_values(task, get_metric("rmse"), values), values)
