"""The leaderboard table `kf stack` (and `kf demo`) prints."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from kfold import views
from kfold.scoring import get_metric
from kfold.stack.run import Score, StackReport
from kfold.stack.task_run import TaskStackReport
from kfold.stack.track import track_record
from kfold.stats.foldscale import DRIFT_GAP
from kfold.views import Col, Table


def _learned_text(learned: dict) -> str:
    weights = learned.get("weights")
    if isinstance(weights, dict):
        return " ".join(f"{run}={w:.2f}" for run, w in weights.items() if w > 0)
    coef = learned.get("coef")
    if isinstance(coef, dict):
        return " ".join(f"{run}={w:+.2f}" for run, w in coef.items())
    return ""


def verdict(s: Score) -> str:
    """How a score stands against the best single run, by DeLong's paired test at 95%."""
    if s.vs_best is None:
        return "best run" if s.kind == "run" else ""
    if s.vs_best.within_noise:
        return "within noise"
    return "better" if s.vs_best.diff > 0 else "worse"


def stack_table(report: StackReport) -> Table:
    best = report.best_run
    cols = [Col("#", right=True), Col("name", no_wrap=True), Col("OOF AUC", right=True),
            Col("95% CI", right=True, no_wrap=True), Col("pooled", right=True, no_wrap=True),
            Col("fold AUC", right=True, no_wrap=True),
            Col("gain", right=True), Col("gain 95% CI", right=True, no_wrap=True),
            Col("p", right=True), Col("vs best"), Col("s", right=True),
            Col("weights", fold=True)]
    rows = [[i, s.name, f"{s.oof_auc:.5f}", _interval(s.interval),
             "" if s.pooled_auc is None else f"{s.pooled_auc:.4f}" + (" !" if s.drift else ""),
             f"{s.fold_auc_mean:.4f}±{s.fold_auc_std:.4f}", f"{s.gain:+.5f}",
             "" if s.vs_best is None else f"[{s.vs_best.low:+.5f}, {s.vs_best.high:+.5f}]",
             "" if s.vs_best is None else f"{s.vs_best.p_value:.3g}", verdict(s),
             "" if s.seconds is None else f"{s.seconds:.2f}", _learned_text(s.learned)]
            for i, s in enumerate(report.scores, 1)]
    styles = _better_stacks_green(report.scores, verdict)
    return views.table(
        f"Stack of {len(report.runs)} runs (folds {report.folds_fingerprint}; "
        f"test: {report.test_source})", cols, rows, styles=styles,
        caption=f"OOF AUC: fold-normalised (each fold model's predictions as quantiles of "
                f"its own fold, docs/stack.md); pooled: all OOF rows as written, ! = more "
                f"than {DRIFT_GAP:g} lower (fold models on different scales); "
                f"gain = OOF AUC minus the best single run's ({best.name}, "
                f"{best.oof_auc:.5f}), with DeLong's paired 95% interval and p-value (the "
                f"runs score the same images); within noise: the interval holds 0; "
                f"fold AUC = mean±std over folds")


def _signed(x: float) -> str:
    """+0.00123; a difference that rounds to zero is +0.00000, never -0.00000."""
    return f"{round(x, 5) + 0.0:+.5f}"


def _interval(iv) -> str:
    return "" if iv is None else f"[{iv.low:.4f}, {iv.high:.4f}]"


def task_stack_table(report: TaskStackReport) -> Table:
    """The leaderboard of a contest other than binary AUC, in its metric and direction."""
    metric = get_metric(report.metric)
    best = report.best_run
    cols = [Col("#", right=True), Col("name", no_wrap=True),
            Col(f"OOF {metric.label}", right=True), Col("95% CI", right=True, no_wrap=True),
            Col("fold mean±std", right=True, no_wrap=True), Col("vs best run", right=True),
            Col("95% CI of it", right=True, no_wrap=True), Col("verdict"),
            Col("s", right=True), Col("weights", fold=True)]
    rows = [[i, s.name, f"{s.score:.5f}", f"[{s.interval.low:.4f}, {s.interval.high:.4f}]",
             f"{s.fold_mean:.4f}±{s.fold_std:.4f}", _signed(s.diff),
             "" if s is best else f"[{_signed(s.interval.diff_low)}, "
                                  f"{_signed(s.interval.diff_high)}]",
             report.verdict(s), "" if s.seconds is None else f"{s.seconds:.2f}",
             _learned_text(s.learned)] for i, s in enumerate(report.scores, 1)]
    styles = _better_stacks_green(report.scores, report.verdict)
    scale = ("each fold model's predictions as quantiles of its own fold"
             if report.scale == "fold" else "predictions as written")
    return views.table(
        f"Stack of {len(report.runs)} runs, OOF {metric.label} (folds "
        f"{report.folds_fingerprint}; test: {report.test_source})", cols, rows, styles=styles,
        caption=f"OOF {metric.title}: {'higher' if metric.higher_is_better else 'lower'} is "
                f"better; blenders saw {scale} (docs/stack.md); vs best run = score minus "
                f"the best single run's ({best.name}, {best.score:.5f}), with the paired "
                f"bootstrap's 95% interval (the runs score the same images); within noise: "
                f"the interval holds 0")


def render_stack_report(report: StackReport | TaskStackReport, console: Console) -> None:
    """Print notes (skipped runs), the leaderboard table, the best stack's gain (with its
    track record, kfold.stack.track, for binary AUC) and where the artifacts went."""
    for note in report.notes:
        console.print(Text("note: ", style="yellow") + Text(note), highlight=False)
    if isinstance(report, TaskStackReport):
        console.print(task_stack_table(report))
    else:
        console.print(stack_table(report))
    stacks = [s for s in report.scores if s.kind == "stack"]
    if stacks and isinstance(report, TaskStackReport):
        top = stacks[0]
        console.print(f"{top.name}: OOF {get_metric(report.metric).title} {top.diff:+.4f} "
                      f"against {report.best_run.name} ({report.verdict(top)})", highlight=False)
    elif stacks:
        top = max(stacks, key=lambda s: s.oof_auc)
        console.print(f"{top.name}: OOF gain {top.gain:+.4f} over {report.best_run.name}; "
                      f"{track_record(top.gain)}", highlight=False)
    if report.written:
        names = ", ".join(f"stack-{m}" for m in report.written)
        console.print(f"wrote oof/, oof/*.test.parquet and submissions/ for {names}",
                      highlight=False)


def _better_stacks_green(scores, verdict) -> list[str | None]:
    """Row styles: a stack the verdict calls better than the best single run in bold green."""
    return ["bold green" if s.kind == "stack" and verdict(s) == "better" else None
            for s in scores]
