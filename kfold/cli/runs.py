"""`kf runs`: compare trained runs."""

from __future__ import annotations

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


def runs(
    workspace: WorkspaceOpt = None,
    corr: Annotated[bool, typer.Option("--corr", help="Also write OOF correlation and ROC PNGs.")] = False,
    fmt: FormatOpt = "table",
) -> None:
    """Table of runs: OOF AUC with its DeLong 95% interval, the paired difference to the best
    run (interval, p-value, within noise), per-fold AUC, mean ± std, epochs, time."""
    from kfold.runs import render_runs, runs_summary

    check_format(fmt)
    ws = open_workspace(workspace)
    rows = runs_summary(ws)
    if fmt != "table":
        emit(rows, fmt)
    elif not rows:
        console.print("no finished runs yet; train one with `kf train`")
        return
    else:
        console.print(render_runs(rows))
    if corr:
        from kfold.stack import plot_runs

        for path in plot_runs(ws):
            say("wrote", "dim", str(path))
