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
from kfold.artifacts import WIDE
from kfold.backends import RESULT_KEYS, Backend, Head
from kfold.execute import FoldOutcome
from kfold.progress import Reporter
from kfold.record import FoldResult
from kfold.runfiles import FULL_TAG, RunFiles
from kfold.scoring import fold_metrics


@dataclass
class TagOutput:
    result: dict  # the backend's result, validation metrics and the caller's extra keys
    preds: dict[str, np.ndarray]  # test_ids, test_pred; val_ids, val_pred with validation
    trained: bool  # False when the tag had finished before this call


def finished_tag(files: RunFiles, tag: str, reporter: Reporter, *, skip_note: str,
                 test_ids: np.ndarray, val_ids: np.ndarray | None = None,
                 accept: Callable[[dict], None] = lambda result: None,
                 kind: str = "binary") -> TagOutput | None:
    """The tag's output when an earlier call finished it (`accept` may refuse the old result
    with a KfError; `skip_note` is logged), else None: an executor trains it. Predictions
    for other ids than `test_ids` (and `val_ids`, the tag's validation images) count as
    damaged."""
    finished = _read_finished(files, tag, reporter, test_ids, val_ids, kind)
    if finished is None:
        return None
    result, preds = finished
    accept(result)
    reporter.log(f"{tag}: {skip_note}")
    return TagOutput(result, preds, trained=False)


def record_tag(backend: Backend, files: RunFiles, tag: str, outcome: FoldOutcome, *,
               val_y: np.ndarray | None, val_ids: np.ndarray | None, test_ids: np.ndarray,
               extra: dict, head: Head = Head()) -> TagOutput:
    """Write a trained tag's predictions, then its result (`extra` keys and where it ran
    added), then drop its resume state; only the calling process writes."""
    preds = {"test_ids": np.asarray(test_ids), "test_pred": outcome.test_pred}
    result = outcome.result
    if outcome.val_pred is not None:
        result = result | fold_metrics(head.kind, head.metric, val_y, outcome.val_pred)
        preds |= {"val_ids": np.asarray(val_ids), "val_pred": outcome.val_pred}
    result = extra | result | {"where": outcome.where}
    with atomic.atomic_path(files.preds(tag)) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **preds)
    atomic.write_json(files.result(tag), result)
    backend.cleanup(files.dir, tag)
    return TagOutput(result, preds, trained=True)


def _read_finished(files: RunFiles, tag: str, reporter: Reporter, test_ids: np.ndarray,
                   val_ids: np.ndarray | None,
                   kind: str = "binary") -> tuple[dict, dict[str, np.ndarray]] | None:
    """A finished tag's result and predictions; None when it has not finished, or when
    either file is damaged (then the tag is trained again, and the user told so)."""
    if not (files.result(tag).exists() and files.preds(tag).exists()):
        return None
    try:
        result = json.loads(files.result(tag).read_bytes().decode("utf-8"))
        with np.load(files.preds(tag), allow_pickle=False) as npz:
            preds = {k: npz[k] for k in npz.files}
        _check_finished(tag, result, preds, test_ids, val_ids, kind)
    except (OSError, ValueError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        # JSONDecodeError and UnicodeDecodeError are ValueErrors
        reporter.log(f"{tag}: {files.result(tag).name} or {files.preds(tag).name} is damaged "
                     f"({str(exc)[:80] or type(exc).__name__}); training {tag} again")
        atomic.discard(files.result(tag))
        return None
    return result, preds


def _check_finished(tag: str, result: object, preds: dict[str, np.ndarray],
                    test_ids: np.ndarray, val_ids: np.ndarray | None,
                    kind: str = "binary") -> None:
    """A ValueError or TypeError unless the result is a complete record of the tag and the
    predictions are the task's (probabilities, a row per id and a column per class of a
    wide task; finite numbers for regression) for exactly the expected ids."""
    if not isinstance(result, dict) or any(k not in result for k in RESULT_KEYS):
        raise ValueError("incomplete result")
    if tag != FULL_TAG:
        FoldResult.from_dict(result)  # every field of its declared type
    expected = {"test": test_ids} | ({"val": val_ids} if val_ids is not None else {})
    for part, ids in expected.items():
        if f"{part}_pred" not in preds or f"{part}_ids" not in preds:
            raise ValueError(f"no {part} predictions")
        pred = preds[f"{part}_pred"]
        if preds[f"{part}_ids"].astype(str).tolist() != np.asarray(ids).astype(str).tolist():
            raise ValueError(f"{part} predictions for other images than this run's")
        in_range = kind == "regression" or np.all((pred >= 0) & (pred <= 1))
        if pred.ndim != (2 if kind in WIDE else 1) or len(pred) != len(ids) or \
                pred.dtype.kind != "f" or not np.all(np.isfinite(pred)) or not in_range:
            raise ValueError(f"{part} predictions are not {len(ids)} {kind} predictions")
