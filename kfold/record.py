"""The run record: what `models/<run>/run.json` holds, as typed dataclasses.

Only kfold.artifacts reads and writes run.json (`read_run`, `write_run`, `update_run`);
everything else passes `RunRecord` objects. `SCHEMA_VERSION` is written into every record;
`from_dict` reads every version written so far:

- 0 (kfold before the consolidation, no `schema_version` key): the same fields; fold
  results as flat dicts.
- 1: `schema_version` added; fold results and the retrain typed; `submission` recorded.
- 2: `note`, `tags` (kf train --note/--tag) and `git_commit` (the workspace repository's
  commit, `+dirty` with uncommitted changes) added; empty in records of earlier versions.
- 3: `task`, `classes` and `metric` (the contest's kind, its classes in prediction-column
  order, the metric's registry name); a record of an earlier version is a binary run scored
  by AUC, its classes unnamed (`[]`).
  `taught_by` (kf pseudo, kf distill; None for a plain run) added in version 3 too.

A key the dataclasses do not know is kept (`extra`) and written back, so a newer writer's
additions survive an older reader's read-modify-write.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kfold.train_config import TrainConfig

SCHEMA_VERSION = 3


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value has a field's declared type (an int passes for a float, a float
    holding a whole number for an int: JSON writers differ in how they spell numbers)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if hint is type(None):
        return value is None
    if isinstance(value, bool):
        return hint is bool
    if hint is float:
        return isinstance(value, int | float)
    if hint is int:
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if origin is list:
        return isinstance(value, list) and all(_fits(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    return isinstance(value, hint) if isinstance(hint, type) else True


def _check_types(cls, known: dict) -> None:
    """A TypeError naming the first field of `known` whose value is not of its declared type
    (a hand-edited or damaged run.json would fail far away, e.g. formatting a table)."""
    hints = typing.get_type_hints(cls)
    for key, value in known.items():
        if not _fits(value, hints[key]):
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
            raise TypeError(f"{key} = {shown} is not {_spell(hints[key])}")


def _spell(hint: Any) -> str:
    names = {int: "a whole number", float: "a number", str: "a text", bool: "true or false",
             type(None): "null", list: "a list", dict: "an object"}
    parts = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union,
                                                                   types.UnionType) else (hint,)
    return " or ".join(names.get(typing.get_origin(p) or p, str(p)) for p in parts)


def _split(cls, raw: dict) -> tuple[dict, dict]:
    """(the keys `cls` declares, the rest) of `raw`."""
    names = {f.name for f in _recorded(cls)}
    return ({k: v for k, v in raw.items() if k in names},
            {k: v for k, v in raw.items() if k not in names})


class _Flat:
    """A dataclass with an `extra` dict, read from and written to one flat dict; a field
    whose metadata says `recorded: False` is carried, never written or read."""

    extra: dict[str, Any]

    @classmethod
    def from_dict(cls, raw: dict):
        if not isinstance(raw, dict):
            raise TypeError(f"{cls.__name__} is {type(raw).__name__}, not an object")
        known, extra = _split(cls, raw)
        _check_types(cls, known)
        return cls(**known, extra=extra)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in _recorded(self)} | self.extra


def _recorded(cls) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls)
            if f.name != "extra" and f.metadata.get("recorded", True)]


def _carried() -> Any:
    """A field that travels with the object (Ray pickles it) but stays out of the files."""
    return field(default=None, repr=False, compare=False, metadata={"recorded": False})


@dataclass(kw_only=True)
class FoldResult(_Flat):
    """One trained tag, the one type from the backend that trained it to run.json's `folds`:
    the backend fills in how training went and its predictions, the executor where it ran,
    kfold.train.tag the validation metrics (`kfold.scoring.fold_metrics`) and the k-fold
    run's keys. `<tag>.result.json` and run.json hold `to_dict()` (no predictions; those go
    to `<tag>.preds.npz`)."""

    fold: int | None = None  # the k-fold run's fold; None for the retrain (tag `full`)
    best_epoch: int  # 0-based; -1 when no epoch was kept
    epochs_run: int
    val_auc: float  # the kept epoch's validation score (the contest metric's)
    seconds: float
    collapsed: str | None
    auc: float | None = None  # the contest metric's score; None without validation
    # The confusion metrics of a binary run at 0.5; None for other tasks (accuracy aside).
    accuracy: float | None = None
    precision: float | None = None
    recall: float | None = None
    tp: int | None = None
    fp: int | None = None
    tn: int | None = None
    fn: int | None = None
    device: str = "?"
    folds_fingerprint: str = ""
    # Where it trained (kfold.execute): executor, hostname; on Ray node_id, node_ip,
    # gpu_ids and attempts (node, start epoch of each try).
    where: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # backend-specific keys
    val_pred: np.ndarray | None = _carried()  # None without validation images
    test_pred: np.ndarray | None = _carried()

    def of_fold(self) -> FoldResult:
        """This result as a k-fold run records a fold: numbered and scored, else a
        TypeError naming what is missing (a retrain's result has neither)."""
        for key, kind in (("fold", "a whole number"), ("auc", "a number")):
            if getattr(self, key) is None:
                raise TypeError(f"{key} = None is not {kind}")
        return self


@dataclass
class RetrainRecord(_Flat):
    """The retrain on 100% (kfold.train.retrain)."""

    epochs: int
    epochs_rule: str
    fold_best_epochs: list[int]
    n_train: int
    checkpoint: str | None
    test_predictions: str
    submission: str
    cv_auc: float
    seconds: float | None
    device: str | None
    wall_seconds_last_call: float
    created_utc: str
    where: dict[str, Any] = field(default_factory=dict)  # as FoldResult.where
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunRecord(_Flat):
    """A finished k-fold run; `retrain` and `explain` are filled in by later commands."""

    name: str
    model: str
    backend: str
    config: TrainConfig  # parsed once, here: retrain and explain rebuild the run from it
    folds_fingerprint: str
    data_fingerprint: str | None
    folds: list[FoldResult]
    oof_auc: float  # fold-normalised (kfold.stats.foldscale); pooled in runs before it
    fold_auc_mean: float
    fold_auc_std: float
    skipped_images: list[str]
    versions: dict[str, str]
    device: str
    seconds: float
    wall_seconds_last_call: float
    created_utc: str
    submission: str | None = None
    retrain: RetrainRecord | None = None
    explain: dict[str, Any] | None = None  # kfold.explain.run's summary, keyed by metric
    note: str = ""  # free text from kf train --note
    tags: list[str] = field(default_factory=list)  # labels from kf train --tag
    git_commit: str | None = None  # the code's commit when the workspace is in a repository
    task: str = "binary"  # kfold.data.task's kinds
    classes: list[str] = field(default_factory=list)  # prediction-column order ([]: binary)
    metric: str = "auc"  # kfold.scoring's name of the contest's metric
    oof_auc_pooled: float | None = None  # every OOF row in one AUC (None: an older run)
    # kf pseudo / kf distill: the source run, its options and the test rows each fold learned
    taught_by: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fold_aucs(self) -> list[float]:
        return [f.auc for f in self.folds]

    @classmethod
    def from_dict(cls, raw: dict) -> RunRecord:
        """Any version's run.json content (see the module docstring); a value of the wrong
        type is a TypeError naming its key."""
        known, extra = _split(cls, raw)
        _check_types(cls, {k: v for k, v in known.items()
                           if k not in ("folds", "retrain", "config")})
        for key, kind in (("config", dict), ("folds", list)):
            if not isinstance(known.get(key, kind()), kind):
                raise TypeError(f"{key} = {known[key]!r:.40} is not {_spell(kind)}")
        known["schema_version"] = SCHEMA_VERSION  # later fields have defaults for older ones
        if "folds" in known:  # else the constructor names the missing key
            known["folds"] = [FoldResult.from_dict(r).of_fold() for r in known["folds"]]
        if "config" in known:
            known["config"] = TrainConfig.from_dict(known["config"])
        if known.get("retrain") is not None:
            known["retrain"] = RetrainRecord.from_dict(known["retrain"])
        return cls(**known, extra=extra)

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["config"] = self.config.to_dict()
        out["folds"] = [f.to_dict() for f in self.folds]
        out["retrain"] = self.retrain.to_dict() if self.retrain else None
        return out
