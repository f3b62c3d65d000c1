"""The decoded cache: every image decoded once, preprocessed, resized, stored as uint8.

Keyed by the files' signature (id, size, mtime), the preprocessing and the size, so any
change to an input file, the crop/threshold or the size builds a new entry; every fold,
epoch and later run with the same key reuses it.

An entry is two files: `<split>-<key>.npy`, the (N, size, size) images, opened memory-mapped
(read-only), so a cache larger than RAM still trains: folds index it without copying and
only the pages a batch touches are read; and `<split>-<key>.meta.npz` (ids, original sizes,
undecodable files), written last, so a half-built entry is never taken for a finished one.
The images are decoded straight into the memory-mapped file, so building needs no RAM for
the whole split either.
"""

from __future__ import annotations

import errno
import hashlib
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from kfold.atomic import atomic_path, discard, free_bytes, write_error
from kfold.data.preprocess import Preprocess
from kfold.data.sources import file_signature
from kfold.errors import KfError
from kfold.progress import Reporter


@dataclass(frozen=True)
class Decoded:
    """Images of one split: `images` (N, size, size) uint8 (memory-mapped, read-only, when
    it comes from the cache), original (h, w) per image, and the ids whose files could not
    be decoded (their rows are zeros)."""

    ids: np.ndarray
    images: np.ndarray
    orig_hw: np.ndarray
    bad: dict[str, str]


def decode(path: str) -> np.ndarray:
    """Read one image as uint8 grayscale; truncated or corrupt files raise."""
    with Image.open(path) as im:
        im.load()
        return to_gray8(im)


WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def to_gray8(im: Image.Image) -> np.ndarray:
    """uint8 grayscale pixels of `im`, scaled by the range its values really use.

    PIL's own conversion clips 16-bit and 32-bit values to 255 (a white image) and maps a
    float image in [0, 1] to 0 and 1 (a black one). Whole numbers are scaled by the smallest
    bit depth holding the image (8, 10, 12, 14 or 16 bits: a 12-bit sensor's 0..4095 stored in
    a 16-bit PNG spans the whole range); floats in [0, 1] by 255; anything else (negative or
    larger floats) by its own minimum and maximum.
    """
    if im.mode not in WIDE_MODES:
        return np.asarray(im.convert("L"))
    a = np.asarray(im).astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{im.mode} image holds NaN or infinite values")
    lo, hi = float(a.min()), float(a.max())
    if im.mode != "F" and lo >= 0:
        bits = next((b for b in (8, 10, 12, 14, 16) if hi < 2**b), 32)
        scaled = a * (255.0 / (2**bits - 1))
    elif im.mode == "F" and lo >= 0 and hi <= 1:
        scaled = a * 255.0
    else:
        scaled = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


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
    stem = Path(cache_dir) / f"{split}-{cache_key(frame, prep, size)}"
    images_path, meta_path = stem.with_suffix(".npy"), stem.with_suffix(".meta.npz")
    if meta_path.exists() and images_path.exists():
        try:
            return _checked(open_cached(images_path, meta_path), frame, size)
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            reporter.log(f"the decoded cache {images_path.name} is damaged "
                         f"({type(exc).__name__}); rebuilding it")
            discard(images_path)
            discard(meta_path)
    _build(frame, prep, size, split, images_path, meta_path, reporter)
    return open_cached(images_path, meta_path)


def _checked(decoded: Decoded, frame: pd.DataFrame, size: int) -> Decoded:
    """`decoded` if it holds `frame`'s images at `size` px; a damaged entry raises."""
    if (decoded.images.shape != (len(frame), size, size) or len(decoded.ids) != len(frame)
            or decoded.images.dtype != np.uint8
            or list(decoded.ids) != frame["id"].astype(str).tolist()):
        raise ValueError("entry does not match the images it is keyed by")
    return decoded


def open_cached(images_path: Path, meta_path: Path) -> Decoded:
    """A finished cache entry, its images memory-mapped (nothing read until used)."""
    with np.load(meta_path, allow_pickle=False) as z:
        bad = dict(zip(z["bad_ids"].tolist(), z["bad_errors"].tolist()))
        ids, orig_hw = z["ids"], z["orig_hw"]
    return Decoded(ids, np.load(images_path, mmap_mode="r"), orig_hw, bad)


def _build(frame: pd.DataFrame, prep: Preprocess, size: int, split: str, images_path: Path,
           meta_path: Path, reporter: Reporter) -> None:
    needed = len(frame) * size * size + (1 << 20)
    if free_bytes(images_path.parent) < needed:  # a memory map on a full disk dies (SIGBUS)
        raise write_error(OSError(errno.ENOSPC, "no space left"), images_path, needed)
    with atomic_path(images_path, size_hint=needed) as tmp:
        images = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8,
                                           shape=(len(frame), size, size))
        orig_hw, bad = _decode_into(images, frame, prep, size, split, reporter)
        images.flush()
        del images  # unmapped before the rename
    write_meta(meta_path, frame["id"].to_numpy(dtype=str), orig_hw, bad)


def _decode_into(images: np.ndarray, frame: pd.DataFrame, prep: Preprocess, size: int,
                 split: str, reporter: Reporter) -> tuple[np.ndarray, dict[str, str]]:
    """Decode every file of `frame` into `images`; return original sizes and failures."""
    n = len(frame)
    orig_hw = np.zeros((n, 2), dtype=np.int32)
    bad: dict[str, str] = {}

    def work(i: int) -> None:
        try:
            img = decode(frame["path"].iat[i])
        except Exception as exc:  # PIL raises many types for broken files
            bad[frame["id"].iat[i]] = f"{type(exc).__name__}: {exc}"
            return
        orig_hw[i] = img.shape
        images[i] = prep.apply(img, size)  # a crop too large for the image: the whole run stops

    workers = min(8, os.cpu_count() or 1)
    with reporter.task(f"decoding {split} images", n) as bar, ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(work, range(n)):
            bar.advance()
    return orig_hw, bad


def write_meta(path: Path, ids: np.ndarray, orig_hw: np.ndarray, bad: dict[str, str]) -> None:
    """The entry's small side file; written last, it marks the entry finished."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, ids=ids, orig_hw=orig_hw, bad_ids=np.array(list(bad), dtype=str),
                 bad_errors=np.array(list(bad.values()), dtype=str))


def refuse_bad(decoded: Decoded, frame: pd.DataFrame, split: str) -> None:
    """Raise a KfError listing undecodable files (the caller passes --skip-bad to drop them)."""
    if decoded.bad:
        paths = frame.set_index("id").loc[list(decoded.bad), "path"].tolist()
        first = "; ".join(f"{p} ({decoded.bad[i]})" for i, p in zip(decoded.bad, paths[:3]))
        raise KfError(
            f"{len(decoded.bad)} unreadable {split} image(s): {first}; "
            "fix or remove them, or pass --skip-bad to leave them out"
        )
