"""Train one tag of a run, or take it as finished: the resume step shared by the k-fold run
(tags `fold0`, `fold1`, ...) and the retrain (tag `full`).

A tag is finished when `<tag>.preds.npz` and then `<tag>.result.json` (written last) exist;
a rerun reuses them. Otherwise the backend trains it, continuing from its own resume state
if an earlier call was interrupted; that state is removed (`Backend.cleanup`) only after
the predictions and the result are safely written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kfold import atomic
from kfold.backends import Backend, FoldData
from kfold.metrics import binary_metrics
from kfold.progress import Reporter
from kfold.runfiles import RunFiles
from kfold.train.config import TrainConfig


@dataclass
class TagOutput:
    result: dict  # the backend's result, validation metrics and the caller's extra keys
    preds: dict[str, np.ndarray]  # test_ids, test_pred; val_ids, val_pred with validation
    trained: bool  # False when the tag had finished before this call


def train_or_skip(backend: Backend, cfg: TrainConfig, data: FoldData, test_x: np.ndarray,
                  files: RunFiles, tag: str, reporter: Reporter, *, val_ids: np.ndarray | None,
                  test_ids: np.ndarray, extra: dict, skip_note: str,
                  accept: Callable[[dict], None] = lambda result: None) -> TagOutput:
    """The tag's output: read back when it finished before (`accept` may refuse the old
    result with a KfError; `skip_note` is logged), else trained now. `extra` keys go into
    the result."""
    if files.result(tag).exists() and files.preds(tag).exists():
        result = json.loads(files.result(tag).read_text())
        accept(result)
        reporter.log(f"{tag}: {skip_note}")
        with np.load(files.preds(tag)) as npz:
            return TagOutput(result, dict(npz), trained=False)
    result, val_pred, test_pred = backend.train_fold(cfg, data, test_x, files.dir, tag,
                                                     reporter)
    preds = {"test_ids": np.asarray(test_ids), "test_pred": test_pred}
    if val_pred is not None:
        result = result | binary_metrics(data.val_y, val_pred)
        preds |= {"val_ids": np.asarray(val_ids), "val_pred": val_pred}
    result = extra | result
    with atomic.atomic_path(files.preds(tag)) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **preds)
    atomic.write_json(files.result(tag), result)
    backend.cleanup(files.dir, tag)
    return TagOutput(result, preds, trained=True)
