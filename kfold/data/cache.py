"""The decoded cache: every image decoded once, preprocessed, resized, stored as uint8.

Keyed by the files' signature (id, size, mtime), the preprocessing and the size, so any
change to an input file, the crop/threshold or the size builds a new entry; every fold,
epoch and later run with the same key reuses it.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from kfold.atomic import atomic_path
from kfold.data.preprocess import Preprocess
from kfold.data.sources import file_signature
from kfold.errors import KfError
from kfold.progress import Reporter


@dataclass(frozen=True)
class Decoded:
    """Images of one split: `images` (N, size, size) uint8, original (h, w) per image,
    and the ids whose files could not be decoded (their rows are zeros)."""

    ids: np.ndarray
    images: np.ndarray
    orig_hw: np.ndarray
    bad: dict[str, str]


def decode(path: str) -> np.ndarray:
    """Read one image as uint8 grayscale; truncated or corrupt files raise."""
    with Image.open(path) as im:
        im.load()
        return np.asarray(im.convert("L"))


def cache_key(frame: pd.DataFrame, prep: Preprocess, size: int) -> str:
    text = f"{file_signature(frame)}|{prep.key}|{size}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_decoded(
    frame: pd.DataFrame,
    prep: Preprocess,
    size: int,
    cache_dir: Path,
    split: str,
    reporter: Reporter = Reporter(),
) -> Decoded:
    """Decoded images of `frame` (columns id, path), from the cache or built into it."""
    path = Path(cache_dir) / f"{split}-{cache_key(frame, prep, size)}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            bad = dict(zip(z["bad_ids"].tolist(), z["bad_errors"].tolist()))
            return Decoded(z["ids"], z["images"], z["orig_hw"], bad)
    decoded = _build(frame, prep, size, split, reporter)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, ids=decoded.ids, images=decoded.images, orig_hw=decoded.orig_hw,
                 bad_ids=np.array(list(decoded.bad), dtype=str),
                 bad_errors=np.array(list(decoded.bad.values()), dtype=str))
    return decoded


def _build(frame: pd.DataFrame, prep: Preprocess, size: int, split: str,
           reporter: Reporter) -> Decoded:
    n = len(frame)
    images = np.zeros((n, size, size), dtype=np.uint8)
    orig_hw = np.zeros((n, 2), dtype=np.int32)
    bad: dict[str, str] = {}

    def work(i: int) -> None:
        try:
            img = decode(frame["path"].iat[i])
        except Exception as exc:  # PIL raises many types for broken files
            bad[frame["id"].iat[i]] = f"{type(exc).__name__}: {exc}"
            return
        orig_hw[i] = img.shape
        try:
            images[i] = prep.apply(img, size)
        except KfError as exc:
            bad[frame["id"].iat[i]] = str(exc)

    workers = min(8, os.cpu_count() or 1)
    with reporter.task(f"decoding {split} images", n) as bar, ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(work, range(n)):
            bar.advance()
    return Decoded(frame["id"].to_numpy(dtype=str), images, orig_hw, bad)


def refuse_bad(decoded: Decoded, frame: pd.DataFrame, split: str) -> None:
    """Raise a KfError listing undecodable files (the caller passes --skip-bad to drop them)."""
    if decoded.bad:
        paths = frame.set_index("id").loc[list(decoded.bad), "path"].tolist()
        first = "; ".join(f"{p} ({decoded.bad[i]})" for i, p in zip(decoded.bad, paths[:3]))
        raise KfError(
            f"{len(decoded.bad)} unreadable {split} image(s): {first}; "
            "fix or remove them, or pass --skip-bad to leave them out"
        )
