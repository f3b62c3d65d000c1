"""`kf data synth|check|download`: make, inspect or download a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kfold.cli._common import (
    CompetitionOpt,
    WorkspaceOpt,
    console,
    open_workspace,
    warn_credentials,
)

app = typer.Typer(name="data", help="Make, check or download the competition data.",
                  no_args_is_help=True)


@app.command("synth")
def synth(
    workspace: WorkspaceOpt = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: the workspace's data/).")] = None,
    n_train: Annotated[int, typer.Option(help="Training images.")] = 1000,
    n_test: Annotated[int, typer.Option(help="Test images.")] = 300,
    size: Annotated[int, typer.Option(help="Image side in pixels.")] = 267,
    defect_rate: Annotated[float, typer.Option(help="Share of defect images.")] = 0.2,
    difficulty: Annotated[float, typer.Option(help="0 = obvious defects, 1 = faint ones.")] = 0.5,
    label_noise: Annotated[float, typer.Option(help="Share of training labels flipped.")] = 0.0,
    box_rate: Annotated[float, typer.Option(help="Share of training defects with a box in defect_area.csv.")] = 0.85,
    seed: Annotated[int, typer.Option(help="Same seed, same dataset.")] = 0,
    task: Annotated[str, typer.Option(help="binary (the Nexperia layout), multiclass (good or the defect's kind), multilabel (a column per kind) or regression (a severity); the rate, difficulty, noise and box options are binary's.")] = "binary",
) -> None:
    """Generate a synthetic Nexperia-like dataset (grayscale chip photos, ~20% defects)."""
    from kfold.data.synth.tasks import synthesize_any
    from kfold.progress import RichReporter

    ws = open_workspace(workspace, create=True)
    with RichReporter(console).task("drawing images", n_train + n_test) as bar:
        summary = synthesize_any(
            out or ws.data_dir, task, n_train=n_train, n_test=n_test, size=size,
            defect_rate=defect_rate, difficulty=difficulty, label_noise=label_noise,
            box_rate=box_rate, seed=seed, progress=lambda done, total: bar.advance(),
        )
    console.print(summary)


@app.command("check")
def check(workspace: WorkspaceOpt = None) -> None:
    """Report counts, sizes, unreadable files, duplicates and defect-box coverage."""
    from kfold.data.check import check_data, render_report
    from kfold.errors import KfError
    from kfold.progress import RichReporter

    report = check_data(open_workspace(workspace), RichReporter(console))
    console.print(render_report(report))
    if not report.ok:
        raise KfError(report.problems())


@app.command("download")
def download(workspace: WorkspaceOpt = None, competition: CompetitionOpt = None) -> None:
    """Download and unpack the competition's files into data/, then check them."""
    from kfold.data.check import render_report
    from kfold.kaggle.flow import download_data

    ws = open_workspace(workspace, create=True)
    warn_credentials()
    res = download_data(ws, competition=competition)
    console.print(f"downloaded {res.archive_bytes / 1e6:.1f} MB: {len(res.files)} file(s) "
                  f"into {ws.data_dir}", highlight=False)
    console.print(render_report(res.check))
