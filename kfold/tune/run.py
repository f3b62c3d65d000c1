"""The trials of `kf tune`: each one a kf run `<study>-t<k>` planned and trained through
kfold.train.run like any other, its folds reported to Optuna as steps as they finish.

The study optimises the contest's metric in its direction (AUC up, log loss down). The pruner
compares a trial's fold scores with the best trial's on the same folds (Wilcoxon, paired); a trial it stops keeps the folds it trained, is marked `pruned.json` and gets no
OOF file, so no stack ever takes it. A finished trial is a whole run (OOF, test predictions,
submission), a candidate for `kf stack --runs '<study>-*'`.

With `--executor ray` as many trials run at once as the cluster has room for their folds
(`Executor.slots()` / folds, at least one), each trial in a thread of its own whose folds
are Ray tasks.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import optuna

from kfold import atomic
from kfold.artifacts import folds_fingerprint
from kfold.data.sources import discover
from kfold.errors import KfError, check_whole
from kfold.execute import Executor, LocalExecutor
from kfold.folds import plan_folds
from kfold.progress import Reporter
from kfold.record import FoldResult
from kfold.scoring import get_metric
from kfold.tune.space import Space
from kfold.tune.study import counted, mark_owner, open_study, take_over_dead
from kfold.workspace import Workspace

DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")
UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str | None) -> float | None:
    """`--timeout`: 90, 90s, 30m, 2h or 1d, in seconds."""
    if text is None:
        return None
    match = DURATION.fullmatch(text.strip())
    if not match or float(match[1]) <= 0:
        raise KfError(f"--timeout must be a duration such as 90s, 30m or 2h, got {text!r}")
    return float(match[1]) * UNIT_S[match[2]]


@dataclass(frozen=True)
class Search:
    """What one `kf tune` call does: the study, how many trials it should hold, until when."""

    study: str
    trials: int
    timeout_s: float | None = None
    prune: bool = True
    p_threshold: float | None = None
    sampler_seed: int | None = None


class _Trials:
    """Asks trials while the study holds fewer than it should and time is left; stops every
    worker after the first error."""

    def __init__(self, study: optuna.Study, search: Search) -> None:
        self.study, self.search = study, search
        self.deadline = None if search.timeout_s is None else time.monotonic() + search.timeout_s
        self.lock, self.failed = threading.Lock(), threading.Event()

    def ask(self) -> optuna.Trial | None:
        with self.lock:
            full = counted(self.study) >= self.search.trials and not self._queued()
            if self.failed.is_set() or full:
                return None
            if self.deadline is not None and time.monotonic() >= self.deadline:
                return None
            trial = self.study.ask()
            mark_owner(trial)
            return trial

    def _queued(self) -> bool:
        return bool(self.study.get_trials(deepcopy=False,
                                          states=(optuna.trial.TrialState.WAITING,)))


def tune(ws: Workspace, space: Space, search: Search, *, executor: Executor | None = None,
         skip_bad: bool = False, reporter: Reporter = Reporter()) -> optuna.Study:
    """Run the study's trials up to `search.trials` (finished, pruned or running), resuming
    the trials of a killed call; returns the study."""
    check_whole("--trials", search.trials, 0, 100_000)
    base = space.config(ws, {})
    dataset = discover(ws)
    task = dataset.task
    split, _ = plan_folds(ws, dataset.train, base.n_folds, base.seed, task.kind, task.classes)
    study = open_study(ws, search.study, space, folds_fingerprint(split),
                       task.metric(ws.config.metric), prune=search.prune,
                       p_threshold=search.p_threshold, sampler_seed=search.sampler_seed)
    take_over_dead(study, reporter)
    trials = _Trials(study, search)
    with (executor or LocalExecutor()).open(reporter) as ex:
        at_once = max(1, math.ceil(ex.slots() / base.n_folds))
        if at_once > 1:
            reporter.log(f"{at_once} trials at once ({ex.slots()} folds train at once)")
        work = functools.partial(_work, ws, space, trials, ex, skip_bad, reporter)
        if at_once == 1:
            work()
        else:
            with ThreadPoolExecutor(at_once) as pool:
                for future in [pool.submit(work) for _ in range(at_once)]:
                    future.result()
    return study


def _work(ws: Workspace, space: Space, trials: _Trials, ex: Executor, skip_bad: bool,
          reporter: Reporter) -> None:
    while (trial := trials.ask()) is not None:
        try:
            run_trial(ws, space, trials.study, trial, ex, skip_bad, reporter)
        except Exception:
            trials.failed.set()
            raise


def run_trial(ws: Workspace, space: Space, study: optuna.Study, trial: optuna.Trial,
              ex: Executor, skip_bad: bool, reporter: Reporter) -> None:
    """Train the trial's run fold by fold and tell the study: its OOF score (the contest's
    metric, as kf runs ranks by it), or pruned."""
    from kfold.train.run import plan_run, train_runs

    run = trial.user_attrs.get("run") or f"{study.study_name}-t{trial.number}"
    trial.set_user_attr("run", run)
    params = space.suggest(trial)
    reporter.log(f"{run}: " + ", ".join(f"{k}={v}" for k, v in params.items()))

    reported: set[int] = set()

    def on_fold(name: str, k: int, result: FoldResult) -> None:
        trial.report(result.auc, step=k)
        reported.add(k)
        # After the last fold nothing is left to save: the trial finishes, a stack candidate.
        if len(reported) < plan.cfg.n_folds and trial.should_prune():
            raise optuna.TrialPruned(f"after fold {k}")

    try:
        plan = plan_run(ws, space.config(ws, params), run)
        record = train_runs(ws, [plan], skip_bad=skip_bad, reporter=_Quiet(reporter),
                            executor=ex, on_fold=on_fold)[0]
    except optuna.TrialPruned:
        mark_pruned(ws, run, trial)
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        reporter.log(f"{run}: pruned after {len(trial_steps(study, trial))} fold(s)")
        return
    except Exception as exc:
        trial.set_user_attr("error", str(exc)[:500])
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        if isinstance(exc, KfError):
            raise KfError(f"trial {run!r}: {exc}") from None
        raise
    study.tell(trial, record.oof_auc)
    reporter.log(f"{run}: OOF {get_metric(record.metric).title} {record.oof_auc:.4f}")


def trial_steps(study: optuna.Study, trial: optuna.Trial) -> dict[int, float]:
    return study.get_trials(deepcopy=False)[trial.number].intermediate_values


def mark_pruned(ws: Workspace, run: str, trial: optuna.Trial) -> None:
    """pruned.json in the run folder: which study stopped it, after which folds."""
    steps = trial_steps(trial.study, trial)
    atomic.write_json(ws.run_files(run).pruned, {
        "study": trial.study.study_name, "trial": trial.number,
        "fold_aucs": {str(k): v for k, v in sorted(steps.items())}})


class _Quiet(Reporter):
    """A trial's messages as lines only: bars and live tables of trials running side by side
    would fight over the terminal."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter

    def log(self, message: str) -> None:
        self.reporter.log(message)
