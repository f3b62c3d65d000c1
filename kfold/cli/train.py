"""`kf folds`, `kf train`, `kf grid`, `kf retrain` and `kf models`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kfold.cli._common import (
    RunOpt,
    SkipBadOpt,
    WorkspaceOpt,
    console,
    open_training,
    open_workspace,
)
from kfold.cli._options import (
    EXECUTOR_OPTIONS,
    SETTING_OPTION,
    SETTING_OPTIONS,
    split,
    with_options,
)
from kfold.progress import RichReporter

app = typer.Typer()
FoldsOpt = SETTING_OPTION["n_folds"].annotation
SeedOpt = SETTING_OPTION["seed"].annotation


@app.command("folds")
def folds(workspace: WorkspaceOpt = None, n_folds: FoldsOpt = None, seed: SeedOpt = None,
          force: Annotated[bool, typer.Option(help="Replace a different existing folds.csv.")] = False,
          ) -> None:
    """Make the stratified folds every run shares (folds.csv)."""
    from kfold.artifacts import folds_fingerprint
    from kfold.data.sources import discover
    from kfold.folds import write_folds

    ws = open_workspace(workspace)
    dataset = discover(ws)
    frame = write_folds(ws, dataset.train, n_folds, seed, force=force,
                        kind=dataset.task.kind, classes=dataset.task.classes)
    for k, rows in frame.groupby("fold"):
        defects = f", {int(rows['target'].sum())} defects" if dataset.task.kind == "binary" else ""
        console.print(f"fold {k}: {len(rows)} images{defects}")
    console.print(f"{ws.folds_path} fingerprint {folds_fingerprint(frame)}")


@app.command("train")
@with_options(SETTING_OPTIONS, EXECUTOR_OPTIONS)
def train(
    workspace: WorkspaceOpt = None,
    name: Annotated[str | None, typer.Option(help="Run name (default: <model>-<size>px).")] = None,
    force: Annotated[bool, typer.Option(help="Retrain finished folds too.")] = False,
    skip_bad: SkipBadOpt = False,
    note: Annotated[str, typer.Option(help="Free text stored in run.json, shown by `kf runs`.")] = "",
    tag: Annotated[list[str] | None, typer.Option(help="A label stored in run.json (repeatable).")] = None,
    **options,
) -> None:
    """Train stratified k-fold CNNs; save OOF/test predictions, run.json and a submission."""
    from kfold.train.run import train_run
    from kfold.train_config import TrainConfig

    executor, settings = split(options, EXECUTOR_OPTIONS)
    ws, ex = open_training(workspace, executor)
    cfg = TrainConfig.from_options(ws, settings)
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


@app.command("grid")
@with_options(EXECUTOR_OPTIONS)
def grid(
    file: Annotated[Path, typer.Argument(help="TOML file: \\[defaults] and \\[\\[run]] entries with kf train's options (docs/scale-out.md).")],
    workspace: WorkspaceOpt = None,
    skip_bad: SkipBadOpt = False,
    **executor,
) -> None:
    """Train many runs (kf train's options per run); finished runs are skipped."""
    from kfold.grid import read_grid, run_grid

    ws, ex = open_training(workspace, executor)
    for meta in run_grid(ws, read_grid(file, ws), executor=ex, skip_bad=skip_bad,
                         reporter=RichReporter(console)):
        _print_run(meta)


@app.command("retrain")
@with_options(EXECUTOR_OPTIONS)
def retrain(
    run: RunOpt,
    workspace: WorkspaceOpt = None,
    device: Annotated[str | None, typer.Option(help="Override the run's device: auto, cpu, cuda...")] = None,
    **executor,
) -> None:
    """Train a finished run's model and config on 100% of the training data; predict test."""
    from kfold.scoring import get_metric
    from kfold.train.retrain import retrain_run

    ws, ex = open_training(workspace, executor)
    meta = retrain_run(ws, run, RichReporter(console), device=device, executor=ex)
    info = meta.retrain
    console.print(f"{run}: retrained on {info.n_train} images for {info.epochs} epoch(s) "
                  f"({info.epochs_rule})")
    console.print(f"checkpoint: {ws.run_dir(run) / (info.checkpoint or '?')}")
    console.print(f"test predictions: {ws.full_test_path(run)}")
    console.print(f"submission: {info.submission} "
                  f"(CV = OOF {get_metric(meta.metric).title} {info.cv_auc:.4f})")


@app.command("models")
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
