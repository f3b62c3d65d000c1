"""The backend contract (kfold.backends.Backend), run against every backend on the same
tiny data: the files a fold leaves, the result keys, resume after an interrupted epoch,
predictions and heatmaps of the right shape."""

from __future__ import annotations

import numpy as np
import pytest

from kfold.backends import BACKENDS, FoldData, get_backend
from kfold.errors import KfError
from kfold.progress import Reporter
from kfold.record import FoldResult
from kfold.train_config import TrainConfig
from tests.test_resume import Interrupted, StopAfter

SIZE = 32


class Recorder(Reporter):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def log(self, message: str) -> None:
        self.lines.append(message)


@pytest.fixture(scope="module")
def data() -> FoldData:
    """48 dark images, every fourth with a bright square "defect": 32 to train, 16 to validate."""
    targets = np.tile([1, 0, 0, 0], 12)
    images = np.random.default_rng(1).integers(0, 60, (48, SIZE, SIZE)).astype(np.uint8)
    images[targets == 1, 8:16, 8:16] = 220
    return FoldData(images[:32], targets[:32], images[32:], targets[32:])


@pytest.fixture(params=BACKENDS)
def backend(request):
    if request.param == "keras":
        pytest.importorskip("tensorflow")
    return get_backend(request.param)


def cfg(backend, **kw) -> TrainConfig:
    return TrainConfig(**{"backend": backend.name, "model": "simple-cnn", "image_size": SIZE,
                          "epochs": 3, "batch_size": 8, "patience": 10, "augment": "none",
                          "seed": 0, "device": "cpu", **kw})


def test_a_fold_leaves_its_checkpoint_and_history_and_reports_its_result(
        backend, data, tmp_path):
    c = cfg(backend)
    backend.check_config(c)
    result = backend.train_fold(c, data, data.val_x[:5], tmp_path, "fold0", Reporter())
    val_pred, test_pred = result.val_pred, result.test_pred
    assert isinstance(result, FoldResult) and result.device.startswith("cpu")
    assert result.epochs_run == 3 and 0 <= result.best_epoch < 3 and result.collapsed is None
    assert 0 <= result.val_auc <= 1 and result.seconds > 0
    # the result is the run's to complete: the fold, its metrics and where it ran
    assert result.fold is None and result.auc is None and result.where == {}
    assert val_pred.shape == (len(data.val_x),) and test_pred.shape == (5,)
    assert ((val_pred >= 0) & (val_pred <= 1)).all()
    backend.cleanup(tmp_path, "fold0")
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {*backend.checkpoint_files("fold0"), "history_fold0.csv"}
    again = backend.predict(c, tmp_path, "fold0", data.val_x)
    np.testing.assert_allclose(again, val_pred, atol=1e-5)


def test_without_validation_the_last_model_is_kept(backend, data, tmp_path):
    c = cfg(backend, epochs=2)
    result = backend.train_fold(
        c, FoldData(data.train_x, data.train_y), data.val_x, tmp_path, "full", Reporter())
    assert result.val_pred is None and result.test_pred.shape == (len(data.val_x),)
    assert result.epochs_run == 2
    assert (tmp_path / backend.checkpoint_files("full")[0]).exists()


def test_an_interrupted_fold_resumes_after_its_last_finished_epoch(backend, data, tmp_path):
    c = cfg(backend)
    with pytest.raises(Interrupted):
        backend.train_fold(c, data, data.val_x, tmp_path, "fold0", StopAfter("fold0", 2))
    assert {p.name for p in tmp_path.iterdir()} - {*backend.checkpoint_files("fold0")}
    log = Recorder()
    result = backend.train_fold(c, data, data.val_x, tmp_path, "fold0", log)
    assert any("resum" in line for line in log.lines), log.lines
    assert result.epochs_run == 3
    history = np.genfromtxt(tmp_path / "history_fold0.csv", delimiter=",", names=True)
    assert history["epoch"].tolist() == [0, 1, 2]


def test_heatmaps_have_the_images_shape_and_lie_in_0_1(backend, data, tmp_path):
    c = cfg(backend, epochs=1)
    backend.train_fold(c, data, data.val_x[:2], tmp_path, "fold0", Reporter())
    heat = backend.heatmaps(c, tmp_path, "fold0", data.val_x[:6], batch_size=4)
    assert heat.shape == (6, SIZE, SIZE) and heat.dtype == np.float32
    assert heat.min() >= 0 and heat.max() <= 1
    assert backend.explain_methods[0] == "gradcam"
    with pytest.raises(KfError, match="no checkpoint"):
        backend.heatmaps(c, tmp_path, "fold7", data.val_x[:2])


def test_an_unknown_backend_is_refused_by_name():
    with pytest.raises(KfError, match="unknown backend 'jax'; choose one of torch, keras"):
        get_backend("jax")


def test_versions_name_the_backends_own_framework(backend):
    """run.json's versions come from the backend that trained: a Keras run names Keras and
    TensorFlow, and never imports torch for a version string."""
    versions = backend.versions()
    assert set(versions) == {"torch": {"torch", "timm"}, "keras": {"keras", "tensorflow"}}[
        backend.name]
    assert all(isinstance(v, str) and v for v in versions.values())
