"""JSON files kf wrote (run.json, config.json, submission sidecars), read back: a damaged one
is a `KfError` naming the file and the fix. It sits at the foundation so that the config and
the artifact readers below everything else share it."""

from __future__ import annotations

import json
from pathlib import Path

from kfold.errors import KfError


def read_json(path: Path, fix: str) -> dict:
    """A JSON object kf wrote. Truncated, not JSON or not an object: a KfError that names the
    file and `fix` (what the user does about it)."""
    try:
        raw = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        why = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
        raise KfError(f"{path} is damaged (not valid JSON: {why}); {fix}") from None
    except OSError as exc:  # a folder, a symlink loop, a file kf may not read
        raise unreadable(path, exc, fix) from None
    if not isinstance(raw, dict):
        raise KfError(f"{path} is damaged (not a JSON object); {fix}")
    return raw


def unreadable(path: Path, exc: OSError, fix: str) -> KfError:
    """A KfError for a file kf wrote that cannot be opened (a folder in its place, a symlink
    loop, no permission): `fix` says how to rebuild it."""
    return KfError(f"{path} cannot be read ({exc.strerror or exc}); {fix}")
