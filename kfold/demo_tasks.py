"""`kf demo --task multiclass|multilabel|regression`: the demo's loop on a contest of another
kind (issue 20): synthetic chips of that task, the same three runs, a stack in the contest's
metric, the offline competition, and whether the ensemble paid, in that metric's direction.

The binary demo (`kfold.demo`) stays the README's; this one shows that every command of the
loop takes the other tasks. Grad-CAM against defect boxes and the code-competition step are
the binary demo's: they cost minutes and show nothing task-specific.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from kfold import atomic, views
from kfold.data.check import check_data, render_report
from kfold.data.sources import discover
from kfold.data.synth import check_args
from kfold.data.synth.tasks import plan_chips, synthesize_task
from kfold.demo import (
    FOLDS,
    RUNS,
    SEED_FILE,
    SIMPLE_CNN,
    Steps,
    check_demo_workspace,
    with_epochs,
)
from kfold.demo_report import best, payoff_holds, write_table
from kfold.errors import KfError
from kfold.progress import RichReporter
from kfold.runs import render_run, render_runs, runs_summary
from kfold.scoring import get_metric
from kfold.train.run import plan_run, train_runs
from kfold.views import Col, num
from kfold.workspace import Workspace

TASKS = ("multiclass", "multilabel", "regression")
SIDE = 267  # drawn at the binary demo's size, so its crop and 64 px training carry over


def demo_config(task: str) -> dict:
    """The task demo's kfold.toml: the binary demo's, under a competition of its own."""
    return {"competition": f"nexperia-synth-{task}", "n_folds": FOLDS, "image_size": 64,
            "seed": 42}


def check_task(task: str) -> str:
    if task not in ("binary", *TASKS):
        raise KfError(f"--task {task!r}: choose binary, {', '.join(TASKS)}")
    return task


def run_task_demo(root: str | Path, console: Console, task: str, *, n_train: int = 1000,
                  n_test: int = 600, epochs: int | None = None, seed: int = 0) -> dict:
    """Synthesise a `task` contest in `root`, train the demo's three runs on it, stack them in
    the contest's metric, play the offline competition and compare the best run with the
    best stack; the results table goes to `root`/demo.md. Resumable like `kf demo`."""
    check_task(task)
    check_args(n_train=n_train, n_test=n_test, size=SIDE, seed=seed)
    plan_chips(task, n_train, n_test, seed)  # too few images for the classes: refused here
    with_epochs(SIMPLE_CNN, epochs)
    config = demo_config(task)
    check_demo_workspace(Path(root), seed, config, task)
    ws = Workspace.init(root, **config)
    reporter = RichReporter(console)
    steps = Steps(console)

    steps.start(f"1. synthetic chips, {task}")
    if not ws.data_dir.exists():
        console.print(synthesize_task(ws.data_dir, task, n_train=n_train, n_test=n_test,
                                      size=SIDE, seed=seed))
        atomic.write_json(ws.root / SEED_FILE, {"seed": seed, "task": task})
    console.print(render_report(check_data(ws, reporter)))

    steps.start(f"2. the demo's three runs ({FOLDS} folds): small CNN, EfficientNet-Lite0 "
                "from ImageNet, two seeds")
    dataset = discover(ws)
    plans = [plan_run(ws, with_epochs(cfg, epochs), name, dataset=dataset)
             for name, cfg in RUNS]
    for meta in train_runs(ws, plans, reporter=reporter):
        console.print(render_run(meta))
    console.print(render_runs(runs_summary(ws)))

    steps.start("3. stacking in the contest's metric")
    from kfold.stack import render_stack_report, stack_runs

    report = stack_runs(ws)
    render_stack_report(report, console)

    steps.start("4. the competition, offline (stand-in Kaggle server)")
    from kfold.kaggle.demo import run_competition_loop

    competition = run_competition_loop(ws, console)

    steps.start("5. did the ensemble pay? best single run vs best stack")
    rows = candidate_rows(ws, report)
    payoff = [best(rows, "run", "score", report.metric), best(rows, "stack", "score", report.metric)]
    console.print(render_payoff(payoff, report.metric))
    seconds = steps.finish()
    table = write_table(ws, markdown(rows, report.metric, task=task, seed=seed,
                                     seconds=seconds))
    console.print(f"results table (markdown): {table}", highlight=False)
    return {"workspace": str(ws.root), "task": task, "metric": report.metric,
            "payoff": payoff, "competition": competition, "seconds": seconds,
            "table": str(table)}


def candidate_rows(ws: Workspace, report) -> list[dict]:
    """Every run and stack of a task stack report, best first: its OOF score with the
    bootstrap interval, the difference to the best run with its interval, and the stand-in's
    public and private scores of its submission file (data/solution.csv)."""
    from kfold.kaggle.sandbox.scoring import Scorer

    scorer = Scorer.for_workspace(ws)
    solution = scorer.load(ws.data_dir / "solution.csv")
    rows = []
    for s in report.scores:
        public, private = scorer.score(ws.submission_path(s.name).read_bytes(), solution)
        i = s.interval
        rows.append({"name": s.name, "kind": s.kind, "score": s.score, "low": i.low,
                     "high": i.high, "diff": i.diff, "diff_low": i.diff_low,
                     "diff_high": i.diff_high, "verdict": report.verdict(s),
                     "public": public, "private": private})
    return rows


def render_payoff(rows: list[dict], metric: str) -> views.Table:
    label = get_metric(metric).label
    columns = ["", "candidate", *(Col(c, right=True) for c in
                                  (f"OOF {label}", "vs best run", "public", "private"))]
    kinds = {"run": "best single run", "stack": "best stack"}
    return views.table("", columns, [
        (kinds[r["kind"]], r["name"], num(r["score"], ".4f"), r["verdict"],
         num(r["public"], ".4f"), num(r["private"], ".4f")) for r in rows])


def markdown(rows: list[dict], metric: str, *, task: str, seed: int, seconds: dict) -> str:
    """The task demo's table (markdown) and one line on whether the ensemble paid."""
    label = get_metric(metric).label
    lines = [f"| kf demo --task {task}, data seed {seed} | OOF {label} [95% bootstrap] | "
             f"vs best run [95%] | stand-in public / private |", "|---|---|---|---|"]
    top = best(rows, "stack", "score", metric)
    for r in rows:
        name = f"**{r['name']}**" if r is top else r["name"]
        vs = r["verdict"] if r["verdict"] == "best run" else (
            f"{r['diff']:+.3f} [{r['diff_low']:+.3f}, {r['diff_high']:+.3f}] {r['verdict']}")
        lines.append(f"| {name} | {r['score']:.3f} [{r['low']:.3f}, {r['high']:.3f}] | {vs} | "
                     f"{r['public']:.3f} / {r['private']:.3f} |")
    single = best(rows, "run", "score", metric)
    paid = "paid on both" if payoff_holds(rows, "score", metric) else "did not pay on both"
    lines += ["", f"Best single run {single['name']}: OOF {single['score']:.3f}, private "
                  f"{single['private']:.3f}; best stack {top['name']}: OOF {top['score']:.3f}, "
                  f"private {top['private']:.3f}; the ensemble {paid}.",
              "", "Seconds per step: " + ", ".join(f"{k} {v:g}" for k, v in seconds.items())
              + "."]
    return "\n".join(lines) + "\n"
