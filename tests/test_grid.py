"""kf grid's file: runs with kf train's options, defaults shared, mistakes named by entry."""

import pytest

from kfold.errors import KfError
from kfold.grid import read_grid


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
    ('[[run]]\nname = "a"\nlrr = 0.1\n', r"run #1 'a': unknown option 'lrr'; known: .*lr"),
    ('[[run]]\nname = "a"\n[[run]]\nname = "a"\n', r"run #2 'a': duplicate run name 'a'"),
    ('[[run]]\nmodel = "simple-cnn"\n[[run]]\nseed = 3\n', "run #2: duplicate run name"),
    ('[[run]]\nname = "a"\nepochs = "ten"\n', r"'epochs' must be int, got 'ten'"),
    ('[[run]]\nname = "a"\naugment = "spin"\n', r"run #1 'a': --augment must be one of"),
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
