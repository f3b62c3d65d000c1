"""`kf bench`: speed measured side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kfold.cli._common import console
from kfold.views import records

app = typer.Typer()


@app.command("bench")
def bench(
    case: Annotated[list[str] | None, typer.Option("--case", help="Case(s) to run (default: all).")] = None,
    n_images: Annotated[int, typer.Option(help="Synthetic training images (267 px JPEGs).")] = 512,
    size: Annotated[int, typer.Option(help="Model input size.")] = 64,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    root: Annotated[Path | None, typer.Option(
        help="Keep the bench's workspaces in this folder (default: a temporary one); a "
             "rerun resumes what they hold, e.g. survival-cnn's trained folds.")] = None,
) -> None:
    """Measure the data pipeline, training and the other cases side by side."""
    from kfold.bench import CASES, run_bench
    from kfold.errors import KfError

    cases = case or list(CASES)
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        raise KfError(f"unknown bench case(s) {unknown}; known: {', '.join(CASES)}")
    rows = run_bench(cases, n_images=n_images, size=size, device=device, root=root)
    console.print(records("kf bench", rows, text_columns=("case", "what")))
