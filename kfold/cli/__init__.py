"""`kf`: a thin typer layer. Each module defines one command group's commands; they are
registered here, explicitly; logic lives in kfold.*"""

from __future__ import annotations

from typing import Annotated

import typer

from kfold.cli import (
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


data_app = typer.Typer(help="Make, check or download the competition data.", no_args_is_help=True)
data_app.command("synth")(data.synth)
data_app.command("check")(data.check)
data_app.command("download")(data.download)
app.add_typer(data_app, name="data")

app.command("folds")(train.folds)
app.command("train")(train.train)
app.command("retrain")(train.retrain)
app.command("grid")(train.grid)
app.command("tune")(tune.tune)
app.command("models")(train.models)
app.command("pseudo")(teach.pseudo)
app.command("distill")(teach.distill)
app.command("runs")(runs.runs)
app.command("stack")(stack.stack)
app.command("shakeup")(stack.shakeup)
app.command("explain")(explain.explain)
app.command("package")(package.package)
kernel_app = typer.Typer(cls=package.KernelGroup, no_args_is_help=True,
                         help="Code competitions: write the kernel (kf kernel NAME --kernel "
                              "owner/slug) or dry-run it (kf kernel test NAME).")
kernel_app.command("write")(package.kernel_write)
kernel_app.command("test")(package.kernel_test)
app.add_typer(kernel_app, name="kernel")

app.command("submit")(kaggle.submit)
app.command("submissions")(kaggle.submissions)
app.command("leaderboard")(kaggle.leaderboard)
submission_app = typer.Typer(help="One earlier submission.", no_args_is_help=True)
submission_app.command("download")(kaggle.download_submission)
app.add_typer(submission_app, name="submission")
app.command("plan")(kaggle.plan)
sandbox_app = typer.Typer(help="A local stand-in for Kaggle (offline competition loop).",
                          no_args_is_help=True)
sandbox_app.command("serve")(kaggle.serve)
app.add_typer(sandbox_app, name="sandbox")

app.command("bench")(bench.bench)
app.command("demo")(demo.demo)
app.command("repro")(repro.repro)


def main() -> None:
    """The `kf` entry point; errors are handled once, by the root command (BoundaryGroup)."""
    app()
