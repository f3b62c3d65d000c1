"""kf grid: runs with kf train's options, defaults shared, mistakes named by entry, every
fold of every run trained in one executor call."""

from dataclasses import replace

import numpy as np
import pytest

from kfold import artifacts
from kfold.errors import KfError
from kfold.execute import LocalExecutor
from kfold.grid import read_grid, run_grid


def write(tmp_path, text):
    path = tmp_path / "grid.toml"
    path.write_text(text)
    return path


def test_runs_take_defaults_and_workspace_settings(workspace, tmp_path):
    path = write(tmp_path, """
[defaults]
epochs = 2
image-size = 32

[[run]]
name = "a"
seed = 1

[[run]]
model = "simple-cnn"
batch_size = 8
folds = 3
""")
    a, b = read_grid(path, workspace)
    assert (a.name, a.cfg.seed, a.cfg.epochs, a.cfg.image_size) == ("a", 1, 2, 32)
    assert a.cfg.n_folds == workspace.config.n_folds
    assert b.name == "simple-cnn-32px" and b.cfg.batch_size == 8 and b.cfg.n_folds == 3
    assert b.cfg.seed == workspace.config.seed


@pytest.mark.parametrize("text, message", [
    ('[[run]]\nname = "a"\nlrr = 0.1\n', r"\[\[run\]\] 'a': unknown option 'lrr'; known: .*lr"),
    ('[[run]]\nname = "a"\n[[run]]\nname = "a"\n', r"\[\[run\]\] 'a': duplicate run name 'a' \(run #1"),
    ('[[run]]\nmodel = "simple-cnn"\n[[run]]\nseed = 3\n', r"\[\[run\]\] #2: duplicate run name"),
    ('[[run]]\nname = "a"\nepochs = "ten"\n', r"'a': epochs = 'ten' must be a whole number from 1"),
    ('[[run]]\nname = "b"\nlr = -1\n', r"^grid.toml \[\[run\]\] 'b': lr = -1 must be a number in \(0, 10\]$"),
    ('[[run]]\nname = "a"\naugment = "spin"\n', r"'a': augment = 'spin' must be none, flip or d4"),
    ('[[run]]\nname = 3\n', r"\[\[run\]\] 3: name = 3 must be a text"),
    ('[defaults]\nepoch = 3\n[[run]]\nname = "a"\n', r"\[defaults\]: unknown option 'epoch'"),
    ('[defaults]\nepochs = 3\n', "no runs"),
    ('[runs]\nx = 1\n', r"unknown table\(s\) \['runs'\]"),
    ('[[run]\nname = "a"', "not valid TOML"),
])
def test_bad_grid_files_name_the_entry(workspace, tmp_path, text, message):
    with pytest.raises(KfError, match=message):
        read_grid(write(tmp_path, text), workspace)


def test_missing_grid_file(workspace, tmp_path):
    with pytest.raises(KfError, match="not found"):
        read_grid(tmp_path / "nope.toml", workspace)


class Recording(LocalExecutor):
    """The local executor, remembering what each call was given."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def run(self, jobs, arrays, run_dirs, on_done, reporter):
        self.calls.append(([(j.run, j.tag, j.arrays) for j in jobs], sorted(arrays)))
        super().run(jobs, arrays, run_dirs, on_done, reporter)


def test_every_fold_of_every_run_goes_to_one_executor_call(workspace, tmp_path):
    path = write(tmp_path, """
[defaults]
epochs = 1
batch-size = 16
device = "cpu"

[[run]]
name = "a"

[[run]]
name = "b"
image-size = 24
model-seed = 7
""")
    runs = read_grid(path, workspace)
    ex = Recording()
    a, b = run_grid(workspace, runs, executor=ex)
    [(jobs, arrays)] = ex.calls
    assert sorted(jobs) == [("a", "fold0", "data0"), ("a", "fold1", "data0"),
                            ("b", "fold0", "data1"), ("b", "fold1", "data1")]
    assert arrays == ["data0", "data1"]  # one decoding per image size
    assert (a.name, b.name) == ("a", "b") and b.config.model_seed == 7
    assert artifacts.read_oof(workspace.oof_path("b")).shape[0] == 60

    again = Recording()
    run_grid(workspace, runs, executor=again)
    assert again.calls == []  # both finished: nothing trained


def test_model_seed_changes_the_weights_not_the_split(workspace, tiny_cfg):
    from kfold.train.run import train_run

    one = train_run(workspace, replace(tiny_cfg, epochs=1), "s0")
    two = train_run(workspace, replace(tiny_cfg, epochs=1, model_seed=5), "s5")
    assert one.folds_fingerprint == two.folds_fingerprint
    oof_one = artifacts.read_oof(workspace.oof_path("s0"))["pred"]
    oof_two = artifacts.read_oof(workspace.oof_path("s5"))["pred"]
    assert not np.allclose(oof_one, oof_two)


def test_runs_of_different_splits_are_refused_before_anything_is_written(workspace, tmp_path):
    path = write(tmp_path, '[[run]]\nname = "a"\n[[run]]\nname = "b"\nseed = 3\n')
    with pytest.raises(KfError, match=r"runs 'a' and 'b' would use different fold splits"):
        run_grid(workspace, read_grid(path, workspace), executor=Recording())
    assert not workspace.folds_path.exists() and not workspace.models_dir.exists()


def test_a_run_refused_by_its_checks_is_named_as_the_grids_entry(workspace, tmp_path):
    from kfold.data.sources import discover
    from kfold.folds import write_folds

    write_folds(workspace, discover(workspace).train)  # 2 folds
    path = write(tmp_path, '[[run]]\nname = "a"\n[[run]]\nname = "b"\nfolds = 3\n')
    with pytest.raises(KfError, match=r"^grid run 'b': .*folds.csv has 2 folds but --folds 3"):
        run_grid(workspace, read_grid(path, workspace), executor=Recording())
    assert not workspace.models_dir.exists()


class Stop(Exception):
    """Raised where the folds would start training: the test is about what comes before."""


class StopBeforeTraining(LocalExecutor):
    def run(self, jobs, arrays, run_dirs, on_done, reporter):
        raise Stop


def test_the_data_sources_are_scanned_once_for_every_run_of_a_grid(workspace, tmp_path,
                                                                    monkeypatch):
    """Discovering stats every image file: one scan per command, not per run and step."""
    from kfold.data import sources

    scans, real = [], sources.discover
    for target in ("kfold.data.sources.discover", "kfold.train.run.discover",
                   "kfold.data.prepared.discover"):
        monkeypatch.setattr(target, lambda ws: scans.append(ws) or real(ws))
    runs = read_grid(write(tmp_path, '[defaults]\nepochs = 1\nimage-size = 32\n'
                                     '[[run]]\nname = "a"\n[[run]]\nname = "b"\ncrop = 2\n'),
                     workspace)
    with pytest.raises(Stop):
        run_grid(workspace, runs, executor=StopBeforeTraining())
    assert len(scans) == 1
