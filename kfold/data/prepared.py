"""Training and test images ready for a model: decoded (through the cache), checked, aligned."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kfold.data.cache import Decoded, load_decoded, refuse_bad
from kfold.data.preprocess import Preprocess
from kfold.data.sources import Dataset, discover
from kfold.data.task import model_targets
from kfold.progress import Reporter
from kfold.workspace import Workspace


@dataclass(frozen=True)
class Prepared:
    dataset: Dataset
    train: Decoded
    test: Decoded
    train_targets: np.ndarray
    skipped: dict[str, str]

    @property
    def usable(self) -> np.ndarray:
        """Mask of training rows that decoded (all of them unless --skip-bad dropped some)."""
        return ~np.isin(self.train.ids, list(self.skipped))

    def test_predictions(self, pred: np.ndarray, columns: list[str] | None = None) -> pd.DataFrame:
        """id and the prediction column(s) (`columns`, default `pred`) of the test images;
        undecodable ones (--skip-bad) get the training prevalence (of each class), the best
        constant guess, so the submission stays complete."""
        pred = np.asarray(pred, dtype=float)
        columns = columns or ["pred"]
        frame = pd.DataFrame(pred.reshape(len(pred), -1), columns=columns)
        frame.insert(0, "id", self.test.ids)
        frame.loc[frame["id"].isin(list(self.test.bad)), columns] = self.prevalence()
        return frame

    def prevalence(self) -> np.ndarray:
        """The training targets' mean (per class of a multi-class task)."""
        y = self.train_targets
        if self.dataset.task.kind == "multiclass":
            return np.bincount(y, minlength=len(self.dataset.task.classes)) / max(len(y), 1)
        return np.atleast_1d(y.mean(axis=0))


def prepare(ws: Workspace, prep: Preprocess, size: int, *, skip_bad: bool = False,
            reporter: Reporter = Reporter(), dataset: Dataset | None = None) -> Prepared:
    """Decode (or load from the cache) every train and test image at `size` px.

    `dataset`: the sources a command already found (discovering scans and stats every image
    file, so a command does it once); found here when not given. Unreadable files stop here
    with a list, unless `skip_bad`, which leaves them out and says how many.
    """
    dataset = dataset or discover(ws)
    if dataset.skipped:
        reporter.log(f"left out {len(dataset.skipped)} entr(ies) that are not image files "
                     f"(first: {_first_skipped(dataset.skipped)})")
    train = load_decoded(dataset.train, prep, size, ws.cache_dir, "train", reporter)
    test = load_decoded(dataset.test, prep, size, ws.cache_dir, "test", reporter)
    if not skip_bad:
        refuse_bad(train, dataset.train, "training")
        refuse_bad(test, dataset.test, "test")
    skipped = {**train.bad, **test.bad}
    if skipped:
        reporter.log(f"--skip-bad: leaving out {len(train.bad)} training and "
                     f"{len(test.bad)} test image(s) that could not be decoded")
    return Prepared(dataset, train, test, model_targets(dataset.task, dataset.train["target"]),
                    skipped)


def _first_skipped(skipped: dict[str, str]) -> str:
    path, why = next(iter(skipped.items()))
    return f"{path}: {why}"



class Rows:
    """Rows `index` of `base` (a memory-mapped cache) without copying them: a fold's images.

    Batches read their rows when they need them (`take`), so a fold costs no memory beyond
    the pages read; `np.asarray(rows)` copies them out for code that wants an array.
    """

    def __init__(self, base: np.ndarray, index: np.ndarray) -> None:
        self.base, self.index = base, np.asarray(index, dtype=np.int64)
        self.dtype = base.dtype
        self.shape = (len(self.index), *base.shape[1:])
        self.nbytes = int(np.prod(self.shape)) * base.itemsize

    def __len__(self) -> int:
        return len(self.index)

    def take(self, idx: np.ndarray) -> np.ndarray:
        """Rows `idx` of the fold (positions in it), read in one gather."""
        return self.base[self.index[np.asarray(idx)]]

    def __getitem__(self, idx) -> np.ndarray:
        return self.base[self.index[idx]]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self.base[self.index]
        return out if dtype is None else out.astype(dtype)


class JoinedRows(Rows):
    """Rows of several arrays one after another (a fold's training images, then the test
    images it learns pseudo-labels of), read like one `Rows` without copying any."""

    def __init__(self, parts: list[Rows]) -> None:
        self.parts = parts
        self.starts = np.cumsum([0] + [len(p) for p in parts])
        self.dtype = parts[0].dtype
        self.shape = (int(self.starts[-1]), *parts[0].shape[1:])
        self.nbytes = sum(p.nbytes for p in parts)

    def __len__(self) -> int:
        return self.shape[0]

    def take(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx, dtype=np.int64)
        part = np.searchsorted(self.starts, idx, side="right") - 1
        out = np.empty((len(idx), *self.shape[1:]), dtype=self.dtype)
        for i, rows in enumerate(self.parts):
            here = part == i
            if here.any():
                out[here] = rows.take(idx[here] - self.starts[i])
        return out

    def __getitem__(self, idx) -> np.ndarray:
        picked = np.arange(len(self))[idx]
        out = self.take(np.atleast_1d(picked))
        return out[0] if np.ndim(picked) == 0 else out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = np.concatenate([np.asarray(p) for p in self.parts])
        return out if dtype is None else out.astype(dtype)
