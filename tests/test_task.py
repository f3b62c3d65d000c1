"""Task detection: the contest kind, its classes and the submission's form from the files,
each with the reason `kf data check` prints; kfold.toml's task and metric override it."""

from pathlib import Path

import pandas as pd
import pytest

from kfold.data.task import Task, from_folders, from_table, with_output
from kfold.errors import KfError

P = Path("data/train.csv")


def _table(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    return pd.DataFrame({"id": [f"i{k}" for k in range(n)], **columns})


def _detect(table, setting="auto", sample=None, positive="bad_1"):
    return from_table(table, "id", "label", positive, setting, sample, P)


def test_folders_two_are_binary_more_are_multiclass():
    assert from_folders(["bad_1", "good_0"], "bad_1", "auto").classes == ("good_0", "bad_1")
    task = from_folders(["a", "b", "c"], "bad_1", "auto")
    assert task.kind == "multiclass" and task.reason == "3 class folders"
    with pytest.raises(KfError, match="including 'bad_1'"):
        from_folders(["a", "b"], "bad_1", "auto")
    with pytest.raises(KfError, match="task = binary but data/train holds 3"):
        from_folders(["a", "b", "c"], "bad_1", "binary")


def test_one_label_column_by_its_values():
    task, target = _detect(_table(label=[0, 1, 1, 0]))
    assert task.kind == "binary" and target.tolist() == [0, 1, 1, 0]
    task, target = _detect(_table(label=["cat", "dog", "cow", "dog"]))
    assert task.kind == "multiclass" and task.classes == ("cat", "cow", "dog")
    assert target.tolist() == [0, 2, 1, 2] and "3 text" in task.reason
    task, target = _detect(_table(label=[0, 2, 1, 4, 3]))
    assert task.kind == "multiclass" and task.classes == ("0", "1", "2", "3", "4")
    task, target = _detect(_table(label=[0.5, 1.25, 3.0, 2.2]))
    assert task.kind == "regression" and not task.ordinal and target.dtype == float


def test_whole_numbers_as_regression_are_ordinal_and_scored_by_kappa():
    task, _ = _detect(_table(label=[0, 2, 1, 4, 3]), setting="regression")
    assert task.kind == "regression" and task.ordinal
    assert task.metric(None).name == "qwk"


def test_multilabel_from_a_label_list_or_indicator_columns():
    task, target = _detect(_table(label=["b a", "a", "c b", "a"]))
    assert task.kind == "multilabel" and task.classes == ("a", "b", "c")
    assert target.tolist() == ["a b", "a", "b c", "a"]
    wide = _table(x=[1, 0, 1], y=[0, 0, 1])
    task, target = _detect(wide, sample=["x", "y"])
    assert task.kind == "multilabel" and task.target_columns == ("x", "y")
    assert target.tolist() == ["x", "", "x y"]


def test_sample_submission_decides_the_form():
    multi = Task("multiclass", ("a", "b", "c"), "r")
    frame = lambda **c: pd.DataFrame({"id": ["t1", "t2"], **c})  # noqa: E731
    assert with_output(multi, frame(a=0.3, b=0.3, c=0.4), "id", P).output == "probabilities"
    assert with_output(multi, frame(label=["a", "a"]), "id", P).output == "label"
    topk = with_output(multi, frame(label=["a b c", "c b a"]), "id", P)
    assert topk.output == "top-k" and topk.k == 3 and topk.metric(None).name == "map@3"
    with pytest.raises(KfError, match=r"prediction columns \['a', 'z'\] do not match"):
        with_output(multi, frame(a=0.5, z=0.5), "id", P)
    binary = Task("binary", ("0", "1"), "r")
    with pytest.raises(KfError, match="needs an id column and a prediction column, nothing"):
        with_output(binary, frame(a=0.5, b=0.5), "id", P)


def test_forced_task_and_metric_are_checked_against_the_data():
    with pytest.raises(KfError, match="task = 'regression' but the data reads as multiclass"):
        _detect(_table(label=["cat", "dog", "cow"]), setting="regression")
    task, _ = _detect(_table(label=["cat", "dog", "cow"]))
    assert task.metric("f1-macro").name == "f1-macro"
    with pytest.raises(KfError, match="does not score a multiclass task"):
        task.metric("rmse")
