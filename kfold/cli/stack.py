"""`kf stack`: blend runs' OOF predictions with fold-honest CV and write stack artifacts."""

from __future__ import annotations

from typing import Annotated

import typer

from kfold.cli._common import WorkspaceOpt, console, open_workspace


def stack(
    workspace: WorkspaceOpt = None,
    runs: Annotated[str | None, typer.Option(
        "--runs", help="Comma-separated runs to stack (default: every run in oof/ on the "
                       "current folds, except earlier stacks).")] = None,
    blender: Annotated[str, typer.Option(
        "--blender", "--meta", help="Blender(s): lightgbm, logreg, mean, rank, hillclimb, a "
                                    "comma-separated list, or all.")] = "all",
    use_full: Annotated[bool, typer.Option(
        "--use-full", help="Blend the 100%-retrain test predictions (rank-normalised) instead "
                           "of the fold-mean ones; every run must have them.")] = False,
) -> None:
    """Stack runs: a leaderboard of base runs and blenders (OOF AUC, fold AUC mean ± std, gain
    over the best run); writes oof/stack-<blender>.parquet, .test.parquet and a submission."""
    from kfold.stack import render_stack_report, stack_runs

    ws = open_workspace(workspace)
    run_list = [r for r in runs.split(",") if r.strip()] if runs is not None else None
    report = stack_runs(ws, runs=run_list, blenders=blender, use_full=use_full)
    render_stack_report(report, console)
