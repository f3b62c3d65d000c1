"""`kf stack`: blend runs' OOF predictions with fold-honest CV and write stack artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kfold.cli._common import (
    FormatOpt,
    WorkspaceOpt,
    check_format,
    console,
    emit,
    open_workspace,
    say,
)
from kfold.registry_names import BLENDERS, REGRESSION_BLENDERS

app = typer.Typer()


@app.command("stack")
def stack(
    workspace: WorkspaceOpt = None,
    runs: Annotated[str | None, typer.Option(
        "--runs", help="Comma-separated runs to stack, globs allowed ('tune-*': a kf tune "
                       "study's finished trials; default: every run in oof/ on the current "
                       "folds, except earlier stacks).")] = None,
    blender: Annotated[str, typer.Option(
        "--blender", "--meta", help=f"Blender(s): {', '.join(BLENDERS)}, "
                                    f"{', '.join(REGRESSION_BLENDERS)} (regression only), a "
                                    "comma-separated list, or all (those that blend the "
                                    "task).")] = "all",
    use_full: Annotated[bool, typer.Option(
        "--use-full", help="Blend the 100%-retrain test predictions instead of the fold "
                           "models' ones; every run must have them.")] = False,
    scale: Annotated[str | None, typer.Option(
        "--scale", help="What blenders see: fold (each fold model's predictions as quantiles "
                        "of its validation predictions, test rows mapped the same way) or raw "
                        "(predictions as written); default fold for AUC-type metrics, raw "
                        "for the others (docs/stack.md).")] = None,
) -> None:
    """Blend runs' OOF predictions with fold-honest CV; rank base runs and blenders.

    The leaderboard shows the OOF score in the contest's metric (AUC for a binary contest),
    fold mean ± std and the difference to the best run with its interval; writes
    oof/stack-<blender>.parquet, .test.parquet and a submission."""
    from kfold.stack import render_stack_report, stack_runs

    ws = open_workspace(workspace)
    run_list = [r for r in runs.split(",") if r.strip()] if runs is not None else None
    report = stack_runs(ws, runs=run_list, blenders=blender, use_full=use_full, scale=scale)
    render_stack_report(report, console)


@app.command("shakeup")
def shakeup(
    workspace: WorkspaceOpt = None,
    runs: Annotated[str | None, typer.Option(
        "--runs", help="Comma-separated runs or stacks (default: every OOF file in oof/ on "
                       "the current folds).")] = None,
    public_fraction: Annotated[float | None, typer.Option(
        "--public-fraction", help="Share of the test set scored publicly (default: kfold.toml "
                                  "public_fraction, data/solution.csv, else 0.3).")] = None,
    n: Annotated[int, typer.Option("--n", help="Simulated splits.")] = 2000,
    test_rows: Annotated[int | None, typer.Option(
        "--test-rows", help="Rows of the test set (default: the runs' test predictions).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the splits.")] = 0,
    png: Annotated[Path | None, typer.Option(
        "--png", help="Where to write the picture (default: oof/shakeup.png).")] = None,
    fmt: FormatOpt = "table",
) -> None:
    """Simulate the public/private leaderboard shake-up of the runs; writes a PNG.

    Per run: the spread of public and private scores in the contest's metric, P(beats the
    best run on private), the expected |public - private| gap, and how often the public
    ranking of the runs differs from the private one."""
    from kfold.stack.shakeup import shakeup_runs, shakeup_table

    check_format(fmt)
    ws = open_workspace(workspace)
    run_list = [r for r in runs.split(",") if r.strip()] if runs is not None else None
    report = shakeup_runs(ws, run_list, public_fraction=public_fraction, n_splits=n,
                          test_rows=test_rows, seed=seed, png=png or True)
    for note in report.notes:
        say("note", "yellow", note)
    if fmt == "json":
        emit({**report.summary(), "per_run": report.rows()}, fmt)
    elif fmt == "csv":
        emit(report.csv_rows(), fmt)
    else:
        console.print(shakeup_table(report))
        console.print(f"wrote {report.png}", highlight=False)
