"""Run records for tests that need one without training a run."""

from __future__ import annotations

from kfold.record import FoldResult, RunRecord
from kfold.train_config import TrainConfig


def fold_result(fold: int, auc: float, **fields) -> FoldResult:
    base = dict(fold=fold, best_epoch=0, epochs_run=3, val_auc=auc, seconds=1.0,
                collapsed=None, auc=auc, accuracy=0.5, precision=0.5, recall=0.5,
                tp=1, fp=1, tn=1, fn=1)
    return FoldResult(**(base | fields))


def run_record(name: str, config: dict | None = None, **fields) -> RunRecord:
    """A record whose config is `config` (TrainConfig's fields) over the defaults."""
    base = dict(name=name, model="simple-cnn", backend="torch",
                config=TrainConfig.from_dict(config or {}),
                folds_fingerprint="", data_fingerprint=None, folds=[], oof_auc=0.5,
                fold_auc_mean=0.5, fold_auc_std=0.0, skipped_images=[], versions={},
                device="cpu", seconds=1.0, wall_seconds_last_call=1.0,
                created_utc="2026-01-01T00:00:00+00:00")
    return RunRecord(**(base | fields))
