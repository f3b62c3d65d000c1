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
