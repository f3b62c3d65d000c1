"""`kf data synth|check`: make or inspect a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from kfold.cli._common import WorkspaceOpt, console, open_workspace, user_errors

data_app = typer.Typer(help="Make, check or download the competition data.", no_args_is_help=True)


@data_app.command("synth")
@user_errors
def synth(
    workspace: WorkspaceOpt = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: the workspace's data/).")] = None,
    n_train: Annotated[int, typer.Option(help="Training images.")] = 1000,
    n_test: Annotated[int, typer.Option(help="Test images.")] = 300,
    size: Annotated[int, typer.Option(help="Image side in pixels.")] = 267,
    defect_rate: Annotated[float, typer.Option(help="Share of defect images.")] = 0.2,
    difficulty: Annotated[float, typer.Option(help="0 = obvious defects, 1 = faint ones.")] = 0.5,
    label_noise: Annotated[float, typer.Option(help="Share of training labels flipped.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Same seed, same dataset.")] = 0,
) -> None:
    """Generate a synthetic Nexperia-like dataset (grayscale chip photos, ~20% defects)."""
    from kfold.data.synth import synthesize

    ws = open_workspace(workspace)
    summary = synthesize(
        out or ws.data_dir, n_train=n_train, n_test=n_test, size=size, defect_rate=defect_rate,
        difficulty=difficulty, label_noise=label_noise, seed=seed,
    )
    console.print(summary)


@data_app.command("check")
@user_errors
def check(workspace: WorkspaceOpt = None) -> None:
    """Report counts, sizes, unreadable files, duplicates and defect-box coverage."""
    from kfold.data.check import check_data
    from kfold.progress import RichReporter

    report = check_data(open_workspace(workspace), RichReporter(console))
    console.print(render_report(report))
    if not report.ok:
        raise typer.Exit(1)


def render_report(report) -> Table:
    table = Table(title=f"data check ({report.layout} layout)", show_header=False)
    table.add_column("what")
    table.add_column("result")
    counts = report.class_counts
    share = counts.get(1, 0) / max(report.n_train, 1)
    table.add_row("training images", f"{report.n_train} (good {counts.get(0, 0)}, "
                  f"defect {counts.get(1, 0)} = {share:.1%})")
    table.add_row("test images", str(report.n_test))
    table.add_row("image sizes", ", ".join(f"{k}: {v}" for k, v in list(report.sizes.items())[:5]))
    table.add_row("unreadable files", _listing(list(report.unreadable)))
    table.add_row("duplicates in train", _listing([" = ".join(g) for g in report.duplicates_train]))
    table.add_row("train/test duplicates", _listing([f"{a} = {b}" for a, b in report.duplicates_train_test]))
    table.add_row("conflicting labels", _listing([" = ".join(g) for g in report.conflicting_labels]))
    if report.boxes:
        b = report.boxes
        table.add_row("defect boxes", f"{b['boxes']} boxes cover {b['coverage']:.1%} of "
                      f"{b['defect_images']} defect images")
        table.add_row("boxes out of bounds/inverted", _listing(b["invalid"]))
        table.add_row("boxes for unknown ids", _listing(b["unknown_ids"]))
        table.add_row("boxes on good images", _listing(b["on_good_images"]))
    return table


def _listing(items: list[str]) -> str:
    if not items:
        return "none"
    return f"{len(items)}: " + "; ".join(items[:3]) + (" ..." if len(items) > 3 else "")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
