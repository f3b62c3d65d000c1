"""TrainConfig: kfold.toml's defaults merged in one place; options given win."""

from kfold.train.config import TrainConfig
from kfold.workspace import Workspace


def test_for_workspace_takes_folds_seed_and_size_from_kfold_toml(tmp_path):
    ws = Workspace.init(tmp_path, n_folds=3, seed=7, image_size=48)
    cfg = TrainConfig.for_workspace(ws, model="simple-cnn", n_folds=None, seed=None,
                                    image_size=None, lr=None)
    assert (cfg.n_folds, cfg.seed, cfg.image_size, cfg.lr) == (3, 7, 48, TrainConfig().lr)


def test_for_workspace_options_given_win_even_when_falsy(tmp_path):
    ws = Workspace.init(tmp_path, n_folds=3, seed=7)
    cfg = TrainConfig.for_workspace(ws, n_folds=4, seed=0)
    assert (cfg.n_folds, cfg.seed) == (4, 0)
