"""Stratified k-fold assignment, made once and shared by every run.

Folds preserve the class balance; the same ids, seed and k give the same folds. A run
records the fingerprint of the split it used, and nothing mixes runs of different splits.
"""

from __future__ import annotations

import pandas as pd
from sklearn.model_selection import StratifiedKFold

from kfold import artifacts, atomic
from kfold.errors import KfError
from kfold.settings import check_option
from kfold.workspace import Workspace


def make_folds(train: pd.DataFrame, n_folds: int, seed: int) -> pd.DataFrame:
    """id, target, fold for every training image (ids sorted so file order does not matter)."""
    check_option("n_folds", n_folds)
    check_option("seed", seed)
    frame = train[["id", "target"]].sort_values("id").reset_index(drop=True)
    smallest = int(frame["target"].value_counts().min()) if len(frame) else 0
    if len(frame) < n_folds or smallest < n_folds:
        raise KfError(
            f"{n_folds} folds need at least {n_folds} images of each class; "
            f"the smallest class has {smallest} (of {len(frame)} images): use fewer folds"
        )
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    frame["fold"] = -1
    for k, (_, val) in enumerate(splitter.split(frame["id"], frame["target"])):
        frame.loc[val, "fold"] = k
    return frame


def write_folds(ws: Workspace, train: pd.DataFrame, n_folds: int | None = None,
                seed: int | None = None, force: bool = False) -> pd.DataFrame:
    """Write folds.csv (k and seed default to kfold.toml's); refuse to replace a different
    existing split unless `force`."""
    n_folds = ws.config.n_folds if n_folds is None else n_folds
    folds = make_folds(train, n_folds, ws.config.seed if seed is None else seed)
    if ws.folds_path.exists() and not force:
        existing = artifacts.read_folds(ws.folds_path)
        if artifacts.folds_fingerprint(existing) != artifacts.folds_fingerprint(folds):
            raise KfError(
                f"{ws.folds_path} holds another split; runs trained on it would no longer "
                "stack with new ones. Pass --force to replace it"
            )
        return existing
    atomic.write_csv(ws.folds_path, folds)
    return folds


def read_matching_folds(ws: Workspace, train: pd.DataFrame) -> pd.DataFrame:
    """folds.csv, which must split exactly the training images `train` (id, target) with
    their labels: `kf data check` and every run read it through here."""
    folds = artifacts.read_folds(ws.folds_path)
    ids_now = set(train["id"])
    if set(folds["id"]) != ids_now:
        raise KfError(
            f"{ws.folds_path} does not match the training images "
            f"({len(folds)} ids vs {len(ids_now)} images); run `kf folds --force` to remake it"
        )
    targets = train.set_index("id").loc[folds["id"], "target"].to_numpy()
    differ = targets != folds["target"].to_numpy()
    if differ.any():
        row = int(differ.argmax())
        raise KfError(f"{ws.folds_path} has other labels than the data: line {row + 2}, id "
                      f"{folds['id'].iat[row]}, has target {folds['target'].iat[row]} but label "
                      f"{targets[row]} ({int(differ.sum())} such id(s)); run `kf folds --force`")
    return folds


def plan_folds(ws: Workspace, train: pd.DataFrame, n_folds: int,
               seed: int) -> tuple[pd.DataFrame, bool]:
    """The folds a run must use, and whether folds.csv is still to be written. Needs only
    ids and labels, so a run checks its folds before decoding any image. folds.csv must be
    the split `n_folds` and `seed` make of these images (the README's promise)."""
    if not ws.folds_path.exists():
        return make_folds(train, n_folds, seed), True
    folds = read_matching_folds(ws, train)
    expected = make_folds(train, n_folds, seed)  # first: a --folds these images cannot split
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
