"""`kf folds` and `kf train`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from kfold.cli._common import WorkspaceOpt, console, open_workspace, user_errors
from kfold.progress import RichReporter

FoldsOpt = Annotated[Optional[int], typer.Option("--folds", "-k", help="Number of folds (default: kfold.toml).")]
SeedOpt = Annotated[Optional[int], typer.Option(help="Random seed (default: kfold.toml).")]


@user_errors
def folds(workspace: WorkspaceOpt = None, n_folds: FoldsOpt = None, seed: SeedOpt = None,
          force: Annotated[bool, typer.Option(help="Replace a different existing folds.csv.")] = False,
          ) -> None:
    """Make the stratified folds every run shares (folds.csv)."""
    from kfold.artifacts import folds_fingerprint
    from kfold.data.sources import discover
    from kfold.folds import write_folds

    ws = open_workspace(workspace)
    frame = write_folds(ws, discover(ws).train, n_folds or ws.config.n_folds,
                        ws.config.seed if seed is None else seed, force=force)
    counts = frame.groupby("fold")["target"].agg(["size", "sum"])
    for k, row in counts.iterrows():
        console.print(f"fold {k}: {row['size']} images, {row['sum']} defects")
    console.print(f"{ws.folds_path} fingerprint {folds_fingerprint(frame)}")


@user_errors
def train(
    workspace: WorkspaceOpt = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Registered model name (`kf models`).")] = "simple-cnn",
    backend: Annotated[str, typer.Option(help="torch (default) or keras.")] = "torch",
    n_folds: FoldsOpt = None,
    seed: SeedOpt = None,
    name: Annotated[Optional[str], typer.Option(help="Run name (default: <model>-<size>px).")] = None,
    image_size: Annotated[Optional[int], typer.Option("--image-size", help="Input side in px (default: kfold.toml).")] = None,
    epochs: Annotated[int, typer.Option(help="Maximum epochs per fold.")] = 20,
    batch_size: Annotated[int, typer.Option(help="Batch size.")] = 64,
    lr: Annotated[float, typer.Option(help="Peak learning rate (cosine decay).")] = 1e-3,
    weight_decay: Annotated[float, typer.Option(help="AdamW weight decay.")] = 1e-4,
    patience: Annotated[int, typer.Option(help="Epochs without validation-AUC gain before stopping.")] = 5,
    dropout: Annotated[float, typer.Option(help="Dropout before the dense head.")] = 0.3,
    crop: Annotated[int, typer.Option(help="Border pixels cropped before resizing (original: ~20).")] = 0,
    threshold: Annotated[Optional[float], typer.Option(help="Method I: pixels darker than this (0-1) set to 0.")] = None,
    binarize: Annotated[Optional[float], typer.Option(help="Method II: binarise at this level (0-1).")] = None,
    pos_weight: Annotated[Optional[float], typer.Option(help="BCE weight of defects (no resampling).")] = None,
    augment: Annotated[str, typer.Option(help="Batch augmentation: none, flip or d4.")] = "d4",
    tta: Annotated[str, typer.Option(help="Test-time augmentation: none, flip or d4.")] = "none",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    force: Annotated[bool, typer.Option(help="Retrain finished folds too.")] = False,
    skip_bad: Annotated[bool, typer.Option(help="Leave out unreadable images instead of stopping.")] = False,
) -> None:
    """Train stratified k-fold CNNs; save OOF/test predictions, run.json and a submission."""
    from kfold.runs import render_run
    from kfold.train.config import TrainConfig
    from kfold.train.run import train_run

    ws = open_workspace(workspace)
    cfg = TrainConfig(
        model=model, backend=backend, n_folds=n_folds or ws.config.n_folds,
        seed=ws.config.seed if seed is None else seed,
        image_size=image_size or ws.config.image_size, epochs=epochs, batch_size=batch_size,
        lr=lr, weight_decay=weight_decay, patience=patience, dropout=dropout, crop=crop,
        threshold=threshold, binarize=binarize, pos_weight=pos_weight, augment=augment, tta=tta,
        device=device,
    )
    meta = train_run(ws, cfg, name, force=force, skip_bad=skip_bad,
                     reporter=RichReporter(console))
    console.print(render_run(meta))
    console.print(f"submission: {meta['submission']}")


def register(app: typer.Typer) -> None:
    app.command("folds")(folds)
    app.command("train")(train)
