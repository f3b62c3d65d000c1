"""What a run learns from besides its labels: another run's predictions (`kf pseudo`,
`kf distill`). Framework-free; the folds get it as `kfold.execute.Teaching`.

The no-leak rule: fold k of the taught run learns test images only from predictions made by
a model that never saw fold k's validation images, namely the source run's fold-k model
(column `pred_fold{k}` of `oof/<source>.test.parquet`, a model trained on every fold but k).
The fold-mean `pred` would leak: its other models trained on fold k's images, so a test image
that resembles one of them would carry that image's label into the fold that validates on
it. Hence a source must share the run's fold split and have per-fold test predictions (a
stack has neither per-fold test columns nor models: it cannot teach test images).

Training images (distillation) learn the source's OOF prediction of each image, made by the
one model that did not train on it. The taught run validates on real labels only, so its OOF
rows are the real training images and its CV compares with any other run's.

Predictions are kept as (n, C) class probabilities where that is cheap (binary: C = 2,
`[1 - p, p]`), so a task with more classes needs only its own target column.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kfold import artifacts, atomic
from kfold.artifacts import WIDE
from kfold.data.sources import Dataset
from kfold.data.task import Task
from kfold.errors import KfError
from kfold.execute import Teaching
from kfold.jsonfiles import read_json
from kfold.record import RunRecord
from kfold.runfiles import RunFiles, fold_tag
from kfold.train.scores import oof_scores
from kfold.workspace import Workspace

KINDS = ("pseudo", "distill")


@dataclass(frozen=True, eq=False)
class Teacher:
    """A run's lessons: `kind` from `source` (the options in `settings`); soft targets of
    training images by id (`train_targets`, distillation) and, per fold, the test images
    it adds with their targets (`fold_targets[k]`, a row per id, a column per output of a
    `task` run), weighing `test_weight`."""

    kind: str
    source: str
    settings: dict
    source_sha256: str
    source_oof_auc: float
    train_targets: pd.DataFrame | None
    fold_targets: list[pd.DataFrame]
    test_weight: float
    task: str = "binary"

    def spec(self) -> dict:
        """What a resumed run must share with the run it continues (teacher.json)."""
        return {"kind": self.kind, "source": self.source, "settings": self.settings,
                "source_sha256": self.source_sha256, "test_weight": self.test_weight}

    def lineage(self) -> dict:
        """run.json's `taught_by`: the spec and which test rows each fold learned."""
        rows = {fold_tag(k): sorted(t.index.astype(str)) for k, t in enumerate(self.fold_targets)}
        return self.spec() | {"source_oof_auc": self.source_oof_auc, "test_rows": rows,
                              "train_targets": "oof" if self.train_targets is not None else None}

    def teaching(self, k: int, train_ids: np.ndarray, test_ids: np.ndarray) -> Teaching:
        """Fold k's `Teaching`, as rows of the decoded arrays (`train_ids`, `test_ids`)."""
        targets = None
        if self.train_targets is not None:
            targets = self._values(self.train_targets.reindex(pd.Index(train_ids).astype(str)))
        if not self.fold_targets:
            return Teaching(targets, np.zeros(0, np.int64), np.zeros(0), self.test_weight)
        chosen = self.fold_targets[k]
        position = pd.Series(np.arange(len(test_ids)), index=pd.Index(test_ids).astype(str))
        keep = chosen.index.isin(position.index)  # --skip-bad may have left some out
        return Teaching(targets, position[chosen.index[keep]].to_numpy(np.int64),
                        self._values(chosen[keep]), self.test_weight)

    def _values(self, frame: pd.DataFrame) -> np.ndarray:
        """Targets as the backend reads them: (n, C) for a wide task, else (n,)."""
        values = frame.to_numpy(float)
        return values if self.task in WIDE else values[:, 0]


def predictions(df: pd.DataFrame, task: Task, base: str = "pred") -> pd.DataFrame:
    """The prediction column(s) `base` of a `task` file, indexed by id: one column for a
    binary or regression task, one per class of a multi-class or multi-label one."""
    columns = artifacts.pred_columns(task.kind, task.classes, base)
    return df.set_index(df["id"].astype(str))[columns].astype(float)


