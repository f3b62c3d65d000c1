"""The Optuna study of `kf tune`, kept in the workspace as an Optuna journal file
(`tune/<study>.journal`): every ask, report and tell is appended under a file lock, so a
killed `kf tune` continues where it stopped and two `kf tune` processes on one study share
its trials (each asks its own).

A study remembers its space and its fold split: a trial's folds are paired with the best
trial's by fold index (the Wilcoxon pruner), which only means something on one split.
A trial whose process died is taken over: its run is queued again under the same name, with
the same values, so the folds it finished are read back, not trained again.
"""

from __future__ import annotations

import os
import socket
import warnings

import optuna

from kfold.errors import KfError
from kfold.locks import pid_alive
from kfold.progress import Reporter
from kfold.scoring import Metric, get_metric
from kfold.tune.space import Space
from kfold.workspace import Workspace, check_name

optuna.logging.set_verbosity(optuna.logging.WARNING)
# At p < 0.15 the one-sided Wilcoxon test of three paired folds (p = 1/8 when all three are
# worse) can prune; two folds never can (p >= 1/4).
P_THRESHOLD = 0.15


def open_study(ws: Workspace, name: str, space: Space, split: str, metric: Metric, *,
               prune: bool = True, p_threshold: float | None = None,
               sampler_seed: int | None = None) -> optuna.Study:
    """Create the study or load it; a study of another space, fold split or metric is
    refused. The study's direction is the metric's. `p_threshold` None: P_THRESHOLD."""
    check_name(name, "study name")
    p_threshold = P_THRESHOLD if p_threshold is None else p_threshold
    if not 0 < p_threshold < 1:
        raise KfError(f"--prune-p must be between 0 and 1, got {p_threshold}")
    ws.tune_dir.mkdir(parents=True, exist_ok=True)
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(ws.tune_dir / f"{name}.journal")))
    with warnings.catch_warnings():  # "experimental" since Optuna 3.6, unchanged since
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        pruner = (optuna.pruners.WilcoxonPruner(p_threshold=p_threshold) if prune
                  else optuna.pruners.NopPruner())
    sampler = optuna.samplers.TPESampler(seed=sampler_seed)
    existed = name in optuna.get_all_study_names(storage)
    if existed:  # loaded without a write
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler,
                                  pruner=pruner)
    else:
        study = optuna.create_study(study_name=name, storage=storage, sampler=sampler,
                                    direction="maximize" if metric.higher_is_better
                                    else "minimize", pruner=pruner, load_if_exists=True)
    kept = {"space": space.to_dict(), "folds_fingerprint": split, "metric": metric.name}
    for key, value in kept.items():
        if key not in study.user_attrs:  # "metric": a study of an earlier kf maximised AUC
            study.set_user_attr(key, "auc" if key == "metric" and existed else value)
    attrs = study.user_attrs
    if attrs["metric"] != metric.name:
        raise KfError(f"study {name!r} optimised {get_metric(attrs['metric']).title}, and "
                      f"the contest is now scored by {metric.title}: start another --study")
    if attrs["folds_fingerprint"] != split:
        raise KfError(f"study {name!r} was run on another fold split "
                      f"({attrs['folds_fingerprint']}) than folds.csv now holds ({split}); "
                      "its trials would not pair fold by fold: start another --study")
    if attrs["space"] != kept["space"]:
        raise KfError(f"study {name!r} was run with another space ({attrs['space']}); "
                      "start another --study for this one")
    return study


def mark_owner(trial: optuna.Trial) -> None:
    """Who runs the trial: another process takes it over only once this one is gone."""
    trial.set_user_attr("owner", [os.getpid(), socket.gethostname()])


def take_over_dead(study: optuna.Study, reporter: Reporter) -> list[str]:
    """Queue again, under their runs' names, the running trials whose process is gone; the
    storage lets only one process fail a trial, so only one queues it. Returns the runs."""
    taken = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        owner = trial.user_attrs.get("owner")
        run = trial.user_attrs.get("run")
        if owner is None or run is None or _alive(*owner):
            continue
        try:
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        except (ValueError, RuntimeError):
            continue  # another process took it over first
        study.enqueue_trial(trial.params, user_attrs={"run": run, "resumes": trial.number})
        reporter.log(f"{run}: its kf tune process is gone; queued again (finished folds kept)")
        taken.append(run)
    return taken


def _alive(pid: int, host: str) -> bool:
    return host != socket.gethostname() or pid_alive(pid)


def counted(study: optuna.Study) -> int:
    """Trials that count towards --trials: finished, pruned, running or queued."""
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED,
              optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING)
    return len(study.get_trials(deepcopy=False, states=states))
