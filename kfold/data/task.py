"""Which kind of contest the data is, decided from the files (kfold.toml's `task = "auto"`).

- class folders data/train/<class>/: two -> binary (`positive_class`), more -> multiclass;
- train.csv's target column: two values -> binary, strings or whole numbers (up to
  `MAX_CLASSES` of them) -> multiclass, a space-separated list of labels -> multilabel,
  other numbers -> regression;
- train.csv without the target column but with several 0/1 columns (named like
  sample_submission.csv's prediction columns when there is one) -> multilabel;
- sample_submission.csv decides the submission's form (`output`): one column per class
  (probabilities), one column of class names (label), of space-separated labels (labels) or
  top-k guesses (top-k), or one number per image (probability or value).

`Task.reason` says in words which rule decided, for `kf data check`. Targets in memory and in
folds.csv: binary 0/1, multiclass the class index, multilabel the space-separated labels
(empty: none), regression the number.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from kfold.errors import KfError
from kfold.scoring import TASKS, Metric, default_metric, get_metric

MAX_CLASSES = 50  # more whole-number values than this: a regression target, not classes
OUTPUTS = ("probabilities", "label", "labels", "top-k", "value")


@dataclass(frozen=True)
class Task:
    """The contest kind, its classes (labels for multilabel; none for regression), how a
    submission looks, and why."""

    kind: str
    classes: tuple[str, ...]
    reason: str
    output: str = "probabilities"
    k: int = 0  # guesses per row of a top-k submission
    ordinal: bool = False  # whole-number regression target (a kappa contest)
    target_columns: tuple[str, ...] = ()  # a multilabel train.csv's 0/1 columns

    def metric(self, name: str | None) -> Metric:
        """kfold.toml's metric (checked against the task), else the form's natural one."""
        if name:
            return get_metric(name, self.kind)
        if self.output == "top-k":
            return get_metric(f"map@{self.k}")
        if self.output in ("label", "labels") and self.kind != "regression":
            return get_metric("accuracy" if self.output == "label" else "f1-macro")
        return get_metric("qwk") if self.ordinal else default_metric(self.kind)

    def describe(self) -> str:
        """One line for `kf data check`."""
        classes = f", {len(self.classes)} {'labels' if self.kind == 'multilabel' else 'classes'}"
        shown = "" if not self.classes else classes + f" ({', '.join(self.classes[:8])}" + (
            ", ...)" if len(self.classes) > 8 else ")")
        return f"{self.kind}{shown}; {self.reason}; submission: {self.output}"


def check_setting(task: str) -> str:
    """kfold.toml's `task` value."""
    if task != "auto" and task not in TASKS:
        raise KfError(f"kfold.toml: task = {task!r}; choose auto or one of {', '.join(TASKS)}")
    return task


def _forced(found: Task, setting: str) -> Task:
    """The detected task, unless kfold.toml names another one the data can be read as."""
    if setting in ("auto", found.kind):
        return found
    if setting == "regression" and found.kind in ("binary", "multiclass") and all(
            c.lstrip("-").isdigit() for c in found.classes):
        return replace(found, kind="regression", classes=(), ordinal=True,
                       reason=f"kfold.toml sets task = regression ({found.reason})")
    if setting == "multiclass" and found.kind == "binary":
        return replace(found, kind="multiclass", reason=f"kfold.toml sets task = multiclass "
                       f"({found.reason})")
    raise KfError(f"kfold.toml sets task = {setting!r} but the data reads as {found.kind} "
                  f"({found.reason}); set task = \"auto\" or fix the data")


def from_folders(classes: list[str], positive: str, setting: str) -> Task:
    """The task of class folders: two are binary (one of them `positive_class`), more are
    multi-class."""
    if len(classes) < 2:
        raise KfError(f"data/train holds {len(classes)} class folder(s) ({classes}); a "
                      "classification contest needs at least two")
    if len(classes) == 2 and setting in ("auto", "binary"):
        if positive not in classes:
            raise KfError(f"data/train must hold exactly two class folders including "
                          f"{positive!r} (found {classes}); set positive_class in kfold.toml")
        negative = next(c for c in classes if c != positive)
        return Task("binary", (negative, positive), f"2 class folders, positive {positive!r}")
    if setting == "binary":
        raise KfError(f"kfold.toml sets task = binary but data/train holds {len(classes)} class "
                      f"folders ({classes}); set task = \"auto\" or keep two folders")
    found = Task("multiclass", tuple(classes), f"{len(classes)} class folders")
    return _forced(found, setting)


