"""What `kf tune` shows of a study: a row per trial (values, fold scores, where it was pruned,
the OOF score kf runs ranks by, with DeLong's 95% interval for an AUC), the parameter
importances Optuna computes, the best trial as a `kf train` command line, and the
optimisation history as a PNG. Scores are the contest's metric and read in its direction."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

import optuna

from kfold import artifacts, views
from kfold.scoring import Metric, get_metric
from kfold.stats import auc_interval, to_fold_scale
from kfold.tune.space import Space
from kfold.views import Col, Table
from kfold.workspace import Workspace

STATES = {optuna.trial.TrialState.COMPLETE: "finished", optuna.trial.TrialState.PRUNED: "pruned",
          optuna.trial.TrialState.RUNNING: "running", optuna.trial.TrialState.WAITING: "queued",
          optuna.trial.TrialState.FAIL: "failed"}


@dataclass
class TrialRow:
    number: int
    run: str
    state: str
    params: dict
    fold_aucs: dict[int, float]
    oof_auc: float | None = None
    interval: tuple[float, float] | None = None

    @property
    def pruned_after(self) -> int | None:
        return len(self.fold_aucs) if self.state == "pruned" else None


@dataclass
class TuneReport:
    study: str
    rows: list[TrialRow]
    metric: Metric
    importances: dict[str, float] = field(default_factory=dict)
    best_command: str | None = None
    history_png: Path | None = None

    @property
    def counts(self) -> str:
        pruned = sum(r.state == "pruned" for r in self.rows)
        done = sum(r.state == "finished" for r in self.rows)
        return f"{done} finished, {pruned} pruned"


def tune_report(ws: Workspace, study: optuna.Study, space: Space) -> TuneReport:
    """The study's trials (a trial taken over by a later one is shown once, as the later)."""
    trials = study.get_trials(deepcopy=False)
    resumed = {t.user_attrs.get("resumes") for t in trials}
    metric = get_metric(study.user_attrs.get("metric", "auc"))
    rows = [_row(ws, t, metric) for t in trials
            if t.number not in resumed and "run" in t.user_attrs]
    report = TuneReport(study.study_name, ranked(rows, metric), metric, importances(study))
    if report.rows and report.rows[0].oof_auc is not None:
        top = report.rows[0]
        report.best_command = train_command(space, top.params, top.run)
        report.history_png = plot_history(rows, ws.tune_dir / f"{study.study_name}.history.png",
                                          study.study_name, metric)
    return report


def ranked(rows: list[TrialRow], metric: Metric) -> list[TrialRow]:
    """Finished trials best first in the metric's direction, then the others by number."""
    done = sorted((r for r in rows if r.oof_auc is not None),
                  key=lambda r: -r.oof_auc if metric.higher_is_better else r.oof_auc)
    return done + [r for r in rows if r.oof_auc is None]


def _row(ws: Workspace, trial: optuna.trial.FrozenTrial, metric: Metric) -> TrialRow:
    """A finished trial's score is its run's OOF score as kf runs ranks by it (run.json);
    an AUC has DeLong's interval on the same fold scale."""
    run = trial.user_attrs["run"]
    row = TrialRow(trial.number, run, STATES.get(trial.state, trial.state.name.lower()),
                   trial.params, dict(sorted(trial.intermediate_values.items())))
    if trial.state != optuna.trial.TrialState.COMPLETE or not ws.run_json(run).exists():
        return row
    row.oof_auc = artifacts.read_run(ws, run).oof_auc
    if metric.name == "auc" and ws.oof_path(run).exists():
        oof = artifacts.read_oof(ws.oof_path(run))
        iv = auc_interval(oof["target"], to_fold_scale(oof["pred"], oof["fold"]))
        row.interval = (iv.low, iv.high)
    return row


def importances(study: optuna.Study) -> dict[str, float]:
    """fANOVA importances over the finished trials; empty until two of them differ."""
    finished = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len({repr(sorted(t.params.items())) for t in finished}) < 2:
        return {}
    return optuna.importance.get_param_importances(study)


def train_command(space: Space, params: dict, run: str) -> str:
    """The `kf train` command line that trains the trial's settings again."""
    options = {**space.defaults, **params}
    words = ["kf", "train"]
    for name, value in options.items():
        flag = "--folds" if name == "n_folds" else "--" + name.replace("_", "-")
        words += [flag, repr(value) if isinstance(value, float) else str(value)]
    return shlex.join([*words, "--name", f"{run}-again"])


def trials_table(report: TuneReport) -> Table:
    names = list(dict.fromkeys(k for r in report.rows for k in r.params))
    folds = max((max(r.fold_aucs, default=-1) + 1 for r in report.rows), default=0)
    cols = [Col("#", right=True), Col("run", no_wrap=True), Col("state"),
            *[Col(n.replace("_", "-")) for n in names],
            *[Col(f"fold{k}", right=True) for k in range(folds)],
            Col("pruned\nafter", right=True), Col(f"OOF {report.metric.label}", right=True),
            Col("95% CI", right=True, no_wrap=True)]
    rows = [[r.number, r.run, r.state, *[_value(r.params.get(n)) for n in names],
             *[views.num(r.fold_aucs.get(k), ".4f") for k in range(folds)],
             "" if r.pruned_after is None else f"{r.pruned_after} fold(s)",
             views.num(r.oof_auc, ".4f"),
             "" if r.interval is None else f"[{r.interval[0]:.4f}, {r.interval[1]:.4f}]"]
            for r in report.rows]
    styles = ["bold green" if i == 0 and r.oof_auc is not None else None
              for i, r in enumerate(report.rows)]
    return views.table(f"study {report.study}: {len(report.rows)} trials "
                       f"({report.counts})", cols, rows, styles=styles,
                       caption=f"fold {report.metric.title} as reported to the pruner; OOF "
                               "score as kf runs ranks by it"
                               + (" with DeLong's 95% interval" if report.metric.name == "auc"
                                  else "") + "; pruned trials are never stacked")


def _value(value) -> str:
    return "" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def plot_history(rows: list[TrialRow], path: Path, title: str, metric: Metric) -> Path:
    """OOF score per trial with the best so far; a pruned trial at its folds' mean score."""
    from matplotlib.ticker import MaxNLocator

    from kfold.plots import plt, save_figure

    fig, ax = plt.subplots(figsize=(7, 4))
    done = [r for r in rows if r.oof_auc is not None]
    pruned = [r for r in rows if r.state == "pruned" and r.fold_aucs]
    ax.plot([r.number for r in done], [r.oof_auc for r in done], "o",
            label=f"finished (OOF {metric.title})")
    ax.plot([r.number for r in pruned],
            [sum(r.fold_aucs.values()) / len(r.fold_aucs) for r in pruned], "x", color="grey",
            label=f"pruned (mean {metric.title} of its folds)")
    line: list[tuple[int, float]] = []
    for r in sorted(done, key=lambda r: r.number):
        best = r.oof_auc if not line or metric.better(r.oof_auc, line[-1][1]) else line[-1][1]
        line.append((r.number, best))
    ax.step([n for n, _ in line], [b for _, b in line], where="post", color="C3",
            label="best so far")
    ax.set(xlabel="trial", ylabel=metric.label, title=f"{title}: optimisation history")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="best")
    return save_figure(fig, path)
