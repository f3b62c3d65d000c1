"""`kf folds`, `kf train`, `kf grid`, `kf retrain` and `kf models`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kfold.cli._common import RunOpt, WorkspaceOpt, console, open_workspace
from kfold.progress import RichReporter

ExecutorOpt = Annotated[str, typer.Option("--executor", help="local (this process, one fold after another) or ray (folds as Ray tasks over every GPU).")]
AddressOpt = Annotated[str | None, typer.Option("--address", help="Ray: an existing cluster (HOST:PORT, ray://HOST:PORT or auto); default: start Ray here.")]
GpusOpt = Annotated[float | None, typer.Option("--gpus-per-fold", help="Ray: GPUs per fold, fractions share one (default: 1 when the cluster has GPUs, else 0).")]
CpusOpt = Annotated[float | None, typer.Option(
    "--cpus-per-fold", help="CPUs per fold, which set its threads (default: Ray 1, local all).")]
FoldsOpt = Annotated[int | None, typer.Option("--folds", "-k", help="Number of folds (default: kfold.toml).")]
SeedOpt = Annotated[int | None, typer.Option(help="Random seed (default: kfold.toml).")]


def _open(workspace: Path | None, executor: str, address: str | None,
          gpus_per_fold: float | None, cpus_per_fold: float | None):
    """The workspace and the executor a training command runs on (executor options first:
    a wrong one is refused before the workspace is touched)."""
    from kfold.execute import make_executor

    ex = make_executor(executor, address=address, gpus_per_fold=gpus_per_fold,
                       cpus_per_fold=cpus_per_fold)
    return open_workspace(workspace), ex


def folds(workspace: WorkspaceOpt = None, n_folds: FoldsOpt = None, seed: SeedOpt = None,
          force: Annotated[bool, typer.Option(help="Replace a different existing folds.csv.")] = False,
          ) -> None:
    """Make the stratified folds every run shares (folds.csv)."""
    from kfold.artifacts import folds_fingerprint
    from kfold.data.sources import discover
    from kfold.folds import write_folds

    ws = open_workspace(workspace)
    frame = write_folds(ws, discover(ws).train, n_folds, seed, force=force)
    counts = frame.groupby("fold")["target"].agg(["size", "sum"])
    for k, row in counts.iterrows():
        console.print(f"fold {k}: {row['size']} images, {row['sum']} defects")
    console.print(f"{ws.folds_path} fingerprint {folds_fingerprint(frame)}")


def train(
    workspace: WorkspaceOpt = None,
    model: Annotated[str, typer.Option("--model", help="simple-cnn, vgg16, resnet50 or any timm name (`kf models`).")] = "simple-cnn",
    backend: Annotated[str, typer.Option(help="torch (default) or keras.")] = "torch",
    n_folds: FoldsOpt = None,
    seed: SeedOpt = None,
    model_seed: Annotated[int | None, typer.Option("--model-seed", help="Seed of the weights and batch order only (default: --seed): seed averaging on the same folds.")] = None,
    name: Annotated[str | None, typer.Option(help="Run name (default: <model>-<size>px).")] = None,
    image_size: Annotated[int | None, typer.Option("--image-size", help="Input side in px (default: kfold.toml).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs per fold (default: 20; 10 with --train-mode head).")] = None,
    batch_size: Annotated[int, typer.Option(help="Batch size.")] = 64,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate, cosine decay (default: 1e-3; 1e-2 with --train-mode head).")] = None,
    weight_decay: Annotated[float, typer.Option(help="AdamW weight decay.")] = 1e-4,
    patience: Annotated[int, typer.Option(help="Epochs without validation-AUC gain before stopping.")] = 5,
    dropout: Annotated[float, typer.Option(help="Dropout before the dense head.")] = 0.3,
    crop: Annotated[int, typer.Option(help="Border pixels cropped before resizing (original: ~20).")] = 0,
    threshold: Annotated[float | None, typer.Option(help="Method I: pixels darker than this (0-1) set to 0.")] = None,
    binarize: Annotated[float | None, typer.Option(help="Method II: binarise at this level (0-1).")] = None,
    pos_weight: Annotated[float | None, typer.Option(help="BCE weight of defects (no resampling).")] = None,
    augment: Annotated[str, typer.Option(help="Batch augmentation: none, flip or d4.")] = "d4",
    tta: Annotated[str, typer.Option(help="Test-time augmentation: none, flip or d4.")] = "none",
    weights: Annotated[str, typer.Option(help="Initial weights: none, imagenet (download or warm cache) or a local file.")] = "none",
    train_mode: Annotated[str, typer.Option("--train-mode", help="head (backbone and its batch-norm frozen) or finetune (everything).")] = "finetune",
    unfreeze_after: Annotated[int | None, typer.Option("--unfreeze-after", help="Train the head alone for N epochs, then everything.")] = None,
    backbone_lr_scale: Annotated[float, typer.Option("--backbone-lr-scale", help="Finetune: backbone lr = lr x this.")] = 1.0,
    in_chans: Annotated[int | None, typer.Option("--in-chans", help="Grayscale input: 1 (first conv adapted, default) or 3 (channel repeated).")] = None,
    collapse_epochs: Annotated[int, typer.Option("--collapse-epochs", help="Stop a fold after this many collapsed epochs (constant predictions or val AUC <= 0.5).")] = 3,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    force: Annotated[bool, typer.Option(help="Retrain finished folds too.")] = False,
    skip_bad: Annotated[bool, typer.Option(help="Leave out unreadable images instead of stopping.")] = False,
    note: Annotated[str, typer.Option(help="Free text stored in run.json, shown by `kf runs`.")] = "",
    tag: Annotated[list[str] | None, typer.Option(help="A label stored in run.json (repeatable).")] = None,
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    gpus_per_fold: GpusOpt = None,
    cpus_per_fold: CpusOpt = None,
) -> None:
    """Train stratified k-fold CNNs; save OOF/test predictions, run.json and a submission."""
    from kfold.train.config import TrainConfig
    from kfold.train.run import train_run

    ws, ex = _open(workspace, executor, address, gpus_per_fold, cpus_per_fold)
    cfg = TrainConfig.for_workspace(
        ws, model=model, backend=backend, n_folds=n_folds, seed=seed, model_seed=model_seed,
        image_size=image_size,
        epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
        patience=patience, dropout=dropout, crop=crop, threshold=threshold, binarize=binarize,
        pos_weight=pos_weight, augment=augment, tta=tta, weights=weights,
        train_mode=train_mode, unfreeze_after=unfreeze_after,
        backbone_lr_scale=backbone_lr_scale, in_chans=in_chans,
        collapse_epochs=collapse_epochs, device=device,
    )
    meta = train_run(ws, cfg, name, force=force, skip_bad=skip_bad, note=note, tags=tag or (),
                     reporter=RichReporter(console), executor=ex)
    _print_run(meta)


def _print_run(meta) -> None:
    from kfold.runs import render_run

    console.print(render_run(meta))
    collapsed = [r.fold for r in meta.folds if r.collapsed]
    if collapsed:
        console.print(f"[bold red]collapsed fold(s) {collapsed}[/]: see run.json")
    console.print(f"submission: {meta.submission}")


def grid(
    file: Annotated[Path, typer.Argument(help="TOML file: \\[defaults] and \\[\\[run]] entries with kf train's options (docs/scale-out.md).")],
    workspace: WorkspaceOpt = None,
    skip_bad: Annotated[bool, typer.Option(help="Leave out unreadable images instead of stopping.")] = False,
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    gpus_per_fold: GpusOpt = None,
    cpus_per_fold: CpusOpt = None,
) -> None:
    """Train many runs (kf train's options per run); finished runs are skipped."""
    from kfold.grid import read_grid, run_grid

    ws, ex = _open(workspace, executor, address, gpus_per_fold, cpus_per_fold)
    for meta in run_grid(ws, read_grid(file, ws), executor=ex, skip_bad=skip_bad,
                         reporter=RichReporter(console)):
        _print_run(meta)


def retrain(
    run: RunOpt,
    workspace: WorkspaceOpt = None,
    device: Annotated[str | None, typer.Option(help="Override the run's device: auto, cpu, cuda...")] = None,
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    gpus_per_fold: GpusOpt = None,
    cpus_per_fold: CpusOpt = None,
) -> None:
    """Train a finished run's model and config on 100% of the training data; predict test."""
    from kfold.train.retrain import retrain_run

    ws, ex = _open(workspace, executor, address, gpus_per_fold, cpus_per_fold)
    meta = retrain_run(ws, run, RichReporter(console), device=device, executor=ex)
    info = meta.retrain
    console.print(f"{run}: retrained on {info.n_train} images for {info.epochs} epoch(s) "
                  f"({info.epochs_rule})")
    console.print(f"checkpoint: {ws.run_dir(run) / (info.checkpoint or '?')}")
    console.print(f"test predictions: {ws.full_test_path(run)}")
    console.print(f"submission: {info.submission} (CV = OOF AUC {info.cv_auc:.4f})")


def models(
    pattern: Annotated[str, typer.Argument(help="Glob over names, e.g. 'resnet*'.")] = "*",
    limit: Annotated[int, typer.Option(help="Most timm names to list.")] = 50,
) -> None:
    """Models `kf train --model` accepts, most picked first, with parameter counts.

    kf's registry, then timm's popular models, then (with a PATTERN) timm's other names;
    each group smallest first."""
    from kfold.nets.catalog import catalog
    from kfold.views import Col, table

    entries, more = catalog(pattern, limit)
    rows = [[e.name, e.source, e.params_text, e.in_chans,
             " ".join(f"{v:.3f}" for v in e.mean), " ".join(f"{v:.3f}" for v in e.std),
             "yes" if e.pretrained else ""] for e in entries]
    cols = ["name", "source", Col("params", right=True), "in_chans", "mean", "std", "imagenet"]
    console.print(table(f"models matching {pattern!r}", cols, rows))
    if more:
        console.print(f"... and {more} more timm names (--limit N; a pattern lists a family, "
                      f"e.g. kf models 'convnext*')")
