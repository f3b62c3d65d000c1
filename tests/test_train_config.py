"""TrainConfig: kfold.toml's defaults merged in one place; options given win."""

from kfold.train_config import TrainConfig
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


def test_epochs_and_lr_default_per_training_mode():
    from kfold.train_config import MODE_DEFAULTS

    head, finetune = TrainConfig(train_mode="head"), TrainConfig()
    assert (head.epochs, head.lr) == (10, 1e-2) == tuple(MODE_DEFAULTS["head"].values())
    assert (finetune.epochs, finetune.lr) == (20, 1e-3)
    warm_start = TrainConfig(train_mode="head", unfreeze_after=2)  # then fine-tuning
    assert (warm_start.epochs, warm_start.lr) == (20, 1e-3)
    assert TrainConfig(train_mode="head", lr=3e-3, epochs=4).lr == 3e-3
    again = TrainConfig.from_dict(head.to_dict())  # run.json keeps the resolved values
    assert again == head and again.to_dict()["lr"] == 1e-2
