"""Atomic file writes: write beside the target, fsync, then rename over it.

An interrupted write leaves either the old file or the new one, never half of either (and a
stray `.<name>.*.tmp` that the next run removes: `remove_stray`). A full disk or a
read-only folder is a KfError naming the file, the space needed and the space free.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from kfold.errors import KfError


def _default_mode() -> int:
    """Mode a plain `open(path, "w")` would give (mkstemp's temp files are 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_MODE = _default_mode()


NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


def check_output_file(option: str, path: str | Path, suffix: str) -> Path:
    """Refuse an output `path` given by `option` that is not a `suffix` file name kf can
    create, before any work (a folder, a typo or a file in a folder's place)."""
    path = Path(path)
    if path.is_dir():
        raise KfError(f"{option} {path}: it is a folder; give a {suffix} file name")
    if path.suffix.lower() != suffix:
        raise KfError(f"{option} {path}: give a {suffix} file name")
    blocking = _file_in_a_folders_place(path)
    if blocking is not None:
        raise KfError(f"{option} {path}: {blocking} is a file, not a folder; choose another path")
    return path


def _file_in_a_folders_place(path: Path) -> Path | None:
    """The first of `path`'s parents that exists but is a file (no file can be made below)."""
    return next((p for p in path.parents if p.exists() and not p.is_dir()), None)


@contextmanager
def atomic_path(path: str | Path, size_hint: int | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto `path` on success.
    `size_hint` (bytes) is what the message of a full disk says the file needs."""
    path = Path(path)
    tmp_path = None
    new_folder = not path.parent.exists()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp_path = Path(tmp)
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, _MODE)
        os.replace(tmp_path, path)
    except OSError as exc:
        if exc.errno == errno.EISDIR or (tmp_path is None and exc.errno not in NO_SPACE):
            raise _unwritable_path(exc, path) from None
        written = tmp_path.stat().st_size if tmp_path and tmp_path.exists() else 0
        if tmp_path is not None:
            tmp_path.unlink(missing_ok=True)
        if new_folder and path.parent.is_dir() and not any(path.parent.iterdir()):
            path.parent.rmdir()  # a failed write leaves no empty folder behind
        raise write_error(exc, path, size_hint or written) from None
    finally:
        if tmp_path is not None:
            tmp_path.unlink(missing_ok=True)


def _unwritable_path(exc: OSError, path: Path) -> KfError:
    """The target itself is wrong (a folder, a parent that is a file, a folder where no file
    can be made): the user named a path kf cannot write, whatever the errno."""
    if exc.errno == errno.EISDIR or path.is_dir():
        return KfError(f"cannot write {path}: it is a folder; give a file name")
    blocking = _file_in_a_folders_place(path)
    if blocking is not None:
        return KfError(f"cannot write {path}: {blocking} is a file, not a folder; choose "
                       f"another path")
    return KfError(f"cannot write {path}: {exc.strerror or exc}; choose another path (or make "
                   f"its folder writable)")


def write_error(exc: OSError, path: Path, needed: int = 0) -> Exception:
    """A KfError for a full disk or a folder kf may not write to; other errors unchanged."""
    if exc.errno in NO_SPACE:
        free = free_bytes(path.parent)
        need = f"it needs about {_size(needed)} more; " if needed else ""
        return KfError(f"no space left to write {path} ({need}{_size(free)} free on that "
                       "disk); the existing files are intact: free some space and run the "
                       "command again")
    if exc.errno in NOT_WRITABLE:
        return KfError(f"cannot write {exc.filename or path}: {exc.strerror}; make the "
                       "workspace writable (or use a copy) and run the command again")
    return exc


def free_bytes(folder: Path) -> int:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 0


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def remove_stray(folder: Path, names: list[str] | None = None) -> list[Path]:
    """Remove temp files a killed write left in `folder` (all, or those of `names`); call it
    only while no other process can be writing them (under the run's lock)."""
    if not folder.is_dir():
        return []
    patterns = [f".{n}.*.tmp" for n in names] if names is not None else [".*.tmp"]
    gone = [p for pat in patterns for p in folder.glob(pat) if p.is_file()]
    for p in gone:
        p.unlink(missing_ok=True)
    return gone


def discard(path: Path) -> None:
    """Remove a damaged file kf will rebuild, whatever stands in its place (a folder, a
    symlink loop)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path, size_hint=len(data)) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode())


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def write_parquet(path: str | Path, df: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def write_csv(path: str | Path, df: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes, read in 1 MiB blocks (weights files can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
