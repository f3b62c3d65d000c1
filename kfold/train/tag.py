"""Train one tag of a run, or take it as finished: the resume step shared by the k-fold run
(tags `fold0`, `fold1`, ...) and the retrain (tag `full`).

A tag is finished when `<tag>.preds.npz` and then `<tag>.result.json` (written last) exist;
a rerun reuses them. Otherwise the backend trains it, continuing from its own resume state
if an earlier call was interrupted; that state is removed (`Backend.cleanup`) only after
the predictions and the result are safely written.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kfold import atomic
from kfold.backends import get_backend
from kfold.execute import FoldOutcome
from kfold.metrics import binary_metrics
from kfold.progress import Reporter
from kfold.runfiles import RunFiles
from kfold.train.config import TrainConfig


@dataclass
class TagOutput:
    result: dict  # the backend's result, validation metrics and the caller's extra keys
    preds: dict[str, np.ndarray]  # test_ids, test_pred; val_ids, val_pred with validation
    trained: bool  # False when the tag had finished before this call


def finished_tag(files: RunFiles, tag: str, reporter: Reporter, *, skip_note: str,
                 accept: Callable[[dict], None] = lambda result: None) -> TagOutput | None:
    """The tag's output when an earlier call finished it (`accept` may refuse the old result
    with a KfError; `skip_note` is logged), else None: an executor trains it."""
    finished = _read_finished(files, tag, reporter)
    if finished is None:
        return None
    result, preds = finished
    accept(result)
    reporter.log(f"{tag}: {skip_note}")
    return TagOutput(result, preds, trained=False)


def record_tag(cfg: TrainConfig, files: RunFiles, tag: str, outcome: FoldOutcome, *,
               val_y: np.ndarray | None, val_ids: np.ndarray | None, test_ids: np.ndarray,
               extra: dict) -> TagOutput:
    """Write a trained tag's predictions, then its result (`extra` keys and where it ran
    added), then drop its resume state; only the calling process writes."""
    preds = {"test_ids": np.asarray(test_ids), "test_pred": outcome.test_pred}
    result = outcome.result
    if outcome.val_pred is not None:
        result = result | binary_metrics(val_y, outcome.val_pred)
        preds |= {"val_ids": np.asarray(val_ids), "val_pred": outcome.val_pred}
    result = extra | result | {"where": outcome.where}
    with atomic.atomic_path(files.preds(tag)) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **preds)
    atomic.write_json(files.result(tag), result)
    get_backend(cfg.backend).cleanup(files.dir, tag)
    return TagOutput(result, preds, trained=True)


def _read_finished(files: RunFiles, tag: str,
                   reporter: Reporter) -> tuple[dict, dict[str, np.ndarray]] | None:
    """A finished tag's result and predictions; None when it has not finished, or when
    either file is damaged (then the tag is trained again, and the user told so)."""
    if not (files.result(tag).exists() and files.preds(tag).exists()):
        return None
    try:
        result = json.loads(files.result(tag).read_text())
        with np.load(files.preds(tag), allow_pickle=False) as npz:
            preds = {k: npz[k] for k in npz.files}
        if not isinstance(result, dict) or "test_pred" not in preds:
            raise ValueError("incomplete")
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        # JSONDecodeError and UnicodeDecodeError are ValueErrors
        reporter.log(f"{tag}: {files.result(tag).name} or {files.preds(tag).name} is damaged "
                     f"({str(exc)[:80] or type(exc).__name__}); training {tag} again")
        files.result(tag).unlink(missing_ok=True)
        return None
    return result, preds
