"""kf tune's space file: kf train's options as grid files write them, every value a trial
could get checked as kf train checks it, before anything trains."""

import pytest

from kfold.errors import KfError
from kfold.tune.space import Range, read_space


def write(tmp_path, text):
    path = tmp_path / "space.toml"
    path.write_text(text)
    return path


def test_defaults_fixed_ranges_and_choices_searched(workspace, tmp_path):
    space = read_space(write(tmp_path, """
[defaults]
model = "simple-cnn"
image-size = 32
[space]
lr = { low = 1e-4, high = 1e-2, log = true }
batch-size = { low = 8, high = 32 }
augment = ["flip", "d4"]
"""), workspace)
    assert space.defaults == {"model": "simple-cnn", "image_size": 32}
    assert space.params == {"lr": Range(1e-4, 1e-2, log=True, whole=False),
                            "batch_size": Range(8, 32, log=False, whole=True),
                            "augment": ("flip", "d4")}
    cfg = space.config(workspace, {"lr": 3e-3, "batch_size": 16, "augment": "flip"})
    assert (cfg.lr, cfg.batch_size, cfg.augment, cfg.image_size) == (3e-3, 16, "flip", 32)
    assert cfg.n_folds == workspace.config.n_folds


@pytest.mark.parametrize("text, message", [
    ('[space]\nlrr = [0.1]\n', r"space.toml \[space\]: unknown option 'lrr'; known: .*lr"),
    ('[space]\nlr = { low = 0.01, high = 0.01 }\n', r"low \(0.01\) must be below high"),
    ('[space]\nlr = { low = 0.1, high = 0.001 }\n', r"low \(0.1\) must be below high"),
    ('[space]\ndropout = { low = 0.0, high = 0.5, log = true }\n', "log range must stay above 0"),
    ('[space]\naugment = ["flip", "spin"]\n', r"\[space\]: augment = 'spin' must be none, flip or d4"),
    ('[space]\nmodel = ["simple-cnn", "no-such-net"]\n', r"\[space\]: model = 'no-such-net': .*no-such-net"),
    ('[space]\nlr = { low = 1e-3, high = 50.0 }\n', r"\[space\]: lr = 50.0 must be a number in \(0, 10\]"),
    ('[space]\nepochs = ["two"]\n', r"epochs = 'two' must be a whole number"),
    ('[space]\naugment = { low = 1, high = 2 }\n', "a range needs a number option"),
    ('[space]\nlr = { low = 1e-3, top = 1e-2 }\n', r"a range is \{ low"),
    ('[space]\nlr = 0.01\n', r"a fixed value goes in \[defaults\]"),
    ('[space]\nlr = []\n', "empty list of choices"),
    ('[space]\nfolds = [3, 4]\n', "cannot be searched: the trials share the study's fold split"),
    ('[space]\nname = ["a"]\n', "cannot be searched: trials are named"),
    ('[defaults]\nlr = 0.01\n[space]\nlr = [0.1]\n', r"also fixed in \[defaults\]"),
    ('[defaults]\nepochs = 2\n', "nothing to search"),
    ('[defaults]\nepoch = 2\n[space]\nlr = [0.1]\n', r"space.toml \[defaults\]: unknown option 'epoch'"),
    ('[spaces]\nlr = [0.1]\n', r"unknown table\(s\) \['spaces'\]"),
    ('[space\nlr = [0.1]', "not valid TOML"),
])
def test_bad_spaces_name_the_value(workspace, tmp_path, text, message):
    with pytest.raises(KfError, match=message):
        read_space(write(tmp_path, text), workspace)


def test_missing_space_file(workspace, tmp_path):
    with pytest.raises(KfError, match="space file .* not found"):
        read_space(tmp_path / "nope.toml", workspace)
