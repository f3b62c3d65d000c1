"""Training modes (head / finetune / unfreeze-after), collapse detection and TTA."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from kfold.backends import FoldData, Head
from kfold.backends.rules import TTA_VIEWS, collapse_reason
from kfold.backends.torch import loop
from kfold.backends.torch.loop import fit_epochs, predict, split_parameters
from kfold.nets import _REGISTRY, register_model
from kfold.train_config import TrainConfig


@pytest.fixture
def fold():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (48, 32, 32), dtype=np.uint8)
    y = (np.arange(48) % 3 == 0).astype(float)
    return FoldData(x[:32], y[:32], x[32:], y[32:])


def _snapshots(monkeypatch):
    """Record the model's full state before each epoch (and once more at the end)."""
    snaps = []
    real = loop.train_epoch

    def spy(model, *args, **kwargs):
        snaps.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        out = real(model, *args, **kwargs)
        snaps.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return out

    monkeypatch.setattr(loop, "train_epoch", spy)
    return snaps


def _changed(before, after, prefix):
    keys = [k for k in before if k.startswith(prefix) and before[k].is_floating_point()]
    return {k for k in keys if not torch.equal(before[k], after[k])}


@pytest.mark.parametrize("model, backbone", [("simple-cnn", "features."),
                                             ("resnet10t", "backbone.")])
def test_head_mode_trains_only_the_head_and_keeps_batchnorm_statistics(
        tmp_path, fold, monkeypatch, model, backbone):
    snaps = _snapshots(monkeypatch)
    cfg = TrainConfig(model=model, image_size=32, epochs=1, batch_size=16, train_mode="head")
    fit_epochs(cfg, fold, tmp_path, "f", torch.device("cpu"))
    before, after = snaps
    assert not _changed(before, after, backbone)  # weights and running_mean/var alike
    assert _changed(before, after, "head.")
    assert any("running_mean" in k for k in before if k.startswith(backbone))


def test_finetune_trains_everything_with_a_slower_backbone(tmp_path, fold, monkeypatch):
    snaps = _snapshots(monkeypatch)
    seen_opt = []
    spy = loop.train_epoch

    def grab(model, batches, opt, *args, **kwargs):
        seen_opt.append(opt)
        return spy(model, batches, opt, *args, **kwargs)

    monkeypatch.setattr(loop, "train_epoch", grab)
    cfg = TrainConfig(model="resnet10t", image_size=32, epochs=1, batch_size=16,
                      backbone_lr_scale=0.25)
    fit_epochs(cfg, fold, tmp_path, "f", torch.device("cpu"))
    before, after = snaps
    changed = _changed(before, after, "backbone.")
    assert any("running_mean" in k for k in changed) and any(k.endswith("weight") for k in changed)
    assert _changed(before, after, "head.")
    model = loop.build_model(cfg, torch.device("cpu"))
    backbone, head = split_parameters(model)
    assert len(head) == 2 and len(backbone) > 10
    assert cfg.backbone_lr == pytest.approx(cfg.lr * 0.25)
    groups = seen_opt[0].param_groups  # the optimiser the loop really used
    assert [g["initial_lr"] for g in groups] == pytest.approx([cfg.lr * 0.25, cfg.lr])
    assert [len(g["params"]) for g in groups] == [len(backbone), len(head)]


def test_unfreeze_after_trains_the_head_first_then_everything(tmp_path, fold, monkeypatch):
    snaps = _snapshots(monkeypatch)
    cfg = TrainConfig(model="simple-cnn", image_size=32, epochs=2, batch_size=16,
                      unfreeze_after=1, patience=5)
    fit_epochs(cfg, fold, tmp_path, "f", torch.device("cpu"))
    e0_before, e0_after, e1_before, e1_after = snaps
    assert not _changed(e0_before, e0_after, "features.")
    assert _changed(e1_before, e1_after, "features.")
    history = pd.read_csv(tmp_path / "history_f.csv")
    assert history["frozen"].tolist() == [True, False]


def constant_net(image_size: int = 32, in_chans: int = 1, dropout: float = 0.0,
                 weights: str = "none") -> nn.Module:
    """Always the same logit: a model collapsed to 'always negative'."""

    class Constant(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(1, 1)

        def forward(self, x):
            return self.head(torch.zeros(len(x), 1)).squeeze(1) - 3

    return Constant()


@pytest.fixture
def constant_model():
    register_model()(constant_net)
    yield "constant-net"
    _REGISTRY.pop("constant-net")


def test_a_collapsed_fold_is_stopped_and_says_so(tmp_path, fold, constant_model):
    logs = []

    class Log(loop.Reporter):
        def log(self, message):
            logs.append(message)

    cfg = TrainConfig(model=constant_model, image_size=32, epochs=10, patience=10,
                      batch_size=16, collapse_epochs=3)
    result = fit_epochs(cfg, fold, tmp_path, "f", torch.device("cpu"), Log())
    assert result["epochs_run"] == 3
    assert "constant predictions" in result["collapsed"] and "epochs 0-2" in result["collapsed"]
    assert any("COLLAPSED" in m and "stopping this fold" in m for m in logs)
    # a rerun of the stopped fold does not start training again
    again = fit_epochs(cfg, fold, tmp_path, "f", torch.device("cpu"))
    assert again["epochs_run"] == 3 and again["collapsed"] == result["collapsed"]


def test_collapse_reason():
    assert collapse_reason(0.0, float("nan"), 0.1) == "constant predictions (0.1000 for every image)"
    assert "<= 0.5" in collapse_reason(1.0, 0.42)
    assert collapse_reason(1.0, 0.8) is None


@pytest.mark.parametrize("tta, transforms", [
    ("flip", [lambda a: a[:, :, ::-1]]),
    ("d4", [lambda a: a[:, :, ::-1], lambda a: np.rot90(a, 1, axes=(1, 2)),
            lambda a: np.swapaxes(a, 1, 2)]),
])
def test_tta_predictions_are_invariant_to_the_views_they_average(fold, tta, transforms):
    torch.manual_seed(0)
    cfg = TrainConfig(model="simple-cnn", image_size=32, batch_size=8, tta=tta)
    model = loop.build_model(cfg, torch.device("cpu")).eval()
    images = fold.val_x
    plain = predict(model, images, cfg, torch.device("cpu"), tta="none")
    base = predict(model, images, cfg, torch.device("cpu"))
    assert not np.allclose(plain, base, atol=1e-6)  # TTA changes the predictions ...
    for t in transforms:  # ... into ones that do not depend on the view
        moved = predict(model, np.ascontiguousarray(t(images)), cfg, torch.device("cpu"))
        np.testing.assert_allclose(moved, base, atol=1e-5)
    assert len(TTA_VIEWS[tta]) == {"flip": 2, "d4": 8}[tta]


def test_a_built_model_carries_its_input_facts_and_head_into_its_checkpoint(tmp_path):
    cfg = TrainConfig(model="simple-cnn", image_size=32, in_chans=3)
    head = Head("multiclass", 3, "logloss")
    model = loop.build_model(cfg, torch.device("cpu"), head=head)
    assert model.kf_info.in_chans == 3 and len(model.kf_info.mean) == 3
    assert model.kf_head == head
    torch.save({"model": model.state_dict(), "head": head.__dict__}, tmp_path / "f.pt")
    again = loop.load_checkpoint(cfg, tmp_path / "f.pt", torch.device("cpu"))
    assert (again.kf_info, again.kf_head) == (model.kf_info, head)
    images = np.zeros((2, 32, 32), dtype=np.uint8)
    assert predict(again, images, cfg, torch.device("cpu")).shape == (2, 3)  # read from the model
