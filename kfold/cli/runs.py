"""`kf runs`: compare trained runs."""

from __future__ import annotations

from typing import Annotated

import typer

from kfold.cli._common import WorkspaceOpt, console, open_workspace


def runs(
    workspace: WorkspaceOpt = None,
    corr: Annotated[bool, typer.Option("--corr", help="Also write OOF correlation and ROC PNGs.")] = False,
) -> None:
    """Table of runs: OOF AUC, per-fold AUC, mean ± std, epochs, time."""
    from kfold.runs import render_runs, runs_summary

    ws = open_workspace(workspace)
    rows = runs_summary(ws)
    if not rows:
        console.print("no finished runs yet; train one with `kf train`")
        return
    console.print(render_runs(rows))
    if corr:
        from kfold.stack import plot_runs

        for path in plot_runs(ws):
            console.print(f"wrote {path}")
