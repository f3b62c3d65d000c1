"""The known traps of Keras k-fold loops, one test each: metric-name suffixes, best weights
restored only when early stopping fires, callback state carried into the next fold; and an
interrupted fold that continues."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kfold.backends import FoldData
from kfold.backends.keras import keras
from kfold.backends.keras.fold import fit_epochs, load_checkpoint, predict, train_fold
from kfold.progress import Reporter
from kfold.train_config import TrainConfig

SIZE = 16


def cfg(**kw) -> TrainConfig:
    base = {"backend": "keras", "model": "simple-cnn", "image_size": SIZE, "epochs": 3,
            "batch_size": 8, "patience": 10, "augment": "none", "lr": 1e-3}
    return TrainConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def data() -> FoldData:
    rng = np.random.default_rng(0)
    n = 48
    y = (np.arange(n) % 4 == 0).astype(int)
    x = rng.integers(0, 60, (n, SIZE, SIZE), dtype=np.uint8)
    x[y == 1, 4:10, 4:10] = 220  # a bright "defect"
    return FoldData(x[:32], y[:32], x[32:], y[32:])


class ScriptedAuc(keras.callbacks.Callback):
    """Replaces the epoch's val_auc with a script before the checkpoint, early stopping and
    plateau callbacks read it (they see the same logs dict), and keeps each epoch's weights."""

    def __init__(self, script):
        super().__init__()
        self.script, self.weights = list(script), []

    def on_epoch_end(self, epoch, logs=None):
        logs["val_auc"] = self.script[epoch]
        self.weights.append(self.model.get_weights())


class Recorder(Reporter):
    def __init__(self):
        self.lines = []

    def log(self, message):
        self.lines.append(message)


def test_metric_names_do_not_gain_suffixes(data, tmp_path):
    # The trap is real: a default-named metric built twice in one process gets a suffix.
    keras.metrics.AUC()
    assert keras.metrics.AUC().name.startswith("auc_")
    for k in range(2):  # two folds in one process, models rebuilt each time
        train_fold(cfg(epochs=1), data, data.val_x, tmp_path, f"fold{k}")
        history = pd.read_csv(tmp_path / f"history_fold{k}.csv")
        assert {"auc", "train_auc", "val_loss", "precision", "recall"} <= set(history.columns)
        assert not [c for c in history.columns if c.rstrip("0123456789").endswith("_")]


def test_best_checkpoint_is_used_when_early_stopping_never_fires(data, tmp_path):
    script = ScriptedAuc([0.9, 0.6, 0.7])  # best epoch 0; patience 10: no early stop
    result = train_fold(cfg(), data, data.val_x, tmp_path, "fold0", extra_callbacks=(script,))
    val_pred, test_pred = result.val_pred, result.test_pred
    assert result.best_epoch == 0 and result.epochs_run == 3
    assert not result.extra["stopped_early"]
    assert result.val_auc == pytest.approx(0.9)
    model = load_checkpoint(tmp_path / "fold0.keras")
    model_epoch0 = keras.models.clone_model(model)
    model_epoch0.set_weights(script.weights[0])
    np.testing.assert_allclose(val_pred, predict(model_epoch0, data.val_x, cfg()), atol=1e-6)
    last = keras.models.clone_model(model)
    last.set_weights(script.weights[-1])
    assert not np.allclose(val_pred, predict(last, data.val_x, cfg()), atol=1e-6)
    np.testing.assert_allclose(test_pred, val_pred)  # test_x is val_x here


def test_callback_state_does_not_leak_into_the_next_fold(data, tmp_path):
    # fold 0: AUC falls every epoch -> the plateau halves the learning rate, then early stop
    falling = ScriptedAuc([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    first = train_fold(cfg(epochs=6, patience=2), data, data.val_x, tmp_path, "fold0",
                       extra_callbacks=(falling,))
    h0 = pd.read_csv(tmp_path / "history_fold0.csv")
    assert first.extra["stopped_early"] and first.epochs_run == 3
    assert h0["lr"].iloc[-1] < 1e-3 * 0.99
    # fold 1 in the same process: fresh learning rate, counters and checkpoint best
    rising = ScriptedAuc([0.1, 0.2, 0.3])
    second = train_fold(cfg(epochs=3, patience=2), data, data.val_x, tmp_path, "fold1",
                        extra_callbacks=(rising,))
    h1 = pd.read_csv(tmp_path / "history_fold1.csv")
    assert h1["lr"].tolist() == pytest.approx([1e-3] * 3)
    assert second.epochs_run == 3 and not second.extra["stopped_early"]
    assert second.best_epoch == 2  # 0.1 beat nothing: the old fold's 0.9 was forgotten


class Interrupt(keras.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise KeyboardInterrupt


def test_an_interrupted_fold_continues(data, tmp_path):
    c = cfg(epochs=4)
    with pytest.raises(KeyboardInterrupt):
        fit_epochs(c, data.train_x, data.train_y, data.val_x, data.val_y, tmp_path, "fold0",
                 extra_callbacks=(ScriptedAuc([0.5, 0.8, 0.6, 0.7]), Interrupt(2)))
    assert (tmp_path / "fold0.backup").is_dir() and (tmp_path / "fold0.keras").exists()
    reporter = Recorder()
    result = fit_epochs(c, data.train_x, data.train_y, data.val_x, data.val_y, tmp_path, "fold0",
                      reporter, extra_callbacks=(ScriptedAuc([0.5, 0.8, 0.6, 0.7]),))
    assert any("resuming after epoch 2" in line for line in reporter.lines)
    history = pd.read_csv(tmp_path / "history_fold0.csv")
    assert history["epoch"].tolist() == [0, 1, 2, 3]
    # the checkpoint's best (0.8 at epoch 1) survived the interruption: 0.6, 0.7 did not win
    assert result.best_epoch == 1 and result.epochs_run == 4


def test_a_collapsed_fold_stops_and_says_why(data, tmp_path):
    script = ScriptedAuc([0.45, 0.3, 0.9, 0.9])
    result = train_fold(cfg(epochs=4, collapse_epochs=2), data, data.val_x, tmp_path,
                        "fold0", extra_callbacks=(script,))
    assert result.epochs_run == 2
    assert result.collapsed == "validation AUC 0.3000 <= 0.5 in epochs 0-1"


class Trainable(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.counts = []

    def on_epoch_begin(self, epoch, logs=None):
        self.counts.append(len(self.model.trainable_weights))


def test_unfreeze_after_trains_the_head_then_everything(data, tmp_path):
    seen = Trainable()
    c = cfg(epochs=3, train_mode="head", unfreeze_after=1)
    result = train_fold(c, data, data.val_x, tmp_path, "fold0",
                        extra_callbacks=(ScriptedAuc([0.6, 0.7, 0.8]), seen))
    # head: dense, its batch-norm and the logit (6 weights); then + 3 convs and 3 batch-norms
    assert seen.counts == [6, 18, 18]
    assert result.epochs_run == 3 and result.best_epoch == 2
    assert pd.read_csv(tmp_path / "history_fold0.csv")["epoch"].tolist() == [0, 1, 2]