def source_oof(ws: Workspace, source: str, folds: pd.DataFrame, kind: str = "binary") -> pd.DataFrame:
    """The source's OOF predictions (of a `kind` task), refused unless they hold every
    training image on the fold split of `folds` (the taught run's)."""
    path = ws.oof_path(source)
    if not path.exists():
        raise KfError(f"{source!r} has no OOF predictions ({path.relative_to(ws.root)}); "
                      "train it with `kf train` (or blend it with `kf stack`) first")
    oof = artifacts.read_oof(path, kind)
    if artifacts.folds_fingerprint(oof) != artifacts.folds_fingerprint(folds):
        raise KfError(f"{source!r} was made on another fold split than folds.csv; a teacher "
                      "must share the taught run's folds, or its predictions leak labels "
                      "across them: pick a source trained on the current folds")
    return oof


def source_fold_tests(ws: Workspace, source: str, n_folds: int,
                      dataset: Dataset) -> list[pd.DataFrame]:
    """The source's test predictions of each fold model (`pred_fold<k>` column(s)) for
    exactly the workspace's test images."""
    path = ws.test_path(source)
    if not path.exists():
        raise KfError(f"{source!r} has no test predictions ({path.relative_to(ws.root)})")
    task = dataset.task
    test = artifacts.read_test_preds(path, task.kind)
    columns = artifacts.test_pred_columns(n_folds)
    wanted = [c for base in columns for c in artifacts.pred_columns(task.kind, task.classes, base)]
    if any(c not in test.columns for c in wanted):
        raise KfError(f"{source!r} has no per-fold test predictions ({', '.join(columns)} in "
                      f"{path.relative_to(ws.root)}); only a k-fold run's fold models can "
                      "teach test images without leaking (a stack's cannot): use a run")
    if sorted(test["id"]) != sorted(dataset.test["id"].astype(str)):
        raise KfError(f"{path.relative_to(ws.root)} predicts other test images than the "
                      f"workspace's; retrain {source!r} on the current data first")
    return [predictions(test, task, base) for base in columns]


def check_task(source: RunRecord, task: Task) -> None:
    """A source of another task or other classes (kfold.data.task) cannot teach this
    run's targets."""
    if source.task != task.kind:
        raise KfError(f"{source.name!r} is a {source.task} run and this workspace's data is "
                      f"{task.kind}: its predictions cannot be this run's targets")
    if task.kind in WIDE and list(source.classes) != list(task.classes):
        raise KfError(f"{source.name!r} predicts the classes {list(source.classes)} and this "
                      f"workspace's data has {list(task.classes)}: retrain it on this data")


def source_score(ws: Workspace, source: str, oof: pd.DataFrame, task: Task) -> float:
    """The source's CV as kf ranks it: a run's recorded OOF score, else (a stack) the
    score of its OOF rows in the contest's metric (fold-normalised AUC, docs/stack.md)."""
    if ws.run_json(source).exists():
        return artifacts.read_run(ws, source).oof_auc
    return oof_scores(task, task.metric(ws.config.metric), oof).normalised


def sha256_of(*paths) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(path.read_bytes())
    return h.hexdigest()


def check_same_teacher(files: RunFiles, teacher: Teacher | None) -> None:
    """Refuse to continue a run with other lessons than it started with (or a taught run
    as a plain one, and the other way round); nothing is written."""
    old = read_json(files.teacher, "delete the run folder or pass --force") \
        if files.teacher.exists() else None
    new = None if teacher is None else teacher.spec()
    if files.config.exists() and old != new:
        raise KfError(f"run {files.name!r} exists and was taught by {_spell(old)}, not "
                      f"{_spell(new)}; choose another --name or pass --force to retrain it")


def _spell(spec: dict | None) -> str:
    if spec is None:
        return "no teacher"
    return f"{spec['kind']} from {spec['source']!r} {spec['settings']} " \
           f"(source sha256 {spec['source_sha256'][:12]})"


def write_teacher(files: RunFiles, teacher: Teacher | None) -> None:
    """teacher.json beside config.json: what a rerun must match (check_same_teacher)."""
    if teacher is not None:
        atomic.write_json(files.teacher, teacher.spec())
