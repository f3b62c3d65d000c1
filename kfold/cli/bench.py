"""`kf bench`: speed measured side by side."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from kfold.cli._common import console


def bench(
    case: Annotated[list[str] | None, typer.Option("--case", "-c", help="Case(s) to run (default: all).")] = None,
    n_images: Annotated[int, typer.Option(help="Synthetic training images (267 px JPEGs).")] = 512,
    size: Annotated[int, typer.Option(help="Model input size.")] = 64,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
) -> None:
    """Measure the data pipeline, training and the other cases side by side."""
    from kfold.bench import CASES, run_bench
    from kfold.errors import KfError

    cases = case or list(CASES)
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        raise KfError(f"unknown bench case(s) {unknown}; known: {', '.join(CASES)}")
    rows = run_bench(cases, n_images=n_images, size=size, device=device)
    console.print(render_rows(rows))


def render_rows(rows: list[dict]) -> Table:
    table = Table(title="kf bench")
    keys = list(dict.fromkeys(k for r in rows for k in r))
    for k in keys:
        table.add_column(k, justify="left" if k in ("case", "what") else "right")
    for r in rows:
        table.add_row(*(_fmt(r.get(k)) for k in keys))
    return table


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:,.0f}"
    return str(value)
