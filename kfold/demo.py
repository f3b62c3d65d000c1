"""`kf demo`: the whole competition loop offline, on synthetic data, in a few minutes on
two CPU cores. Each step is a library call; the demo only chains them and prints.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from kfold import artifacts
from kfold.data.check import check_data, render_report
from kfold.data.synth import synthesize
from kfold.progress import RichReporter
from kfold.runs import render_run, render_runs, runs_summary
from kfold.train.config import TrainConfig
from kfold.train.retrain import retrain_run
from kfold.train.run import train_run
from kfold.workspace import Workspace

# The demo's runs: the original small CNN with preprocessing I, and EfficientNet-Lite0
# fine-tuned from ImageNet weights (bundled offline, kfold[weights]) trained k-fold, then on
# 100%. Two different learners: their stack beats either (README, "What the demo shows").
SIMPLE_CNN = TrainConfig(model="simple-cnn", image_size=64, epochs=20, patience=6, crop=20,
                         threshold=0.2, batch_size=64, n_folds=5, seed=42)
LITE0 = TrainConfig(model="efficientnet-lite0", weights="imagenet", image_size=64, crop=20,
                    epochs=4, patience=4, batch_size=64, n_folds=5, seed=42, augment="d4",
                    tta="flip")
# Easier than the generator's default (0.5) so that a few minutes of CPU training show a
# clearly learnt task: the small CNN reaches about 0.92 OOF AUC from 2,000 such images.
DIFFICULTY = 0.3


def run_demo(root: str | Path, console: Console, *, n_train: int = 1500, n_test: int = 300,
             epochs: int | None = None) -> dict:
    """Synthesise data, train, stack, explain and play the offline competition in `root`.

    Re-running continues where the last call stopped (finished folds are skipped).
    """
    ws = Workspace.init(root, competition="nexperia-synth", n_folds=5, image_size=64, seed=42)
    reporter = RichReporter(console)
    summary: dict = {"workspace": str(ws.root)}

    console.print(Rule("1. synthetic Nexperia-like data"))
    if not ws.data_dir.exists():
        console.print(synthesize(ws.data_dir, n_train=n_train, n_test=n_test, size=267,
                                 difficulty=DIFFICULTY, seed=0))
    console.print(render_report(check_data(ws, reporter)))

    console.print(Rule("2. 5-fold small CNN of the original notebook (preprocessing I)"))
    cfg = SIMPLE_CNN if epochs is None else _with_epochs(SIMPLE_CNN, epochs)
    meta = train_run(ws, cfg, "simple-cnn", reporter=reporter)
    console.print(render_run(meta))
    console.print(f"submission: {meta.submission}")
    summary["simple-cnn"] = meta.oof_auc

    console.print(Rule("3. EfficientNet-Lite0 fine-tuned from ImageNet, then retrained on 100%"))
    meta = train_run(ws, LITE0 if epochs is None else _with_epochs(LITE0, epochs),
                     "efficientnet-lite0", reporter=reporter)
    console.print(render_run(meta))
    full = retrain_run(ws, "efficientnet-lite0", reporter)
    console.print(f"retrained on 100% for {full.retrain.epochs} epochs: "
                  f"{full.retrain.submission}")
    summary["efficientnet-lite0"] = meta.oof_auc

    console.print(Rule("4. runs"))
    console.print(render_runs(runs_summary(ws)))

    console.print(Rule("5. stacking"))
    from kfold.stack import render_stack_report, stack_runs

    report = stack_runs(ws)
    render_stack_report(report, console)
    summary["best_single"] = report.best_run.oof_auc
    summary["best_stack"] = max(s.oof_auc for s in report.scores if s.kind == "stack")

    console.print(Rule("6. where the best run looks: Grad-CAM against the defect boxes"))
    from kfold.explain.render import render_explain
    from kfold.explain.run import explain_run

    best = report.best_run.name  # a trained run (stacks now list among the runs too)
    explained = explain_run(ws, best, n=16, reporter=reporter)
    console.print(render_explain(explained.metrics, best))
    console.print(f"overlay grid: {explained.grid}")
    summary["explain"] = explained.metrics.get("pointing_game")

    console.print(Rule("7. the competition, offline (stand-in Kaggle server)"))
    from kfold.kaggle.demo import run_competition_loop

    summary["competition"] = run_competition_loop(ws, console)
    summary["runs"] = artifacts.list_runs(ws)
    return summary


def _with_epochs(cfg: TrainConfig, epochs: int) -> TrainConfig:
    from dataclasses import replace

    return replace(cfg, epochs=epochs)
