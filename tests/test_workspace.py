"""kfold.toml: defaults, round trip, clear errors."""

import pytest

from kfold.errors import KfError
from kfold.workspace import Config, Workspace


def test_folder_without_config_has_defaults(tmp_path):
    ws = Workspace.load(tmp_path)
    assert ws.config == Config()
    assert ws.oof_path("r") == tmp_path / "oof" / "r.parquet"


def test_init_writes_overrides_and_load_reads_them_back(tmp_path, monkeypatch):
    Workspace.init(tmp_path, n_folds=3, competition="x", public_fraction=0.25)
    monkeypatch.setenv("KF_WORKSPACE", str(tmp_path))
    ws = Workspace.load()
    assert (ws.config.n_folds, ws.config.competition, ws.config.seed) == (3, "x", 42)
    assert ws.config.public_fraction == 0.25  # a float key is read back, not refused


@pytest.mark.parametrize("text, message", [
    ("folds = 5\n", "unknown key"),
    ("n_folds = \n", "not valid TOML"),
    ("public_fraction = 1.5\n", r"^kfold.toml: public_fraction = 1.5 must be a number in \(0, 1\)$"),
    ("image_size = 3000\n", r"^kfold.toml: image_size = 3000 must be a whole number from 8 to 2048$"),
    ("public_fraction = true\n", "public_fraction = True must be a number"),
])
def test_bad_config_is_one_clear_error(tmp_path, text, message):
    (tmp_path / "kfold.toml").write_text(text)
    with pytest.raises(KfError, match=message):
        Workspace.load(tmp_path)
