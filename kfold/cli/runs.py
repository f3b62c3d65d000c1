"""`kf runs`: compare trained runs."""

from __future__ import annotations

from typing import Annotated

import typer

from kfold.cli._common import (
    CompetitionOpt,
    FormatOpt,
    WorkspaceOpt,
    check_format,
    console,
    emit,
    open_workspace,
    print_full,
    say,
    terminal_width,
)

app = typer.Typer()


@app.command("runs")
def runs(
    workspace: WorkspaceOpt = None,
    corr: Annotated[bool, typer.Option("--corr", help="Also write OOF correlation and ROC PNGs.")] = False,
    fmt: FormatOpt = "table",
    sort: Annotated[str, typer.Option(help="oof (best first), time (newest first) or name.")] = "oof",
    plot: Annotated[bool, typer.Option(
        "--plot", help="Also write submissions/cv_vs_public.png (CV vs public per submission).")] = False,
    competition: CompetitionOpt = None,
) -> None:
    """Compare the trained runs: OOF score with intervals, the gap to the best, settings.

    Per run, in the contest's metric: the OOF score with its 95% interval (DeLong for AUC, a
    paired bootstrap otherwise), the paired difference to the best run (interval, within
    noise; DeLong's p-value for AUC), best public score, fold score mean ± std, epochs, time,
    the settings that differ; then each run's note, tags and git commit."""
    from kfold.runs import RUN_FIELDS, render_run_notes, render_runs, runs_summary

    check_format(fmt)
    ws = open_workspace(workspace)
    rows = runs_summary(ws, sort=sort, competition=competition)
    if fmt != "table":
        emit(rows, fmt, RUN_FIELDS)
    elif not rows:
        console.print("no finished runs yet; train one with `kf train`")
        return
    else:
        print_full(render_runs(rows, terminal_width()))
        notes = render_run_notes(rows)
        if notes is not None:
            console.print(notes)
    if plot:
        from kfold.runs import plot_cv_vs_public

        png = plot_cv_vs_public(ws, competition=competition)
        say("wrote" if png else "note", "dim",
            str(png) if png else "no scored submission with a CV yet: nothing to plot")
    if corr:
        from kfold.stack import plot_runs

        for path in plot_runs(ws):
            say("wrote", "dim", str(path))
