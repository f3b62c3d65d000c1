"""Train one tag of a run, or take it as finished: the resume step shared by the k-fold run
(tags `fold0`, `fold1`, ...) and the retrain (tag `full`).

A tag is finished when `<tag>.preds.npz` and then `<tag>.result.json` (written last) exist;
a rerun reuses them. Otherwise the backend trains it, continuing from its own resume state
if an earlier call was interrupted; that state is removed (`Backend.cleanup`) only after
the predictions and the result are safely written.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from collections.abc import Callable

import numpy as np

from kfold import atomic
from kfold.artifacts import WIDE
from kfold.backends import Backend, Head
from kfold.errors import first_line
from kfold.progress import Reporter
from kfold.record import FoldResult
from kfold.runfiles import FULL_TAG, RunFiles
from kfold.scoring import fold_metrics


def finished_tag(files: RunFiles, tag: str, reporter: Reporter, *, skip_note: str,
                 test_ids: np.ndarray, val_ids: np.ndarray | None = None,
                 accept: Callable[[FoldResult], None] = lambda result: None,
                 kind: str = "binary") -> FoldResult | None:
    """The tag's result with its predictions when an earlier call finished it (`accept` may
    refuse the old result with a KfError; `skip_note` is logged), else None: an executor
    trains it. Predictions for other ids than `test_ids` (and `val_ids`, the tag's
    validation images) count as damaged."""
    result = _read_finished(files, tag, reporter, test_ids, val_ids, kind)
    if result is None:
        return None
    accept(result)
    reporter.log(f"{tag}: {skip_note}")
    return result


def record_tag(backend: Backend, files: RunFiles, tag: str, result: FoldResult, *,
               val_y: np.ndarray | None, val_ids: np.ndarray | None, test_ids: np.ndarray,
               head: Head = Head()) -> FoldResult:
    """Score a trained tag's validation predictions, write its predictions, then its result,
    then drop its resume state; only the calling process writes. Returns the scored result."""
    preds = {"test_ids": np.asarray(test_ids), "test_pred": result.test_pred}
    if result.val_pred is not None:
        result = dataclasses.replace(
            result, **fold_metrics(head.kind, head.metric, val_y, result.val_pred))
        preds |= {"val_ids": np.asarray(val_ids), "val_pred": result.val_pred}
    with atomic.atomic_path(files.preds(tag)) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **preds)
    atomic.write_json(files.result(tag), result.to_dict())
    backend.cleanup(files.dir, tag)
    return result


def _read_finished(files: RunFiles, tag: str, reporter: Reporter, test_ids: np.ndarray,
                   val_ids: np.ndarray | None, kind: str = "binary") -> FoldResult | None:
    """A finished tag's result and predictions; None when it has not finished, or when
    either file is damaged (then the tag is trained again, and the user told so)."""
    if not (files.result(tag).exists() and files.preds(tag).exists()):
        return None
    try:
        result = FoldResult.from_dict(json.loads(files.result(tag).read_bytes().decode("utf-8")))
        if tag != FULL_TAG:
            result.of_fold()
        with np.load(files.preds(tag), allow_pickle=False) as npz:
            preds = {k: npz[k] for k in npz.files}
        _check_preds(preds, test_ids, val_ids, kind)
    except (OSError, ValueError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        # JSONDecodeError and UnicodeDecodeError are ValueErrors; a result of the wrong
        # shape or types is a TypeError
        reporter.log(f"{tag}: {files.result(tag).name} or {files.preds(tag).name} is damaged "
                     f"({first_line(exc, 80)}); training {tag} again")
        atomic.discard(files.result(tag))
        return None
    result.val_pred, result.test_pred = preds.get("val_pred"), preds["test_pred"]
    return result


def _check_preds(preds: dict[str, np.ndarray], test_ids: np.ndarray,
                 val_ids: np.ndarray | None, kind: str = "binary") -> None:
    """A ValueError unless the predictions are the task's (probabilities, a row per id and
    a column per class of a wide task; finite numbers for regression) for exactly the
    expected ids."""
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
