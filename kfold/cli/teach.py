"""`kf pseudo` and `kf distill`: runs taught by another run's predictions."""

from __future__ import annotations

from typing import Annotated

import typer

from kfold.cli._common import WorkspaceOpt, console, open_workspace
from kfold.progress import RichReporter

NameOpt = Annotated[str | None, typer.Option(help="Run name of the new run.")]
EpochsOpt = Annotated[int | None, typer.Option(help="Maximum epochs per fold (default: the source's).")]
DeviceOpt = Annotated[str | None, typer.Option(help="auto, cpu, cuda or cuda:N (default: the source's).")]
ForceOpt = Annotated[bool, typer.Option(help="Retrain finished folds too.")]


def pseudo(
    source: Annotated[str, typer.Option("--from", help="The finished k-fold run whose fold models label the test images.")],
    workspace: WorkspaceOpt = None,
    confidence: Annotated[float | None, typer.Option(help="Keep test images whose likeliest class has at least this probability (0.5-1).")] = None,
    top_share: Annotated[float | None, typer.Option("--top-share", help="Or keep this share of each predicted class, most confident first.")] = None,
    labels: Annotated[str, typer.Option(help="soft (the probabilities) or hard (the likeliest class).")] = "soft",
    weight: Annotated[float, typer.Option(help="Loss weight of a pseudo-labelled image (a training image weighs 1).")] = 1.0,
    name: NameOpt = None,
    model_seed: Annotated[int | None, typer.Option("--model-seed", help="Seed of the weights and batch order (default: the source's).")] = None,
    epochs: EpochsOpt = None,
    device: DeviceOpt = None,
    force: ForceOpt = False,
) -> None:
    """Train the source's config again with fold-aware pseudo-labels of the test images."""
    from kfold.train.pseudo import PseudoOptions, pseudo_run

    ws = open_workspace(workspace)
    opts = PseudoOptions(confidence, top_share, labels, weight)
    meta = pseudo_run(ws, source, opts, name, force=force, reporter=RichReporter(console),
                      overrides={"model_seed": model_seed, "epochs": epochs, "device": device})
    rows = meta.taught_by["test_rows"]
    console.print(f"{meta.name}: pseudo-labels from {source!r}, "
                  + ", ".join(f"{tag} {len(ids)}" for tag, ids in rows.items())
                  + " test images")
    console.print(f"OOF AUC {meta.oof_auc:.4f} (training images only; "
                  f"{source} {_oof_auc(ws, source):.4f})")
    console.print(f"submission: {meta.submission}")


def _oof_auc(ws, run: str) -> float:
    from kfold.artifacts import read_oof
    from kfold.metrics import auc

    oof = read_oof(ws.oof_path(run))
    return auc(oof["target"], oof["pred"])


def distill(
    teacher: Annotated[str, typer.Option("--teacher", help="The ensemble: a k-fold run or a stack (stack-<blender>) with OOF predictions.")],
    workspace: WorkspaceOpt = None,
    model: Annotated[str, typer.Option("--model", help="The student: any model `kf models` lists.")] = "simple-cnn",
    name: NameOpt = None,
    image_size: Annotated[int | None, typer.Option("--image-size", help="Input side in px (default: kfold.toml).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs per fold (default: 20).")] = None,
    batch_size: Annotated[int, typer.Option(help="Batch size.")] = 64,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate (default: 1e-3).")] = None,
    weights: Annotated[str, typer.Option(help="Initial weights: none, imagenet or a local file.")] = "none",
    with_test: Annotated[bool, typer.Option("--with-test", help="Fold k also learns the test images from the teacher's fold-k model (a run's, not a stack's).")] = False,
    test_weight: Annotated[float, typer.Option("--test-weight", help="Loss weight of a test image (a training image weighs 1).")] = 1.0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    force: ForceOpt = False,
) -> None:
    """Train one student in k folds on the teacher's OOF soft predictions, and its twin on
    hard labels; compare their OOF AUC and inference time with the teacher's."""
    from kfold.train.distill import distill_run, report_table

    ws = open_workspace(workspace)
    options = {"model": model, "image_size": image_size, "epochs": epochs,
               "batch_size": batch_size, "lr": lr, "weights": weights, "device": device}
    report = distill_run(ws, teacher, options, name, with_test=with_test, test_weight=test_weight,
                         force=force, reporter=RichReporter(console))
    console.print(report_table(report))
