"""A submission's columns read in every form a sample submission can ask for, checked
against the task, and turned into the output the metrics score."""

import re

import numpy as np
import pandas as pd
import pytest

from kfold.submission_format import read_output, read_truth

CLASSES = ("cat", "cow", "dog")


def _sub(**columns):
    n = len(next(iter(columns.values())))
    return pd.DataFrame({"id": [f"t{k}" for k in range(n)], **columns})


def test_probability_columns_in_any_order_come_back_in_class_order():
    out = read_output(_sub(dog=[0.5, 0.1], cat=[0.2, 0.8], cow=[0.3, 0.1]), "id",
                      "multiclass", CLASSES)
    np.testing.assert_allclose(out, [[0.2, 0.3, 0.5], [0.8, 0.1, 0.1]])


def test_labels_and_top_k_keep_their_order_under_argmax():
    out = read_output(_sub(label=["dog", "cat"]), "id", "multiclass", CLASSES)
    assert out.argmax(axis=1).tolist() == [2, 0]
    topk = read_output(_sub(label=["dog cat cow", "cow dog cat"]), "id", "multiclass", CLASSES)
    assert np.argsort(-topk, axis=1).tolist() == [[2, 0, 1], [1, 2, 0]]
    multi = read_output(_sub(label=["dog cat", ""]), "id", "multilabel", CLASSES)
    assert multi.tolist() == [[1, 0, 1], [0, 0, 0]]


@pytest.mark.parametrize("labels, form, k, message", [
    (["dog cat"], "label", 0, "holds 2 label(s), not one class"),
    (["dog cat cow"], "top-k", 2, "not 1 to 2 space-separated classes"),
    (["dog dog"], "top-k", 2, "guesses 'dog' twice"),
    ([""], "top-k", 2, "holds 0 label(s)"),
])
def test_a_label_column_is_held_to_the_sample_submissions_form(labels, form, k, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        read_output(_sub(label=labels), "id", "multiclass", CLASSES, form, k)
    read_output(_sub(label=["dog"]), "id", "multiclass", CLASSES, form, k)  # one guess: fine


def test_binary_and_regression_one_column():
    assert read_output(_sub(label=[0.1, 0.9]), "id", "binary", ("0", "1")).tolist() == [0.1, 0.9]
    assert read_output(_sub(y=[-3.5, 12.0]), "id", "regression", ()).tolist() == [-3.5, 12.0]


@pytest.mark.parametrize("sub, kind, message", [
    (_sub(cat=[0.5], cow=[0.5], dog=[0.5]), "multiclass", "do not sum to 1"),
    (_sub(cat=[0.5], dog=[0.5]), "multiclass", "are not the classes"),
    (_sub(cat=[1.5], cow=[0.0], dog=[0.0]), "multilabel", "outside [0, 1]"),
    (_sub(label=["dgo"]), "multiclass", "names 'dgo', not one of the classes"),
    (_sub(y=[np.inf]), "regression", "not finite"),
    (_sub(a=[0.5], b=[0.5]), "binary", "expected 2 columns"),
])
def test_a_submission_the_task_cannot_take_is_named(sub, kind, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        read_output(sub, "id", kind, CLASSES)


def test_truth_of_each_solution_form():
    sol = pd.DataFrame({"id": ["a", "b"], "label": ["dog", "cat"], "cat": [0, 1],
                        "cow": [1, 1], "dog": [1, 0]})
    assert read_truth(sol, "label", "multiclass", CLASSES).tolist() == [2, 0]
    assert read_truth(sol, "label", "multilabel", CLASSES).tolist() == [[0, 1, 1], [1, 1, 0]]
    listed = sol.assign(label=["cow dog", "cat"])[["id", "label"]]
    assert read_truth(listed, "label", "multilabel", CLASSES).tolist() == [[0, 1, 1], [1, 0, 0]]
