"""`kf pseudo`: a new k-fold run whose folds also train on confident test predictions of a
finished run, chosen fold by fold under kfold.train.teach's no-leak rule (fold k's
pseudo-labels are the source's fold-k model's test predictions).

Selection, per fold, on (n, C) class probabilities: `confidence` keeps the test images whose
most likely class has at least that probability; `top_share` keeps, within each predicted
class, that share of its images, most confident first (at least one per class that has
any). Labels are `soft` (the probabilities) or `hard` (the most likely class); each
pseudo-labelled image weighs `weight` against a training image's 1. The new run takes the
source's TrainConfig (options given here override it) and fold split.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from kfold import artifacts
from kfold.data.sources import discover
from kfold.errors import KfError, check_number
from kfold.execute import Executor
from kfold.metrics import auc
from kfold.progress import Reporter
from kfold.record import RunRecord
from kfold.settings import check_option
from kfold.train.run import plan_run, train_runs
from kfold.train.teach import (
    Teacher,
    check_task,
    class_probs,
    sha256_of,
    source_fold_tests,
    source_oof,
    target_of,
)
from kfold.train_config import TrainConfig
from kfold.workspace import Workspace

LABELS = ("soft", "hard")


@dataclasses.dataclass(frozen=True)
class PseudoOptions:
    """How test images are chosen and labelled (see the module docstring)."""

    confidence: float | None = None
    top_share: float | None = None
    labels: str = "soft"
    weight: float = 1.0

    def __post_init__(self) -> None:
        if (self.confidence is None) == (self.top_share is None):
            raise KfError("give one of --confidence (a probability) or --top-share (a share "
                          "of each predicted class)")
        if self.confidence is not None:
            check_number("--confidence", self.confidence, low=0.5, high=1, low_open=True)
        if self.top_share is not None:
            check_number("--top-share", self.top_share, low=0, high=1, low_open=True)
        if self.labels not in LABELS:
            raise KfError(f"--labels must be one of {LABELS}, got {self.labels!r}")
        check_number("--weight", self.weight, low=0, high=100, low_open=True)


def select(probs: np.ndarray, opts: PseudoOptions) -> np.ndarray:
    """Mask of the rows of (n, C) `probs` that become pseudo-labels."""
    best, cls = probs.max(axis=1), probs.argmax(axis=1)
    if opts.confidence is not None:
        return best >= opts.confidence
    keep = np.zeros(len(probs), dtype=bool)
    for c in np.unique(cls):
        rows = np.flatnonzero(cls == c)
        top = rows[np.argsort(-best[rows], kind="stable")][:math.ceil(opts.top_share * len(rows))]
        keep[top] = True
    return keep


def labels_of(probs: np.ndarray, opts: PseudoOptions) -> np.ndarray:
    """Targets of chosen rows: the probabilities, or one-hot of the most likely class."""
    if opts.labels == "hard":
        probs = np.eye(probs.shape[1])[probs.argmax(axis=1)]
    return target_of(probs)


def pseudo_teacher(ws: Workspace, source: str, folds: pd.DataFrame,
                   opts: PseudoOptions) -> Teacher:
    """The pseudo-labels of each fold of a run on split `folds`, from `source`'s fold
    models (kfold.train.teach's rule); KfError when a fold would get none."""
    oof = source_oof(ws, source, folds)
    n_folds = int(folds["fold"].max()) + 1
    test = source_fold_tests(ws, source, n_folds, discover(ws).test["id"])
    per_fold, empty = [], []
    for k, column in enumerate(artifacts.test_pred_columns(n_folds)):
        probs = class_probs(test[column].to_numpy())
        keep = select(probs, opts)
        if not keep.any():
            empty.append(f"fold {k} (most confident {probs.max(axis=1).max():.3f})")
        per_fold.append(pd.Series(labels_of(probs[keep], opts), index=test.index[keep]))
    if empty:
        raise KfError(f"--confidence {opts.confidence} selects no test image for "
                      f"{', '.join(empty)}; lower it or use --top-share")
    return Teacher("pseudo", source, dataclasses.asdict(opts),
                   sha256_of(ws.oof_path(source), ws.test_path(source)),
                   auc(oof["target"], oof["pred"]), None, per_fold, opts.weight)


def source_config(ws: Workspace, source: str) -> TrainConfig:
    """The finished source run's config (a stack has none: it cannot be a source)."""
    if not ws.run_json(source).exists():
        known = "a stack" if ws.oof_path(source).exists() else "no finished run"
        raise KfError(f"{source!r} is {known}: kf pseudo needs a finished k-fold run's fold "
                      "models (see `kf runs`)")
    meta = artifacts.read_run(ws, source)
    check_task(ws, meta)
    return meta.config


def pseudo_run(ws: Workspace, source: str, opts: PseudoOptions, name: str | None = None, *,
               overrides: dict | None = None, force: bool = False, note: str = "",
               tags: Sequence[str] = (), reporter: Reporter = Reporter(),
               executor: Executor | None = None) -> RunRecord:
    """Train run `name` (default `<source>-pseudo`): the source's config (with `overrides`)
    on the training images plus each fold's pseudo-labelled test images."""
    given = {k: check_option(k, v) for k, v in (overrides or {}).items() if v is not None}
    cfg = dataclasses.replace(source_config(ws, source), **given)
    plan = plan_run(ws, cfg, name or f"{source}-pseudo", force=force, note=note, tags=tags,
                    teach=lambda folds: pseudo_teacher(ws, source, folds, opts))
    return train_runs(ws, [plan], reporter=reporter, executor=executor)[0]
