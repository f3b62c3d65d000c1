"""`kf tune`: a hyper-parameter search, every trial a k-fold run (kfold.tune)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kfold.cli._common import SkipBadOpt, WorkspaceOpt, console, open_training
from kfold.cli._options import EXECUTOR_OPTIONS, with_options
from kfold.progress import RichReporter

app = typer.Typer()


@app.command("tune")
@with_options(EXECUTOR_OPTIONS)
def tune(
    space: Annotated[Path, typer.Argument(help="TOML file: \\[defaults] (fixed) and \\[space] (searched) in kf train's option names (docs/tune.md).")],
    workspace: WorkspaceOpt = None,
    trials: Annotated[int, typer.Option("--trials", help="Trials the study should hold (finished, pruned or running); a rerun continues up to it.")] = 20,
    timeout: Annotated[str | None, typer.Option("--timeout", help="Start no trial after this long, e.g. 90s, 30m, 2h.")] = None,
    study: Annotated[str | None, typer.Option("--study", help="Study name (default: the space file's name); its runs are <study>-t<k>.")] = None,
    prune: Annotated[bool, typer.Option("--prune/--no-prune", help="Stop a trial whose folds are significantly worse than the best trial's (Wilcoxon, paired folds).")] = True,
    prune_p: Annotated[float | None, typer.Option("--prune-p", help="The pruner's p-value threshold (default 0.15: a trial can stop after 3 folds).")] = None,
    sampler_seed: Annotated[int | None, typer.Option("--sampler-seed", help="Seed of the TPE sampler (the same values in the same order); leave it out when processes share a study.")] = None,
    skip_bad: SkipBadOpt = False,
    **executor,
) -> None:
    """Search kf train's options with Optuna over k-fold CV; print the best kf train command.

    Each trial is a run <study>-t<k>, pruned fold by fold; prints the trials, the
    importances and the best kf train command."""
    from kfold.tune import Search, parse_duration, run_tune, trials_table

    ws, ex = open_training(workspace, executor)
    search = Search(study or space.stem, trials, parse_duration(timeout), prune, prune_p,
                    sampler_seed)
    report = run_tune(ws, space, search, executor=ex, skip_bad=skip_bad,
                      reporter=RichReporter(console))
    console.print(trials_table(report))
    if report.importances:
        console.print("importances: " + ", ".join(f"{k}={v:.2f}"
                                                 for k, v in report.importances.items()))
    if report.history_png:
        console.print(f"history: {report.history_png}", highlight=False)
    if report.best_command:
        console.print(f"best: {report.best_command}", highlight=False, soft_wrap=True)
    console.print(f"stack the finished trials: kf stack --runs '{report.study}-*'",
                  highlight=False)
