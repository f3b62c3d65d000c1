"""`kf pseudo`: a new k-fold run whose folds also train on confident test predictions of a
finished run, chosen fold by fold under kfold.train.teach's no-leak rule (fold k's
pseudo-labels are the source's fold-k model's test predictions).

How sure a prediction is, per task: a binary or multi-class row's likeliest class's
probability (its group: that class); a multi-label row's least sure label, min over labels
of max(p, 1 - p), so a row is confident when every label is far from 0.5 (its group: the
predicted label set). `confidence` keeps the rows at least that sure; `top_share` keeps,
within each group, that share of its rows, most sure first (at least one per group that has
any). Labels are `soft` (the probabilities) or `hard` (the likeliest class; each label
rounded). A regression has no confidence: every test image is pseudo-labelled with its
predicted number, and `confidence`, `top_share` and hard labels are refused. Each
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
from kfold.artifacts import WIDE
from kfold.data.sources import Dataset, discover
from kfold.errors import KfError, check_number
from kfold.execute import Executor
from kfold.progress import Reporter
from kfold.record import RunRecord
from kfold.settings import check_option
from kfold.train.run import plan_run, train_runs
from kfold.train.teach import (
    Teacher,
    check_task,
    predictions,
    sha256_of,
    source_fold_tests,
    source_oof,
    source_score,
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
        if self.confidence is not None:
            check_number("--confidence", self.confidence, low=0.5, high=1, low_open=True)
        if self.top_share is not None:
            check_number("--top-share", self.top_share, low=0, high=1, low_open=True)
        if self.labels not in LABELS:
            raise KfError(f"--labels must be one of {LABELS}, got {self.labels!r}")
        check_number("--weight", self.weight, low=0, high=100, low_open=True)

    def check_task(self, kind: str) -> None:
        """The options a `kind` task can use (module docstring)."""
        chosen = self.confidence is not None or self.top_share is not None
        if kind == "regression":
            if chosen or self.labels == "hard":
                raise KfError("a regression's pseudo-labels are its predicted numbers, every "
                              "test image with no confidence: drop --confidence, --top-share "
                              "and --labels hard")
        elif (self.confidence is None) == (self.top_share is None):
            raise KfError("give one of --confidence (a probability) or --top-share (a share "
                          "of each predicted class)")


def sureness(pred: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(how sure, group) of each row of a `kind` task's predictions (module docstring):
    binary (n,) P(defect), multi-class (n, C) class probabilities, multi-label (n, C)."""
    if kind == "multilabel":
        _, group = np.unique(pred >= 0.5, axis=0, return_inverse=True)
        return np.maximum(pred, 1 - pred).min(axis=1), group.ravel()
    probs = np.stack([1 - pred, pred], axis=1) if pred.ndim == 1 else pred
    return probs.max(axis=1), probs.argmax(axis=1)


def select(pred: np.ndarray, kind: str, opts: PseudoOptions) -> np.ndarray:
    """Mask of the rows of `pred` (a `kind` task's) that become pseudo-labels."""
    if kind == "regression":
        return np.ones(len(pred), dtype=bool)
    sure, group = sureness(pred, kind)
    if opts.confidence is not None:
        return sure >= opts.confidence
    keep = np.zeros(len(pred), dtype=bool)
    for g in np.unique(group):
        rows = np.flatnonzero(group == g)
        top = rows[np.argsort(-sure[rows], kind="stable")][:math.ceil(opts.top_share * len(rows))]
        keep[top] = True
    return keep


def labels_of(pred: np.ndarray, kind: str, opts: PseudoOptions) -> np.ndarray:
    """Targets of chosen rows: the predictions, or (hard) the likeliest class: 0/1 of a
    binary task, one-hot rows of a multi-class one, each label rounded of a multi-label."""
    if opts.labels == "soft":
        return pred
    if kind == "multiclass":
        return np.eye(pred.shape[1])[pred.argmax(axis=1)]
    return (pred >= 0.5).astype(float)


