"""Pieces every command group shares: the workspace option and the error boundary."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from kfold.errors import KfError
from kfold.workspace import Workspace

# Piped or captured output gets wide tables instead of rich's 80-column default.
_WIDTH = None if sys.stdout.isatty() else 160
console = Console(width=_WIDTH)
err_console = Console(stderr=True, width=_WIDTH)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", envvar="KF_WORKSPACE",
                 help="Workspace folder (default: the current one)."),
]
RunOpt = Annotated[str, typer.Option("--run", "-r", help="Run name (a folder under models/).")]


def open_workspace(path: Path | None) -> Workspace:
    return Workspace.load(path)


def user_errors(fn: Callable) -> Callable:
    """Turn a KfError (a user's mistake) into one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KfError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            sys.exit(2)

    return wrapper
