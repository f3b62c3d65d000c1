"""`kf demo`: the whole loop offline on synthetic data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kfold.cli._common import console
from kfold.errors import KfError

app = typer.Typer()


@app.command("demo")
def demo(
    workspace: Annotated[Path, typer.Option("--workspace", "-w", help="Demo workspace folder.")] = Path("demo-workspace"),
    n_train: Annotated[int, typer.Option(help="Synthetic training images.")] = 1000,
    n_test: Annotated[int, typer.Option(help="Synthetic test images.")] = 600,
    epochs: Annotated[int | None, typer.Option(help="Override the demo's epochs per fold.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic data (a new workspace "
                                           "per seed).")] = 0,
    task: Annotated[str, typer.Option(
        help="binary (the README's demo), multiclass, multilabel or regression: the same "
             "runs, stack and offline competition on synthetic chips of that task.")] = "binary",
    readme: Annotated[Path | None, typer.Option(
        "--readme", help="Also write the results table into this README, between its "
                         "'kf demo table' markers.")] = None,
) -> None:
    """Synthetic data -> k-fold CNNs -> stack -> explain -> offline Kaggle submissions.

    The results table (markdown) goes to <workspace>/demo.md."""
    from kfold.demo import run_demo
    from kfold.demo_tasks import check_task, run_task_demo

    if check_task(task) != "binary":
        if readme is not None:
            raise KfError("--readme takes the binary demo's table; leave out --task or --readme")
        summary = run_task_demo(workspace, console, task, n_train=n_train, n_test=n_test,
                                epochs=epochs, seed=seed)
    else:
        summary = run_demo(workspace, console, n_train=n_train, n_test=n_test, epochs=epochs,
                           seed=seed, readme=readme)
    console.print(f"demo workspace: {summary['workspace']}")