def pseudo_teacher(ws: Workspace, source: str, folds: pd.DataFrame, opts: PseudoOptions,
                   dataset: Dataset | None = None) -> Teacher:
    """The pseudo-labels of each fold of a run on split `folds`, from `source`'s fold
    models (kfold.train.teach's rule); KfError when a fold would get none. `dataset`: the
    workspace's sources (found here when not given)."""
    dataset = dataset or discover(ws)
    opts.check_task(dataset.task.kind)
    oof = source_oof(ws, source, folds, dataset.task.kind)
    tests = source_fold_tests(ws, source, int(folds["fold"].max()) + 1, dataset)
    return _teacher(ws, source, opts, dataset, oof, tests, [f"fold {k}" for k in range(len(tests))])


def full_pseudo_teacher(ws: Workspace, source: str, opts: PseudoOptions,
                        dataset: Dataset) -> Teacher:
    """The pseudo-labels of a taught run's retrain on 100% (kf retrain): chosen with the
    same options from the source's fold-mean test predictions (`pred`), the best the
    source knows of them; no image validates a retrain, so no fold model need be left
    out. One frame in `fold_targets`, the retrain's."""
    oof = artifacts.read_oof(ws.oof_path(source), dataset.task.kind)
    test = artifacts.read_test_preds(ws.test_path(source), dataset.task.kind)
    return _teacher(ws, source, opts, dataset, oof, [predictions(test, dataset.task)],
                    ["the fold mean"])


def _teacher(ws: Workspace, source: str, opts: PseudoOptions, dataset: Dataset,
             oof: pd.DataFrame, tests: list[pd.DataFrame], names: list[str]) -> Teacher:
    """The Teacher whose fold k learns the rows `opts` picks of `tests[k]` (called
    `names[k]` when it picks none, which is refused)."""
    kind = dataset.task.kind
    per_fold, empty = [], []
    for test, name in zip(tests, names):
        pred = test.to_numpy()
        pred = pred if kind in WIDE else pred[:, 0]
        keep = select(pred, kind, opts)
        if not keep.any():
            empty.append(f"{name} (most confident {sureness(pred, kind)[0].max():.3f})")
        per_fold.append(pd.DataFrame(labels_of(pred[keep], kind, opts),
                                     index=test.index[keep]).set_axis(test.columns, axis=1))
    if empty:
        raise KfError(f"--confidence {opts.confidence} selects no test image for "
                      f"{', '.join(empty)}; lower it or use --top-share")
    return Teacher("pseudo", source, dataclasses.asdict(opts),
                   sha256_of(ws.oof_path(source), ws.test_path(source)),
                   source_score(ws, source, oof, dataset.task), None, per_fold, opts.weight,
                   kind)


def source_config(ws: Workspace, source: str, dataset: Dataset) -> TrainConfig:
    """The finished source run's config (a stack has none: it cannot be a source)."""
    if not ws.run_json(source).exists():
        known = "a stack" if ws.oof_path(source).exists() else "no finished run"
        raise KfError(f"{source!r} is {known}: kf pseudo needs a finished k-fold run's fold "
                      "models (see `kf runs`)")
    meta = artifacts.read_run(ws, source)
    check_task(meta, dataset.task)
    return meta.config


def pseudo_run(ws: Workspace, source: str, opts: PseudoOptions, name: str | None = None, *,
               overrides: dict | None = None, force: bool = False, note: str = "",
               tags: Sequence[str] = (), reporter: Reporter = Reporter(),
               executor: Executor | None = None) -> RunRecord:
    """Train run `name` (default `<source>-pseudo`): the source's config (with `overrides`)
    on the training images plus each fold's pseudo-labelled test images."""
    given = {k: check_option(k, v) for k, v in (overrides or {}).items() if v is not None}
    dataset = discover(ws)
    cfg = dataclasses.replace(source_config(ws, source, dataset), **given)
    plan = plan_run(ws, cfg, name or f"{source}-pseudo", force=force, note=note, tags=tags,
                    teach=lambda folds: pseudo_teacher(ws, source, folds, opts, dataset),
                    dataset=dataset)
    return train_runs(ws, [plan], reporter=reporter, executor=executor)[0]
