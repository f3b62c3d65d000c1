"""A per-run lock: two `kf train` (or retrain) processes on one run would both do the whole
work and trip over each other's resume files; the second one refuses with a clear line.

The lock is a file created exclusively, holding the owner's pid and host. A lock whose owner
on this host is gone (killed with -9, machine rebooted) is stale and taken over.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kfold import atomic
from kfold.errors import KfError
from kfold.progress import Reporter


@contextmanager
def hold(path: Path, what: str, reporter: Reporter = Reporter()) -> Iterator[None]:
    """Hold the lock at `path` for `what` (e.g. "run 'r1'") for the duration of the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir() and not path.is_symlink():
        raise KfError(f"{path} is a folder where kf keeps the lock file of {what}; remove it "
                      "and run the command again")
    fd = _create(path)
    if fd is None:
        owner = _owner(path)
        if owner is not None and _alive(*owner):
            pid, host = owner
            raise KfError(f"{what} is in use by kf process {pid} on {host} (lock file {path}); "
                          "wait for it to finish, or stop it first")
        path.unlink(missing_ok=True)
        reporter.log(f"removed a stale lock of {what} ({path}: its process is gone)")
        fd = _create(path)
        if fd is None:
            raise KfError(f"{what} was just locked by another kf process ({path}); try again")
    owner = f"{os.getpid()}\n{socket.gethostname()}\n".encode()
    try:
        os.write(fd, owner)
    except OSError as exc:  # a full disk can create the file but not fill it
        path.unlink(missing_ok=True)
        raise atomic.write_error(exc, path) from None
    finally:
        os.close(fd)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _create(path: Path) -> int | None:
    try:
        return os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return None
    except OSError as exc:  # a read-only or full disk
        raise atomic.write_error(exc, path) from None


def _owner(path: Path) -> tuple[int, str] | None:
    """(pid, host) of the lock's owner; None when the file is unreadable or garbled."""
    try:
        pid, host = path.read_text().split()[:2]
        return int(pid), host
    except (OSError, ValueError):
        return None


def _alive(pid: int, host: str) -> bool:
    """Whether the owner may still run: always on another host (its pid means nothing here)."""
    return host != socket.gethostname() or pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """Whether process `pid` of this machine still runs (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
