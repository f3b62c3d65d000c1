"""Stratified k-fold assignment, made once and shared by every run.

Folds preserve the target's balance as the task allows: by class (binary, multiclass), by
iterative stratification over the labels (multilabel: `iterstrat`'s
`MultilabelStratifiedKFold`, Sechidis et al. 2011), by quantile bins of the target
(regression). With kfold.toml's `group_column`, `StratifiedGroupKFold` keeps every group in
one fold (a patient's images never train and validate the same model), and reading
folds.csv checks it. A task is given by its kind and classes (the fields of
`kfold.data.task.Task`: this module sits below `data/`). The same ids, seed and k give the same folds. A run records the
fingerprint of the split it used, and nothing mixes runs of different splits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from kfold import artifacts, atomic
from kfold.errors import KfError
from kfold.settings import check_option
from kfold.workspace import Workspace

REGRESSION_BINS = 10  # quantile bins a regression target is stratified by (fewer when small)


def _strata(frame: pd.DataFrame, kind: str, classes: tuple[str, ...],
            n_folds: int) -> np.ndarray:
    """What the split balances: the class, each label (an (n, L) indicator) or the bin of a
    regression target; a class or label with fewer images than folds is named with the fix."""
    target = frame["target"]
    if kind == "regression":
        bins = max(2, min(REGRESSION_BINS, len(frame) // (2 * n_folds)))
        return pd.qcut(target.rank(method="first"), bins, labels=False).to_numpy()
    if kind == "multilabel":
        rows = target.str.split()
        strata = np.array([[lab in r for r in rows] for lab in classes], dtype=int).T
        counts = dict(zip(classes, strata.sum(axis=0)))
    else:
        strata = target.to_numpy()
        counts = {name: int((strata == i).sum()) for i, name in enumerate(classes)}
    few = {name: n for name, n in counts.items() if n < n_folds}
    if len(frame) < n_folds or few:
        what = "label" if kind == "multilabel" else "class"
        smallest = min(counts.values(), default=0)
        named = f" ({', '.join(f'{k!r} has {v}' for k, v in list(few.items())[:5])})" \
            if kind != "binary" and few else ""
        raise KfError(f"{n_folds} folds need at least {n_folds} images of each {what}; the "
                      f"smallest {what} has {smallest}{named} (of {len(frame)} images): use "
                      "fewer folds or add images")
    return strata


def _splitter(kind: str, grouped: bool, n_folds: int, seed: int):
    if grouped:
        return StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    if kind == "multilabel":
        from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

        return MultilabelStratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)


def make_folds(train: pd.DataFrame, n_folds: int, seed: int, kind: str = "binary",
               classes: tuple[str, ...] = ("0", "1")) -> pd.DataFrame:
    """id, target, fold for every training image (ids sorted so file order does not matter);
    a `group` column in `train` keeps each group in one fold."""
    check_option("n_folds", n_folds)
    check_option("seed", seed)
    grouped = "group" in train.columns
    frame = train[["id", "target", *(["group"] if grouped else [])]].sort_values("id")
    frame = frame.reset_index(drop=True)
    strata = _strata(frame, kind, classes, n_folds)
    if grouped:
        _enough_groups(frame, n_folds)
        strata = strata.argmax(axis=1) if strata.ndim == 2 else strata  # one label per group
    splitter = _splitter(kind, grouped, n_folds, seed)
    groups = frame["group"] if grouped else None
    frame["fold"] = -1
    for k, (_, val) in enumerate(splitter.split(frame["id"], strata, groups)):
        frame.loc[val, "fold"] = k
    return frame[["id", "target", "fold"]]


def _enough_groups(frame: pd.DataFrame, n_folds: int) -> None:
    n_groups = frame["group"].nunique()
    if n_groups < n_folds:
        raise KfError(f"{n_folds} folds need at least {n_folds} groups of group_column; the "
                      f"images have {n_groups}: use fewer folds")


def check_groups(folds: pd.DataFrame, train: pd.DataFrame, where: object) -> None:
    """No group of `train` spans two folds of `folds` (when `train` has groups)."""
    if "group" not in train.columns:
        return
    group = train.set_index("id").loc[folds["id"], "group"].to_numpy()
    spans = pd.Series(folds["fold"].to_numpy()).groupby(group).nunique()
    split = spans[spans > 1]
    if len(split):
        raise KfError(f"{where} splits {len(split)} group(s) of group_column across folds "
                      f"(first: {split.index[0]!r} in {int(split.iloc[0])} folds); a group "
                      "must stay in one fold: run `kf folds --force` to remake it")


def write_folds(ws: Workspace, train: pd.DataFrame, n_folds: int | None = None,
                seed: int | None = None, force: bool = False, kind: str = "binary",
                classes: tuple[str, ...] = ("0", "1")) -> pd.DataFrame:
    """Write folds.csv (k and seed default to kfold.toml's); refuse to replace a different
    existing split unless `force`."""
    n_folds = ws.config.n_folds if n_folds is None else n_folds
    folds = make_folds(train, n_folds, ws.config.seed if seed is None else seed, kind, classes)
    if ws.folds_path.exists() and not force:
        existing = artifacts.read_folds(ws.folds_path, kind)
        if artifacts.folds_fingerprint(existing) != artifacts.folds_fingerprint(folds):
            raise KfError(
                f"{ws.folds_path} holds another split; runs trained on it would no longer "
                "stack with new ones. Pass --force to replace it"
            )
        return existing
    atomic.write_csv(ws.folds_path, folds)
    return folds


def read_matching_folds(ws: Workspace, train: pd.DataFrame,
                        kind: str = "binary") -> pd.DataFrame:
    """folds.csv, which must split exactly the training images `train` (id, target) with
    their labels, and keep each group in one fold: `kf data check` and every run read it
    through here."""
    folds = artifacts.read_folds(ws.folds_path, kind)
    ids_now = set(train["id"])
    if set(folds["id"]) != ids_now:
        raise KfError(
            f"{ws.folds_path} does not match the training images "
            f"({len(folds)} ids vs {len(ids_now)} images); run `kf folds --force` to remake it"
        )
    targets = train.set_index("id").loc[folds["id"], "target"].to_numpy()
    differ = targets != folds["target"].to_numpy()
    if kind == "regression":
        differ = ~np.isclose(targets.astype(float), folds["target"].to_numpy(dtype=float))
    if differ.any():
        row = int(differ.argmax())
        raise KfError(f"{ws.folds_path} has other labels than the data: line {row + 2}, id "
                      f"{folds['id'].iat[row]}, has target {folds['target'].iat[row]} but label "
                      f"{targets[row]} ({int(differ.sum())} such id(s)); run `kf folds --force`")
    check_groups(folds, train, ws.folds_path)
    return folds


def plan_folds(ws: Workspace, train: pd.DataFrame, n_folds: int, seed: int,
               kind: str = "binary",
               classes: tuple[str, ...] = ("0", "1")) -> tuple[pd.DataFrame, bool]:
    """The folds a run must use, and whether folds.csv is still to be written. Needs only
    ids and labels, so a run checks its folds before decoding any image. folds.csv must be
    the split `n_folds` and `seed` make of these images (the README's promise)."""
    if not ws.folds_path.exists():
        return make_folds(train, n_folds, seed, kind, classes), True
    folds = read_matching_folds(ws, train, kind)
    expected = make_folds(train, n_folds, seed, kind, classes)  # first: a --folds these images cannot split
    have = folds["fold"].nunique()
    if have != n_folds:
        raise KfError(
            f"{ws.folds_path} has {have} folds but --folds {n_folds} was asked for; use "
            f"--folds {have}, or remake the split with `kf folds --folds {n_folds} --force` "
            "(runs of different splits cannot be stacked)"
        )
    if artifacts.folds_fingerprint(expected) != artifacts.folds_fingerprint(folds):
        raise KfError(
            f"{ws.folds_path} was not made with --seed {seed} (same images and {n_folds} "
            "folds, another split); pass the --seed it was made with, or remake it with "
            f"`kf folds --seed {seed} --force` (runs of different splits cannot be stacked)"
        )
    return folds, False
