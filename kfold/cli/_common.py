"""What every command module shares: the consoles, the common options and the one error
boundary. Command modules import only this module of the CLI, never each other."""

from __future__ import annotations

import sys
import tempfile
import traceback
from datetime import datetime
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from kfold.atomic import NO_SPACE, NOT_WRITABLE, write_error
from kfold.errors import KfError, first_line
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
CompetitionOpt = Annotated[
    str | None,
    typer.Option("--competition", "-c", help="Competition slug (default: kfold.toml)."),
]
def _lower(value: str) -> str:
    """--format JSON is --format json: a format name's case says nothing."""
    return value.lower()


FormatOpt = Annotated[
    str,
    typer.Option("--format", callback=_lower,
                 help="table (default), or json / csv on stdout for scripts and notebooks "
                      "(any case)."),
]


SkipBadOpt = Annotated[bool, typer.Option(help="Leave out unreadable images instead of stopping.")]


def open_training(workspace: Path | None, executor: dict):
    """The workspace and the executor a training command (train, grid, retrain, tune) runs
    on (executor options first: a wrong one is refused before the workspace is touched)."""
    from kfold.execute import make_executor

    ex = make_executor(**executor)
    return open_workspace(workspace), ex


def open_workspace(path: Path | None, create: bool = False) -> Workspace:
    """The workspace a command works in; only commands that make one (`create`) accept a
    folder that does not exist yet."""
    return Workspace.load(path, must_exist=not create)


def check_format(fmt: str) -> str:
    from kfold.views import check_format

    return check_format(fmt)


def emit(data: object, fmt: str, columns: tuple[str, ...] = ()) -> None:
    """Write `data` to stdout as JSON or CSV, nothing else on stdout (notes go to stderr);
    `columns`: the CSV header even when there are no rows."""
    from kfold.views import dumps

    sys.stdout.write(dumps(data, fmt, columns))
    sys.stdout.flush()


def terminal_width() -> int | None:
    """The width a table must fit: the terminal's; None when output is piped (no limit)."""
    return console.width if console.is_terminal else None


def print_full(renderable) -> None:
    """Print on the terminal as is; piped, as wide as the renderable is (a table is never cut
    at an assumed width: scripts and files take long lines)."""
    if console.is_terminal:
        console.print(renderable)
        return
    from rich.measure import Measurement

    width = Measurement.get(console, console.options.update(max_width=100_000),
                            renderable).maximum
    Console(width=max(width, 80)).print(renderable)


def say(label: str, style: str, message: str) -> None:
    """One line on stderr: a styled label, then the message as plain text (user data such as
    `[nan]` or a file name with brackets is never read as rich markup)."""
    line = Text(f"{label}: ", style=style)
    line.append(message)
    err_console.print(line, highlight=False, soft_wrap=True)


def warn_credentials() -> None:
    """Warn (stderr) when kaggle.json is readable by others; missing credentials are left to
    the command, which fails with how to set them."""
    from kfold.kaggle.client import check_credentials

    try:
        _, warnings = check_credentials()
    except KfError:
        return
    for w in warnings:
        say("warning", "yellow", w)


def crash_report(exc: BaseException) -> Path:
    """Write the full traceback of an unexpected exception to a file and return its path (the
    temp folder: the workspace may be the very thing that is broken)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    fd, name = tempfile.mkstemp(prefix=f"kf-crash-{stamp}-", suffix=".txt")
    with open(fd, "w", encoding="utf-8") as fh:
        fh.write(f"kf {' '.join(sys.argv[1:])}\n\n")
        fh.write("".join(traceback.format_exception(exc)))
    return Path(name)


def show_version(value: bool) -> None:
    """`kf --version`: print the package version and stop."""
    if value:
        from kfold import __version__

        console.print(f"kf {__version__}", highlight=False)
        raise typer.Exit()


class BoundaryGroup(TyperGroup):
    """The root command. Its `invoke` is the CLI's one error boundary, so `kf`, `python -m
    kfold` and typer's test runner all get it: a KfError (a user's mistake) becomes one
    `error:` line and exit code 2; any other exception (a bug) one line naming a file that
    holds the full traceback, and exit code 1."""

    def make_context(self, info_name, args, parent=None, **extra):
        """The root's own options (`kf --bogus`) are parsed here, before `invoke`."""
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except typer._click.exceptions.NoArgsIsHelpError:
            raise  # `kf` alone: the help
        except _USAGE_ERRORS as exc:
            raise typer.Exit(usage_error(exc)) from None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except typer._click.exceptions.NoArgsIsHelpError:
            raise  # `kf submission` alone: its help, as click prints it
        except _USAGE_ERRORS as exc:  # a bad option value, an unknown option or command
            ctx.exit(usage_error(exc))
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException,
                typer.Exit, typer.Abort, typer.TyperException):
            raise  # typer 0.29 vendors click: a subcommand's --help exits with typer.Exit
        except Exception as exc:  # noqa: BLE001 - the boundary
            ctx.exit(report(exc))


_USAGE_ERRORS = (click.exceptions.UsageError, typer._click.exceptions.UsageError)


def usage_error(exc) -> int:
    """One `error:` line for a command line click cannot parse (`--n abc`), naming the
    command's --help, and exit code 2 (click's own answer is a multi-line box)."""
    where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
    say("error", "bold red", " ".join(exc.format_message().split()) + where)
    return 2


def report(exc: Exception) -> int:
    """Print one line for `exc` and return the exit code: 2 for a user's mistake (a KfError,
    a full disk, a folder kf may not write), 1 for a bug (with its traceback in a file)."""
    if isinstance(exc, OSError) and exc.errno in NO_SPACE + NOT_WRITABLE:
        exc = write_error(exc, Path(exc.filename or "."))
    if isinstance(exc, KfError):
        say("error", "bold red", str(exc))
        return 2
    first = first_line(exc)
    try:
        where = f"full traceback in {crash_report(exc)}"
    except OSError:
        where = "no traceback file: the temp folder is not writable"
    say("error", "bold red", f"unexpected {type(exc).__name__}: {first} (a bug in kf; {where})")
    return 1
