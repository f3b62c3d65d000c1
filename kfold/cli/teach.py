"""`kf pseudo` and `kf distill`: runs taught by another run's predictions."""

from __future__ import annotations

from typing import Annotated

import typer

from kfold.cli._common import WorkspaceOpt, console, open_workspace
from kfold.cli._options import EXECUTOR_OPTIONS, SETTING_OPTIONS, split, with_options
from kfold.progress import RichReporter

NameOpt = Annotated[str | None, typer.Option(help="Run name of the new run.")]
ForceOpt = Annotated[bool, typer.Option(help="Retrain finished folds too.")]


app = typer.Typer()


@app.command("pseudo")
@with_options(EXECUTOR_OPTIONS)
def pseudo(
    source: Annotated[str, typer.Option("--from", help="The finished k-fold run whose fold models label the test images.")],
    workspace: WorkspaceOpt = None,
    confidence: Annotated[float | None, typer.Option(help="Keep test images whose likeliest class (multi-label: every label) has at least this probability (0.5-1); not for a regression.")] = None,
    top_share: Annotated[float | None, typer.Option("--top-share", help="Or keep this share of each predicted class (label set), most confident first.")] = None,
    labels: Annotated[str, typer.Option(help="soft (the predictions) or hard (the likeliest class, labels rounded).")] = "soft",
    weight: Annotated[float, typer.Option(help="Loss weight of a pseudo-labelled image (a training image weighs 1).")] = 1.0,
    name: NameOpt = None,
    model_seed: Annotated[int | None, typer.Option("--model-seed", help="Seed of the weights and batch order (default: the source's).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs per fold (default: the source's).")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or cuda:N (default: the source's).")] = None,
    force: ForceOpt = False,
    **executor,
) -> None:
    """Train the source's config again with fold-aware pseudo-labels of the test images."""
    from kfold.execute import make_executor
    from kfold.scoring import get_metric
    from kfold.train.pseudo import PseudoOptions, pseudo_run

    ex = make_executor(**executor)
    ws = open_workspace(workspace)
    opts = PseudoOptions(confidence, top_share, labels, weight)
    meta = pseudo_run(ws, source, opts, name, force=force, reporter=RichReporter(console),
                      executor=ex,
                      overrides={"model_seed": model_seed, "epochs": epochs, "device": device})
    rows = meta.taught_by["test_rows"]
    console.print(f"{meta.name}: pseudo-labels from {source!r}, "
                  + ", ".join(f"{tag} {len(ids)}" for tag, ids in rows.items())
                  + " test images")
    title = get_metric(meta.metric).title
    console.print(f"OOF {title} {meta.oof_auc:.4f} (training images only; "
                  f"{source} {meta.taught_by['source_oof_auc']:.4f})")
    console.print(f"submission: {meta.submission}")


@app.command("distill")
@with_options(SETTING_OPTIONS, EXECUTOR_OPTIONS)
def distill(
    teacher: Annotated[str, typer.Option("--teacher", help="The ensemble: a k-fold run or a stack (stack-<blender>) with OOF predictions.")],
    workspace: WorkspaceOpt = None,
    name: NameOpt = None,
    with_test: Annotated[bool, typer.Option("--with-test", help="Fold k also learns the test images from the teacher's fold-k model (a run's, not a stack's).")] = False,
    test_weight: Annotated[float, typer.Option("--test-weight", help="Loss weight of a test image (a training image weighs 1).")] = 1.0,
    force: ForceOpt = False,
    **options,
) -> None:
    """Distil a run into one student trained on its OOF soft predictions; compare them.

    The student (kf train's options) trains in k folds on the teacher's OOF soft
    predictions, its twin on hard labels; their OOF scores and inference time are compared
    with the teacher's. Folds and seed default to the teacher's."""
    from kfold.execute import make_executor
    from kfold.train.distill import distill_run, report_table

    executor, settings = split(options, EXECUTOR_OPTIONS)
    ex = make_executor(**executor)
    ws = open_workspace(workspace)
    report = distill_run(ws, teacher, settings, name, with_test=with_test,
                         test_weight=test_weight, force=force, reporter=RichReporter(console),
                         executor=ex)
    console.print(report_table(report))