def from_table(table: pd.DataFrame, id_column: str, target_column: str, positive: str,
               setting: str, sample_columns: list[str] | None, path: Path) -> tuple[Task, pd.Series]:
    """The task of train.csv, and each row's target (module docstring)."""
    if target_column not in table.columns:
        wide = _indicator_columns(table, id_column, sample_columns)
        if wide:
            return _forced(Task("multilabel", tuple(wide), f"{len(wide)} 0/1 columns in "
                                f"{path.name}", target_columns=tuple(wide)), setting), \
                _joined(table[wide], wide)
        from kfold.tables import require_id_column

        require_id_column(table, target_column, path, key="target_column")
    raw = table[target_column].reset_index(drop=True)
    _no_missing(raw, target_column, table[id_column], path)
    text = raw.astype(str).str.strip()
    if text.str.contains(" ").any() or setting == "multilabel":
        labels = tuple(sorted({lab for row in text for lab in row.split()}))
        return _forced(Task("multilabel", labels, f"space-separated labels in {path.name}'s "
                            f"{target_column!r}"), setting), text.map(_sorted_labels(labels))
    numbers = pd.to_numeric(raw, errors="coerce")
    if numbers.notna().all():
        return _numeric(numbers, target_column, positive, setting, path)
    values = sorted(text.unique())
    return _classes(values, text, target_column, positive, setting, path, "text")


def _numeric(numbers: pd.Series, column: str, positive: str, setting: str,
             path: Path) -> tuple[Task, pd.Series]:
    whole = bool((numbers % 1 == 0).all())
    distinct = sorted(numbers.unique())
    if whole and set(distinct) <= {0, 1} and setting in ("auto", "binary"):
        return _forced(Task("binary", ("0", "1"), f"{path.name}'s {column!r} holds 0 and 1"),
                       setting), numbers.astype(int)
    if whole and len(distinct) <= MAX_CLASSES and setting != "regression":
        names = [str(int(v)) for v in distinct]
        return _classes(names, numbers.astype(int).astype(str), column, positive, setting, path,
                        "whole numbers")
    kind = "whole numbers" if whole else "numbers"
    task = Task("regression", (), f"{path.name}'s {column!r} holds {len(distinct)} distinct "
                f"{kind}", output="value", ordinal=whole)
    return _forced(task, setting), numbers.astype(float)


def _classes(values: list[str], text: pd.Series, column: str, positive: str, setting: str,
             path: Path, kind: str) -> tuple[Task, pd.Series]:
    """A binary (two values, one of them `positive_class`) or multi-class target of names."""
    if len(values) < 2:
        raise KfError(f"{path} has one class only ({values[0]!r} in {column!r}); training "
                      "needs at least two")
    if len(values) == 2 and setting in ("auto", "binary") and positive in values:
        negative = next(v for v in values if v != positive)
        task = Task("binary", (negative, positive), f"{path.name}'s {column!r} holds 2 "
                    f"{kind}, positive {positive!r}")
        return task, (text == positive).astype(int)
    if len(values) == 2 and setting == "binary":
        raise KfError(f"{path}'s {column!r} holds {values}, neither is positive_class "
                      f"{positive!r}; set positive_class in kfold.toml")
    task = Task("multiclass", tuple(values), f"{path.name}'s {column!r} holds {len(values)} "
                f"{kind}")
    index = {v: i for i, v in enumerate(values)}
    return _forced(task, setting), text.map(index).astype(int)


def check_class_set(task: Task, target: pd.Series, sample_columns: list[str] | None,
                    ids: pd.Series, column: str, path: Path) -> None:
    """A multi-class label outside the sample submission's class columns is refused, its line
    named (a typo would otherwise become a class of its own)."""
    if task.kind != "multiclass" or not sample_columns or len(sample_columns) < 2:
        return
    known = set(map(str, sample_columns))
    names = pd.Series(task.classes, dtype=object)[target.to_numpy()].reset_index(drop=True)
    outside = ~names.isin(known)
    if outside.any():
        row = int(outside.to_numpy().argmax())
        raise KfError(f"{path} line {row + 2} (id {ids.iat[row]!r}): {column} = "
                      f"{names.iat[row]!r} is not a class of the sample submission "
                      f"({', '.join(sorted(known))}); {int(outside.sum())} such row(s)")


