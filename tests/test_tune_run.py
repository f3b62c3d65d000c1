"""kf tune's trials: each a kf run through plan_run/train_runs/the executor (fold training
stood in by tune_helpers.FakeTraining, whose AUC follows the learning rate), folds reported
to the Wilcoxon pruner, pruned trials kept but never stacked, trials side by side when the
executor has room."""

import threading

import optuna
import pytest

import kfold.execute
from kfold import artifacts
from kfold.errors import KfError
from kfold.execute import LocalExecutor
from kfold.scoring import get_metric
from kfold.stack import stack_runs
from kfold.tune import Search, read_space, tune, tune_report
from kfold.tune.run import parse_duration
from kfold.tune.study import open_study
from tests.tune_helpers import FakeTraining

SPACE = "[defaults]\nepochs = 1\n[space]\nlr = [1e-4, 1e-3, 1e-2]\n"


@pytest.fixture
def fake(monkeypatch):
    training = FakeTraining()
    monkeypatch.setattr(kfold.execute, "train_job", training)
    return training


@pytest.fixture
def space(workspace4, tmp_path):
    path = tmp_path / "space.toml"
    path.write_text(SPACE)
    return read_space(path, workspace4)


def queued(ws, space, *lrs):
    """The study with trials queued in this order (the sampler's choices, made for it)."""
    from kfold.data.sources import discover
    from kfold.folds import plan_folds

    cfg = space.config(ws, {})
    split, _ = plan_folds(ws, discover(ws).train, cfg.n_folds, cfg.seed)
    study = open_study(ws, "s", space, artifacts.folds_fingerprint(split), get_metric("auc"))
    for lr in lrs:
        study.enqueue_trial({"lr": lr})
    return study


def test_a_study_finds_the_best_learning_rate(workspace4, space, fake):
    study = tune(workspace4, space, Search("s", trials=6, prune=False, sampler_seed=0))
    assert study.best_trial.params == {"lr": 1e-2}
    assert study.best_trial.user_attrs["run"] == f"s-t{study.best_trial.number}"
    record = artifacts.read_run(workspace4, study.best_trial.user_attrs["run"])
    assert study.best_value == pytest.approx(record.oof_auc)
    assert sorted(study.best_trial.intermediate_values) == [0, 1, 2, 3]


def test_the_pruner_stops_a_worse_trial_after_three_folds_not_a_better_one(
        workspace4, space, fake):
    queued(workspace4, space, 1e-3, 1e-4, 1e-2)
    study = tune(workspace4, space, Search("s", trials=3))
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED,
                      optuna.trial.TrialState.COMPLETE]
    assert [tag for run, tag in fake.trained if run == "s-t1"] == ["fold0", "fold1", "fold2"]
    pruned = workspace4.run_files("s-t1")
    assert pruned.pruned.exists() and pruned.result("fold2").exists()
    assert not workspace4.oof_path("s-t1").exists()  # no OOF: never a stack candidate
    rows = {r.run: r for r in tune_report(workspace4, study, space).rows}
    assert rows["s-t1"].pruned_after == 3 and rows["s-t1"].oof_auc is None
    assert rows["s-t2"].oof_auc > rows["s-t0"].oof_auc


def test_a_trial_worse_on_every_fold_is_not_pruned_after_its_last_fold(workspace, fake):
    """With 2 folds only the last fold could prune (p >= 1/4): nothing left to save."""
    path = workspace.root / "space.toml"
    path.write_text(SPACE)
    space = read_space(path, workspace)
    queued(workspace, space, 1e-2, 1e-4)
    study = tune(workspace, space, Search("s", trials=2, p_threshold=0.3))
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2
    assert workspace.oof_path("s-t1").exists()


def test_finished_trials_stack_and_pruned_ones_are_left_out(workspace4, space, fake):
    queued(workspace4, space, 1e-2, 1e-4, 1e-3)
    tune(workspace4, space, Search("s", trials=3))
    report = stack_runs(workspace4, runs=["s-*"], blenders="mean")
    assert report.runs == ["s-t0", "s-t2"]
    with pytest.raises(KfError, match="'x-\\*' matches no run"):
        stack_runs(workspace4, runs=["x-*"], blenders="mean")


def test_report_names_the_best_trial_as_a_kf_train_command(workspace4, space, fake):
    queued(workspace4, space, 1e-3, 1e-2)
    study = tune(workspace4, space, Search("s", trials=2, prune=False))
    report = tune_report(workspace4, study, space)
    assert report.best_command == "kf train --epochs 1 --lr 0.01 --name s-t1-again"
    assert report.importances == {"lr": 1.0}
    assert report.history_png.exists()


def test_a_second_call_continues_the_study_up_to_its_trials(workspace4, space, fake):
    tune(workspace4, space, Search("s", trials=2, prune=False, sampler_seed=0))
    first = list(fake.trained)
    study = tune(workspace4, space, Search("s", trials=3, prune=False, sampler_seed=1))
    assert len(study.trials) == 3 and fake.trained[:len(first)] == first
    assert {run for run, _ in fake.trained[len(first):]} == {"s-t2"}


class Slots(LocalExecutor):
    """Room for 8 folds at once: with 4 folds a trial, two trials run side by side."""

    def slots(self) -> int:
        return 8


def test_trials_run_side_by_side_when_the_executor_has_room(workspace4, space, monkeypatch):
    both = threading.Barrier(2, timeout=60)
    training = FakeTraining()

    def meet_then_train(job, *args):
        if job.tag == "fold0":
            both.wait()  # each of two trials' first folds waits for the other's
        return training(job, *args)

    monkeypatch.setattr(kfold.execute, "train_job", meet_then_train)
    study = tune(workspace4, space, Search("s", trials=2, prune=False), executor=Slots())
    assert {t.state for t in study.trials} == {optuna.trial.TrialState.COMPLETE}
    assert len(training.trained) == 8


@pytest.mark.parametrize("text, seconds", [("90", 90), ("90s", 90), ("30m", 1800),
                                            ("2h", 7200), ("1.5d", 129600)])
def test_timeouts(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "2 hours", "0", "-1h", "h"])
def test_bad_timeouts(text):
    with pytest.raises(KfError, match="--timeout must be a duration"):
        parse_duration(text)
