"""The bad-input table's helper: break a workspace, run one kf command, and check that it was
refused with one `error:` line naming the problem, exit code 2, no traceback, and that no file
that existed before changed and no new file or folder (a run folder, an OOF file) appeared.

A row reads as a specification:

    BadInput("folds-zero", ["train", "--folds", "0"], "--folds must be at least 2")
    BadInput("corrupt-run-json", ["retrain", "--run", "r1"], "run.json", damage=truncate_run_json)

`check(row, ws)` runs it; `run_kf` and `snapshot` are there for rows that need more.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from typer.testing import CliRunner, Result

from kfold.cli import app
from kfold.workspace import Workspace

Damage = Callable[[Workspace], None]


@dataclass(frozen=True)
class BadInput:
    """One row: an id, the command (without --workspace), the expected message fragment, how
    to break the workspace first, extra environment variables, and paths (globs relative to
    the workspace) the command may legitimately write (e.g. a rebuilt cache)."""

    id: str
    args: Sequence[str]
    expect: str
    damage: Damage | None = None
    env: dict[str, str] = field(default_factory=dict)
    may_write: Sequence[str] = ()
    workspace_option: bool = True  # False: the row passes its own --workspace (or none)
    code: int = 2
    patches: Sequence[tuple[str, object]] = ()  # (dotted target, value) set for the command

    def __str__(self) -> str:  # pytest ids
        return self.id


def snapshot(root: Path) -> dict[str, str | None]:
    """Every file (its content hash) and folder (None) under `root`, by relative path;
    symlinks are recorded by their target, never followed."""
    found: dict[str, str | None] = {}
    if not root.exists():
        return found
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[rel] = f"-> {path.readlink()}"
        elif path.is_dir():
            found[rel] = None
        else:
            try:
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError as exc:  # an unreadable file is still there, unchanged
                found[rel] = f"unreadable: {exc.errno}"
    return found


def changes(before: dict, after: dict, may_write: Sequence[str] = ()) -> list[str]:
    """What differs between two snapshots, except paths matching `may_write`."""
    out = []
    for rel in sorted(set(before) | set(after)):
        if any(fnmatch.fnmatch(rel, pat) for pat in may_write):
            continue
        if rel not in after:
            out.append(f"removed {rel}")
        elif rel not in before:
            out.append(f"new {rel}")
        elif before[rel] != after[rel]:
            out.append(f"changed {rel}")
    return out


def raising(code: int, what: str = "") -> Callable[..., None]:
    """A stand-in for a filesystem call that fails with errno `code` (full disk: ENOSPC;
    read-only: EROFS); root ignores permission bits, so tests simulate them this way."""

    def fail(*args, **kwargs) -> None:
        raise OSError(code, os.strerror(code), what or None)

    return fail


def run_kf(args: Sequence[str], ws: Workspace | None = None,
           env: dict[str, str] | None = None) -> Result:
    """Run kf in-process (the same root command and error boundary as the `kf` script)."""
    argv = [*args, *(["--workspace", str(ws.root)] if ws is not None else [])]
    return CliRunner().invoke(app, argv, env=env)


def assert_one_line_error(result: Result, fragment: str, code: int = 2) -> None:
    """Refused the way the README promises: exit `code`, stderr is one `error:` line that
    holds `fragment`, and no traceback anywhere."""
    shown = f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__} escaped:\n{shown}")
    assert "Traceback" not in result.output, shown
    assert result.exit_code == code, shown
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], shown  # notes may come before it
    assert fragment in errors[0], shown


def check(row: BadInput, ws: Workspace, monkeypatch=None) -> Result:
    """Break `ws` as the row says, run its command, and assert the refusal left every file
    as it was. `{ws}` in the row's arguments and environment is the workspace's path; rows
    with `patches` need pytest's `monkeypatch`."""
    if row.damage is not None:
        row.damage(ws)
    before = snapshot(ws.root)
    args = [a.replace("{ws}", str(ws.root)) for a in row.args]
    env = {k: v.replace("{ws}", str(ws.root)) for k, v in row.env.items()}
    for target, value in row.patches:
        monkeypatch.setattr(target, value)
    result = run_kf(args, ws if row.workspace_option else None, env=env or None)
    assert_one_line_error(result, row.expect, row.code)
    changed = changes(before, snapshot(ws.root), row.may_write)
    assert changed == [], changed
    return result