def _indicator_columns(table: pd.DataFrame, id_column: str,
                       sample_columns: list[str] | None) -> list[str]:
    """The 0/1 columns of a multi-label train.csv: every column but the id (or those the
    sample submission names), when there are at least two and all hold only 0 and 1."""
    columns = [c for c in table.columns if c != id_column]
    if sample_columns and len(sample_columns) >= 2:
        columns = [c for c in sample_columns if c in table.columns]
    if len(columns) < 2:
        return []
    values = table[columns].apply(pd.to_numeric, errors="coerce")
    return columns if values.isin([0, 1]).all().all() else []


def _joined(indicators: pd.DataFrame, labels: list[str]) -> pd.Series:
    names = np.array(labels, dtype=object)
    rows = indicators.apply(pd.to_numeric).to_numpy().astype(bool)
    return pd.Series([" ".join(names[r]) for r in rows], dtype=str)


def _sorted_labels(labels: tuple[str, ...]):
    order = {lab: i for i, lab in enumerate(labels)}
    return lambda row: " ".join(sorted(set(row.split()), key=order.__getitem__))


def _no_missing(raw: pd.Series, column: str, ids: pd.Series, path: Path) -> None:
    missing = raw.isna()
    if missing.any():
        row = int(missing.to_numpy().argmax())
        raise KfError(f"{path} line {row + 2} (id {ids.iat[row]!r}): no {column} "
                      f"({int(missing.sum())} such row(s)); every training image needs a label")


def with_output(task: Task, sample: pd.DataFrame | None, id_column: str, path: Path) -> Task:
    """The task with its submission form read from the sample submission (module docstring);
    columns that do not match the classes are refused."""
    if sample is None:
        default = "value" if task.kind == "regression" else "probabilities"
        return replace(task, output=default)
    columns = [c for c in sample.columns if c != id_column]
    if len(columns) >= 2 and task.kind in ("binary", "regression"):
        raise KfError(f"{path} needs an id column and a prediction column, nothing else, for "
                      f"a {task.kind} task (columns: {list(sample.columns)}); kf writes one "
                      "prediction per image")
    if len(columns) >= 2:
        if sorted(map(str, columns)) != sorted(task.classes):
            raise KfError(f"{path}'s prediction columns {columns} do not match the "
                          f"{task.kind} task's classes {list(task.classes) or '(none)'}: a "
                          "probability per class, named as the classes")
        return replace(task, output="probabilities")
    if not columns:
        raise KfError(f"{path} has no prediction column (columns: {list(sample.columns)})")
    values = sample[columns[0]]
    if task.kind == "regression":
        return replace(task, output="value")
    if pd.to_numeric(values, errors="coerce").notna().all() and task.kind == "binary":
        return replace(task, output="probabilities")
    if task.kind == "multiclass" and len(task.classes) > 2 and pd.to_numeric(
            values, errors="coerce").notna().all() and not values.isin(
            pd.to_numeric(pd.Series(task.classes), errors="coerce")).all():
        raise KfError(f"{path} has one numeric column but the task has {len(task.classes)} "
                      "classes: give one probability column per class, or class names")
    words = values.astype(str).str.split()
    if task.kind == "multiclass" and (words.str.len() > 1).any():
        return replace(task, output="top-k", k=int(words.str.len().max()))
    return replace(task, output="labels" if task.kind == "multilabel" else "label")


def model_targets(task: Task, target: pd.Series) -> np.ndarray:
    """The targets a model learns (what folds.csv's `target` holds, as numbers): 0/1 and
    class indices as they are, a multi-label row as (C,) 0/1 over `task.classes`, a
    regression value as a float."""
    if task.kind == "multilabel":
        index = {c: i for i, c in enumerate(task.classes)}
        out = np.zeros((len(target), len(task.classes)), dtype=np.float32)
        for row, labels in enumerate(target.astype(str)):
            out[row, [index[lab] for lab in labels.split()]] = 1.0
        return out
    return target.to_numpy(dtype=float if task.kind == "regression" else int)
