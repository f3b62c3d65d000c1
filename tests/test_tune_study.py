"""kf tune's study in the workspace: a killed call resumes without retraining finished folds,
two processes share a study without training the same trial, and a study is tied to its
space and its fold split."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest

import kfold.execute
from kfold.data.sources import discover
from kfold.errors import KfError
from kfold.folds import write_folds
from kfold.tune import Search, read_space, tune
from kfold.workspace import Workspace
from tests.tune_helpers import FakeTraining

SPACE = "[defaults]\nepochs = 1\n[space]\nlr = [1e-4, 1e-3, 1e-2]\n"
HELPER = Path(__file__).with_name("tune_helpers.py")


@pytest.fixture
def space_file(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text(SPACE)
    return path


def test_resume_after_kill_9_keeps_finished_folds(workspace4, space_file, monkeypatch):
    ready = workspace4.root / "ready"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HELPER.parent.parent),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(HELPER), str(workspace4.root), str(space_file),
                             "s-t1", "fold2", str(ready)], env=env)
    try:
        for _ in range(1200):
            if ready.exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert ready.exists(), "the tune process never reached s-t1 fold2"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    files = workspace4.run_files("s-t1")
    assert files.result("fold1").exists() and not files.result("fold2").exists()

    training = FakeTraining()
    monkeypatch.setattr(kfold.execute, "train_job", training)
    study = tune(workspace4, read_space(space_file, workspace4),
                 Search("s", trials=3, sampler_seed=0))
    assert ("s-t1", "fold0") not in training.trained and ("s-t1", "fold1") not in training.trained
    assert ("s-t1", "fold2") in training.trained
    finished = [t for t in study.trials if t.state != optuna.trial.TrialState.FAIL]
    # trial 1 is failed and queued again as trial 2, under its run's name; trial 3 is new
    assert [t.user_attrs["run"] for t in finished] == ["s-t0", "s-t1", "s-t3"]
    assert {t.state for t in finished} <= {optuna.trial.TrialState.COMPLETE,
                                           optuna.trial.TrialState.PRUNED}


def test_two_processes_on_one_study_train_different_trials(workspace4, space_file,
                                                            monkeypatch):
    training = FakeTraining(pause=0.05)
    monkeypatch.setattr(kfold.execute, "train_job", training)
    space = read_space(space_file, workspace4)
    tune(workspace4, space, Search("s", trials=1, prune=False))  # the study and folds.csv
    errors = []

    def one_process():  # its own Study object and journal reader, as another process has
        try:
            tune(workspace4, space, Search("s", trials=5, prune=False))
        except Exception as exc:  # noqa: BLE001  (reported by the assert below)
            errors.append(exc)

    workers = [threading.Thread(target=one_process) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    assert len(training.trained) == len(set(training.trained)) == 5 * 4
    study = optuna.load_study(study_name="s", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(workspace4.tune_dir / "s.journal"))))
    assert sorted(t.user_attrs["run"] for t in study.trials) == [f"s-t{k}" for k in range(5)]


def test_a_study_of_another_fold_split_is_refused_before_training(workspace4, space_file,
                                                                  monkeypatch):
    training = FakeTraining()
    monkeypatch.setattr(kfold.execute, "train_job", training)
    space = read_space(space_file, workspace4)
    tune(workspace4, space, Search("s", trials=1, prune=False))
    resplit = Workspace.init(workspace4.root, seed=7)  # kfold.toml and folds.csv: seed 7
    write_folds(resplit, discover(resplit).train, force=True)
    trained = list(training.trained)
    with pytest.raises(KfError, match="study 's' was run on another fold split"):
        tune(resplit, space, Search("s", trials=2, prune=False))
    assert training.trained == trained


def test_a_study_of_another_space_is_refused(workspace4, space_file, tmp_path, monkeypatch):
    monkeypatch.setattr(kfold.execute, "train_job", FakeTraining())
    tune(workspace4, read_space(space_file, workspace4), Search("s", trials=1, prune=False))
    other = tmp_path / "other.toml"
    other.write_text("[space]\nlr = [1e-3, 1e-2]\n")
    with pytest.raises(KfError, match="study 's' was run with another space"):
        tune(workspace4, read_space(other, workspace4), Search("s", trials=2))
