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
from kfold.data.sources import discover
from kfold.errors import KfError
from kfold.execute import Teaching
from kfold.jsonfiles import read_json
from kfold.record import RunRecord
from kfold.runfiles import RunFiles, fold_tag
from kfold.workspace import Workspace

KINDS = ("pseudo", "distill")


@dataclass(frozen=True, eq=False)
class Teacher:
    """A run's lessons: `kind` from `source` (the options in `settings`); soft targets of
    training images by id (`train_targets`, distillation) and, per fold, the test images
    it adds with their targets (`fold_targets[k]`, id -> target), weighing `test_weight`."""

    kind: str
    source: str
    settings: dict
    source_sha256: str
    source_oof_auc: float
    train_targets: pd.Series | None
    fold_targets: list[pd.Series]
    test_weight: float

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
            targets = self.train_targets.reindex(pd.Index(train_ids).astype(str)).to_numpy(float)
        chosen = self.fold_targets[k] if self.fold_targets else pd.Series(dtype=float)
        position = pd.Series(np.arange(len(test_ids)), index=pd.Index(test_ids).astype(str))
        keep = chosen.index.isin(position.index)  # --skip-bad may have left some out
        return Teaching(targets, position[chosen.index[keep]].to_numpy(np.int64),
                        chosen[keep].to_numpy(float), self.test_weight)


def class_probs(pred: np.ndarray) -> np.ndarray:
    """(n, C) class probabilities of predictions: a binary column p becomes [1 - p, p]."""
    pred = np.asarray(pred, dtype=float)
    return np.stack([1 - pred, pred], axis=1) if pred.ndim == 1 else pred


def target_of(probs: np.ndarray) -> np.ndarray:
    """The training target of (n, C) probabilities in the run's task: P(defect) for binary."""
    return probs[:, 1] if probs.shape[1] == 2 else probs


def source_oof(ws: Workspace, source: str, folds: pd.DataFrame) -> pd.DataFrame:
    """The source's OOF predictions, refused unless they hold every training image on the
    fold split of `folds` (the taught run's)."""
    path = ws.oof_path(source)
    if not path.exists():
        raise KfError(f"{source!r} has no OOF predictions ({path.relative_to(ws.root)}); "
                      "train it with `kf train` (or blend it with `kf stack`) first")
    oof = artifacts.read_oof(path)
    if artifacts.folds_fingerprint(oof) != artifacts.folds_fingerprint(folds):
        raise KfError(f"{source!r} was made on another fold split than folds.csv; a teacher "
                      "must share the taught run's folds, or its predictions leak labels "
                      "across them: pick a source trained on the current folds")
    return oof


def source_fold_tests(ws: Workspace, source: str, n_folds: int,
                      test_ids: pd.Series) -> pd.DataFrame:
    """The source's per-fold test predictions (id, pred_fold0..) for exactly `test_ids`."""
    path = ws.test_path(source)
    if not path.exists():
        raise KfError(f"{source!r} has no test predictions ({path.relative_to(ws.root)})")
    test = artifacts.read_test_preds(path)
    columns = artifacts.test_pred_columns(n_folds)
    if any(c not in test.columns for c in columns):
        raise KfError(f"{source!r} has no per-fold test predictions ({', '.join(columns)} in "
                      f"{path.relative_to(ws.root)}); only a k-fold run's fold models can "
                      "teach test images without leaking (a stack's cannot): use a run")
    if sorted(test["id"]) != sorted(test_ids.astype(str)):
        raise KfError(f"{path.relative_to(ws.root)} predicts other test images than the "
                      "workspace's; retrain {source!r} on the current data first")
    return test.set_index("id")[columns]


def check_task(ws: Workspace, source: RunRecord) -> None:
    """A source of another task (kfold.data.task) cannot teach this run's targets."""
    task = discover(ws).task.kind
    if source.task != task:
        raise KfError(f"{source.name!r} is a {source.task} run and this workspace's data is "
                      f"{task}: its predictions cannot be this run's targets")


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
