"""A submission's prediction columns read as a model's output, for every kind of contest.

Kaggle accepts a submission in the form of the sample submission: one probability column per
class, one column of class names, of space-separated labels or top-k guesses, or one number
per image. `read_output` checks such columns against the task (probabilities in [0, 1],
multi-class rows summing to 1, labels from the class set, finite numbers) and turns them
into what a `kfold.scoring.Metric` scores: probabilities, a one-hot row for a label, a 0/1
row for a label list, descending scores for top-k guesses (so argmax and top-k give the
labels back). `read_truth` does the same for a solution file. `kf submit` validates with the
first; the stand-in server scores with both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ROW_SUM_TOLERANCE = 1e-3  # a multi-class probability row sums to 1 within this


def _numbers(values: pd.Series, column: str, *, probabilities: bool) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(numbers)
    if probabilities:
        bad |= (numbers < 0) | (numbers > 1)
    if bad.any():
        row = int(bad.argmax())
        where = "missing, not numbers or outside [0, 1]" if probabilities else \
            "missing or not finite numbers"
        raise ValueError(f"{int(bad.sum())} value(s) in {column!r} {where}; first: row "
                         f"{row + 1}, {column!r}: {values.tolist()[row]!r}")
    return numbers


def _label_index(words: pd.Series, classes: tuple[str, ...], column: str) -> list[list[int]]:
    """Each row's labels as class indices; a label outside the class set is named."""
    index = {c: i for i, c in enumerate(classes)}
    rows = words.fillna("").astype(str).str.split()
    for r, row in enumerate(rows):
        unknown = [w for w in row if w not in index]
        if unknown:
            raise ValueError(f"row {r + 1} of {column!r} names {unknown[0]!r}, not one of the "
                             f"classes ({', '.join(classes)})")
    return [[index[w] for w in row] for row in rows]


def _probability_columns(sub: pd.DataFrame, columns: list[str], kind: str,
                         classes: tuple[str, ...]) -> np.ndarray:
    if sorted(map(str, columns)) != sorted(classes):
        raise ValueError(f"prediction columns {columns} are not the classes "
                         f"({', '.join(classes)})")
    out = np.column_stack([_numbers(sub[c], c, probabilities=True) for c in classes])
    if kind == "multiclass":
        sums = out.sum(axis=1)
        off = np.abs(sums - 1) > ROW_SUM_TOLERANCE
        if off.any():
            raise ValueError(f"{int(off.sum())} row(s) of class probabilities do not sum to 1 "
                             f"(row {int(off.argmax()) + 1} sums to {sums[off.argmax()]:.4f})")
    return out


def _one_column(values: pd.Series, column: str, kind: str,
                classes: tuple[str, ...]) -> np.ndarray:
    if kind == "regression":
        return _numbers(values, column, probabilities=False)
    if kind == "binary":
        if pd.to_numeric(values, errors="coerce").notna().any():  # probabilities, maybe bad
            return _numbers(values, column, probabilities=True)
        picked = _label_index(values, classes, column)
        return np.array([float(r == [1]) for r in picked])
    picked = _label_index(values, classes, column)
    out = np.zeros((len(values), len(classes)))
    for r, row in enumerate(picked):
        if kind == "multiclass" and len(row) != 1 and not any(len(p) > 1 for p in picked):
            raise ValueError(f"row {r + 1} of {column!r} holds {len(row)} labels, not one")
        for rank, c in enumerate(row):  # top-k: the first guess scores highest
            out[r, c] = 1.0 if kind == "multilabel" else (len(row) - rank) / len(row)
    return out


def read_output(sub: pd.DataFrame, id_column: str, kind: str, classes: tuple[str, ...],
                form: str | None = None, k: int = 0) -> np.ndarray:
    """The prediction columns of `sub` (rows in `sub`'s order) as a model's output for a task
    of `kind` with `classes`; ValueError naming the first problem. `form` (the sample
    submission's, `kfold.data.task.Task.output`) also holds a label column to it: one class
    per row (label), or 1 to `k` different classes (top-k)."""
    columns = [c for c in sub.columns if c != id_column]
    if not columns:
        raise ValueError(f"no prediction column besides {id_column!r}")
    if len(columns) > 1:
        if kind not in ("multiclass", "multilabel"):
            raise ValueError(f"expected 2 columns with {id_column!r}, found {list(sub.columns)}")
        return _probability_columns(sub, columns, kind, classes)
    if kind == "multiclass" and form in ("label", "top-k"):
        _check_guesses(sub[columns[0]], columns[0], 1 if form == "label" else k)
    return _one_column(sub[columns[0]], columns[0], kind, classes)


def _check_guesses(values: pd.Series, column: str, k: int) -> None:
    """Each row names 1 to `k` classes, none twice (a label column: exactly one)."""
    for r, row in enumerate(values.fillna("").astype(str).str.split()):
        if not 1 <= len(row) <= k:
            want = "one class" if k == 1 else f"1 to {k} space-separated classes (MAP@{k})"
            raise ValueError(f"row {r + 1} of {column!r} holds {len(row)} label(s), not {want}")
        if len(set(row)) < len(row):
            raise ValueError(f"row {r + 1} of {column!r} guesses "
                             f"{next(w for w in row if row.count(w) > 1)!r} twice")


def read_truth(solution: pd.DataFrame, target_column: str, kind: str,
               classes: tuple[str, ...]) -> np.ndarray:
    """A solution file's truth as the metrics take it: 0/1, class index, (n, C) 0/1 labels
    (one column per label, or a space-separated list in the target column), or numbers."""
    if kind == "multilabel" and set(classes) <= set(solution.columns):
        return solution[list(classes)].to_numpy(dtype=int)
    values = solution[target_column]
    if kind == "regression":
        return values.to_numpy(dtype=float)
    numbers = pd.to_numeric(values, errors="coerce")
    if kind == "binary" and numbers.notna().all():
        return numbers.to_numpy(dtype=int)
    picked = _label_index(values.astype(str), classes, target_column)
    if kind == "multilabel":
        out = np.zeros((len(values), len(classes)), dtype=int)
        for r, row in enumerate(picked):
            out[r, row] = 1
        return out
    return np.array([row[0] for row in picked], dtype=int)
