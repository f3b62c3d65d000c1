"""`kf repro`: the original write-up's results table on the workspace's data."""

from __future__ import annotations

from typing import Annotated

import typer

from kfold.cli._common import WorkspaceOpt, console, open_workspace

app = typer.Typer()


@app.command("repro")
def repro(
    workspace: WorkspaceOpt = None,
    small_size: Annotated[int | None, typer.Option("--small-size", help="Small CNN input side in px (default 64).")] = None,
    small_epochs: Annotated[int | None, typer.Option("--small-epochs", help="Small CNN epochs per fold (default 12).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Pretrained net (default efficientnet-lite0; resnet50 on a GPU).")] = None,
    image_size: Annotated[int | None, typer.Option("--image-size", help="Pretrained net input side in px (default 64; 224 on a GPU).")] = None,
    head_epochs: Annotated[int | None, typer.Option("--head-epochs", help="Head-only epochs (default: the head mode's 10).")] = None,
    finetune_epochs: Annotated[int | None, typer.Option("--finetune-epochs", help="Fine-tuning and random-init epochs (default 6).")] = None,
    crop: Annotated[int | None, typer.Option(help="Border px cropped by preprocessing I/II and the pretrained net (default 20).")] = None,
    n_folds: Annotated[int | None, typer.Option("--folds", "-k", help="Folds (default: kfold.toml).")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or cuda:N.")] = None,
) -> None:
    """Reproduce the original write-up's results table on the workspace's data.

    Trains its experiments as runs, retrains, stacks; writes repro/table.md and
    repro/auc.png; prints which of the original orderings hold."""
    from kfold.progress import RichReporter
    from kfold.repro import ReproPlan, run_repro, with_overrides

    ws = open_workspace(workspace)
    plan = with_overrides(ReproPlan(), small_size=small_size, small_epochs=small_epochs,
                          model=model, size=image_size, head_epochs=head_epochs,
                          finetune_epochs=finetune_epochs, crop=crop,
                          n_folds=n_folds, device=device)
    report = run_repro(ws, plan, reporter=RichReporter(console))
    console.print(report.table.read_text(), markup=False, highlight=False)
    console.print(f"table: {report.table}\nchart: {report.chart}")
