"""The settings table (kfold.settings): each setting declared once; TrainConfig, kfold.toml,
kf train's options and grid files are derived from it, and a bad value is named where the
user wrote it."""

from __future__ import annotations

import dataclasses

import pytest
import typer

from kfold.cli import app
from kfold.errors import KfError
from kfold.grid import KEYS, read_grid
from kfold.settings import SETTING, SETTINGS, TOML, TRAIN, settings_for
from kfold.train_config import TrainConfig
from kfold.workspace import Config, Workspace


def test_the_configs_fields_are_the_table_rows_with_their_defaults():
    for cls, where in ((TrainConfig, TRAIN), (Config, TOML)):
        fields = {f.name: f.default for f in dataclasses.fields(cls)}
        assert fields == {s.name: s.default for s in settings_for(where)}


def test_kf_train_takes_one_option_per_training_setting_with_its_help():
    train = typer.main.get_command(app).commands["train"]
    options = {p.name: p for p in train.params}
    for s in settings_for(TRAIN):
        assert s.cli in options[s.name].opts and options[s.name].help.startswith(s.described)
    assert options["n_folds"].opts == ["--folds", "-k"]
    assert options["augment"].help.startswith("Batch augmentation: none, flip or d4.")


def test_a_grid_file_takes_every_spelling_of_every_training_setting():
    assert {KEYS[k].name for k in ("folds", "n_folds", "image-size", "image_size")} == {
        "n_folds", "image_size"}
    assert {s.name for s in KEYS.values()} == {s.name for s in settings_for(TRAIN)}


@pytest.mark.parametrize("name, bad, rule", [
    ("image_size", 3000, "a whole number from 8 to 2048"),
    ("n_folds", 1, "a whole number from 2 to 100"),
    ("seed", -1, "a whole number from 0 to 4294967295"),
])
def test_one_range_wherever_the_value_is_written(tmp_path, name, bad, rule):
    """kfold.toml, kf train's option, a grid file and TrainConfig refuse the same values,
    each naming where the value was written."""
    s = SETTING[name]
    (tmp_path / "kfold.toml").write_text(f"{name} = {bad}\n")
    with pytest.raises(KfError, match=rf"^kfold.toml: {name} = {bad} must be {rule}$"):
        Workspace.load(tmp_path)
    ws = Workspace.init(tmp_path / "ok")
    with pytest.raises(KfError, match=rf"^{s.cli} {bad} must be {rule}$"):
        TrainConfig.from_options(ws, {name: bad})
    grid = tmp_path / "grid.toml"
    grid.write_text(f'[[run]]\nname = "b"\n{name} = {bad}\n')
    with pytest.raises(KfError, match=rf"^grid.toml \[\[run\]\] 'b': {name} = {bad} must be "):
        read_grid(grid, ws)
    with pytest.raises(KfError, match=rf"^{name} = {bad} must be {rule}$"):
        TrainConfig(**{name: bad})


@pytest.mark.parametrize("value", [True, "3", 3.5, float("nan"), None])
def test_a_whole_number_setting_refuses_other_types(value):
    with pytest.raises(KfError, match="batch_size = .* must be a whole number from 1"):
        TrainConfig(batch_size=value)


def test_optional_settings_take_none_and_texts_their_rule():
    assert TrainConfig(pos_weight=None, in_chans=None).pos_weight is None
    for name, bad, rule in (("in_chans", 2, "1 or 3"), ("tta", "x", "none, flip or d4"),
                            ("device", "gpu", "auto, cpu, cuda, cuda:N or mps"),
                            ("weights", "", "none, imagenet or a file path"),
                            ("dropout", 1.0, r"a number in \[0, 1\)")):
        with pytest.raises(KfError, match=f"must be {rule}$"):
            TrainConfig(**{name: bad})


def test_every_row_is_complete():
    assert len({s.name for s in SETTINGS}) == len(SETTINGS)
    for s in SETTINGS:
        assert s.help and s.where and set(s.where) <= {TRAIN, TOML}
        if s.default is not None:
            s.check(s.default, s.name)  # the default fits its own rule
