"""Which class a heatmap explains: the defect (a binary run), or for a multi-class run each
image's predicted class by default, or the class `--class NAME` names.

The rest of `kf explain` reads OOF rows as a binary run's: `target` 1 where the explained
class is the image's true class, `pred` the explained class's probability. So the grid's
TP/FP/FN mix and its `p=` are about that class: with the predicted class, TP is a right and
confident prediction, FP a confident wrong one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kfold import artifacts
from kfold.errors import KfError
from kfold.record import RunRecord

EXPLAINED = ("binary", "multiclass")  # the tasks kf explain knows how to target


def check_class(meta: RunRecord, name: str | None) -> int | None:
    """`--class NAME`'s index among the run's classes (None: not given); a run that is not
    multi-class, or a name that is not one of its classes, is one error listing them."""
    if meta.task not in EXPLAINED:
        raise KfError(f"kf explain explains binary and multi-class runs; {meta.name!r} is a "
                      f"{meta.task} run")
    if name is None:
        return None
    if meta.task != "multiclass":
        raise KfError(f"--class needs a multi-class run; {meta.name!r} is a binary run, whose "
                      "heatmaps explain its defect score")
    if name not in meta.classes:
        raise KfError(f"--class {name!r} is not a class of run {meta.name!r}; its classes: "
                      f"{', '.join(meta.classes)}")
    return meta.classes.index(name)


def explained_rows(oof: pd.DataFrame, meta: RunRecord,
                   index: int | None) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The OOF rows as kf explain reads them (module docstring) and each row's explained
    class index; a binary run's rows as they are, and None (the defect logit)."""
    if meta.task == "binary":
        return oof, None
    probs = oof[artifacts.pred_columns(meta.task, meta.classes)].to_numpy(dtype=float)
    explained = probs.argmax(axis=1) if index is None else np.full(len(oof), index)
    view = oof[["id", "fold"]].assign(
        target=(oof["target"].to_numpy() == explained).astype(int),
        pred=probs[np.arange(len(oof)), explained],
        explained=np.asarray(meta.classes, dtype=object)[explained])
    return view, explained
