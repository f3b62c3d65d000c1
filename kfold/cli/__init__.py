"""`kf`: a thin typer layer. Each module owns one command group's typer app; they are added
here, explicitly; logic lives in kfold.*"""

from __future__ import annotations

from typing import Annotated

import typer

from kfold.cli import (
    _patches,
    bench,
    data,
    demo,
    explain,
    kaggle,
    package,
    repro,
    runs,
    stack,
    teach,
    train,
    tune,
)
from kfold.cli._common import BoundaryGroup, show_version

_patches.apply()
app = typer.Typer(
    name="kf",
    cls=BoundaryGroup,
    help="k-fold CNN training, stacking and Kaggle submissions for image contests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(version: Annotated[bool, typer.Option(
        "--version", callback=show_version, is_eager=True,
        help="Print kf's version and exit.")] = False) -> None:
    """k-fold CNN training, stacking and Kaggle submissions for image contests."""


# Each command module owns its commands (and its groups: `kf data`, `kf kernel`,
# `kf submission`, `kf sandbox`); here they are only added, in the order `kf --help` lists them.
for module in (train, tune, teach, runs, stack, explain, package, kaggle, bench, demo, repro,
               data):
    app.add_typer(module.app)


def main() -> None:
    """The `kf` entry point; errors are handled once, by the root command (BoundaryGroup)."""
    app()
