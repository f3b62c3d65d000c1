"""The recipe options change training as stated: EMA weights differ from the raw ones and
are what is checkpointed; mixup/cutmix batches mix and their targets are soft; N
accumulated batches equal one batch N times larger (no batch-norm); label smoothing pulls
targets to 0.5; warm-up ramps the rate; drop path reaches timm's blocks. Resume with all of
them on is in tests/test_resume.py; Keras's refusals and kf train/runs/grid end to end too."""

import numpy as np
import pytest
import torch
from torch import nn

from kfold.backends import FoldData, Head
from kfold.backends.torch.loop import build_model, fit_epochs, train_epoch
from kfold.backends.torch.recipe import Recipe, make_recipe, scheduler
from kfold.errors import KfError
from kfold.train_config import TrainConfig

CPU = torch.device("cpu")


def _data(n=32, size=32):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
    return x, (np.arange(n) % 3 == 0).astype(float)


def test_ema_weights_differ_from_raw_and_are_the_checkpoint(tmp_path):
    x, y = _data()
    cfg = TrainConfig(image_size=32, epochs=2, batch_size=8, ema=0.5, augment="none")
    fit_epochs(cfg, FoldData(x, y), tmp_path, "full", CPU)  # keeps the last
    last = torch.load(tmp_path / "full.last.pt", weights_only=False)
    kept = torch.load(tmp_path / "full.pt", weights_only=False)["model"]
    assert all(torch.equal(kept[k], v) for k, v in last["ema"].items())
    assert any(not torch.allclose(kept[k].float(), v.float())
               for k, v in last["model"].items() if v.is_floating_point())


def test_mixup_and_cutmix_batches_mix_and_targets_turn_soft():
    np.random.seed(0)
    x = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 1, 8, 8).clone()
    y = torch.tensor([1.0, 0.0, 0.0, 0.0])
    for opts in ({"mixup": 1.0}, {"cutmix": 1.0}):
        recipe = make_recipe(TrainConfig(**opts), nn.Linear(1, 1))
        mixed, target = recipe.inputs(x.clone(), y)
        assert not torch.equal(mixed, x)
        lam = float(target[0])  # image 0 (label 1) mixed with image 3 (label 0)
        assert 0 < lam < 1 and target[3] == pytest.approx(1 - lam)


def test_label_smoothing_pulls_targets_towards_one_half():
    recipe = make_recipe(TrainConfig(label_smoothing=0.2), nn.Linear(1, 1))
    _, target = recipe.inputs(torch.zeros(3, 1, 2, 2), torch.tensor([1.0, 0.0, 0.25]))
    assert target.tolist() == pytest.approx([0.9, 0.1, 0.3])


def test_a_teachers_class_probabilities_are_smoothed_and_mixed_as_one_hot_targets_are():
    """kf pseudo / kf distill on a multi-class task: (B, C) soft targets, where timm's
    one-hot path takes class indices only."""
    head, indices = Head("multiclass", 3, "logloss"), torch.tensor([0, 2, 1, 1])
    x = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 1, 8, 8).clone()
    for opts in ({"label_smoothing": 0.3}, {"mixup": 1.0, "label_smoothing": 0.3}):
        np.random.seed(0)
        _, want = make_recipe(TrainConfig(**opts), nn.Linear(1, 3), head).inputs(x.clone(), indices)
        np.random.seed(0)
        soft = nn.functional.one_hot(indices, 3).float()
        _, got = make_recipe(TrainConfig(**opts), nn.Linear(1, 3), head).inputs(x.clone(), soft)
        torch.testing.assert_close(got, want)
        torch.testing.assert_close(got.sum(1), torch.ones(4))


def test_accumulated_batches_equal_one_batch_that_many_times_larger():
    torch.manual_seed(0)
    x, y = torch.randn(8, 1, 4, 4), (torch.rand(8) > 0.5).float()
    nets = [nn.Sequential(nn.Flatten(), nn.Linear(16, 1), nn.Flatten(0)) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    loss = nn.BCEWithLogitsLoss()
    for net, source, accum in ((nets[0], [(x, y)], 1),
                               (nets[1], [(x[i:i + 2], y[i:i + 2]) for i in range(0, 8, 2)], 4)):
        opt = torch.optim.SGD(net.parameters(), lr=0.5)
        train_epoch(net, source, opt, None, loss, CPU, recipe=Recipe(accum=accum))
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_warmup_ramps_from_one_percent_then_decays():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = scheduler(TrainConfig(epochs=4, warmup_epochs=1, grad_accum=2), opt, batches=4)
    rates = []
    for _ in range(8):  # 4 epochs x ceil(4 / 2) optimiser steps
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert rates[0] == pytest.approx(0.01) and rates[1] > rates[0]
    assert rates[2] == pytest.approx(1.0) and rates[2:] == sorted(rates[2:], reverse=True)


def test_drop_path_reaches_timm_blocks_and_is_refused_where_there_are_none():
    cfg = TrainConfig(model="resnet10t", image_size=32, drop_path=0.2)
    net = build_model(cfg, CPU)
    rates = [m.drop_prob for m in net.modules() if type(m).__name__ == "DropPath"]
    assert rates and max(rates) > 0
    plain = TrainConfig(image_size=32, drop_path=0.2)
    with pytest.raises(KfError, match="--drop-path: simple-cnn has no stochastic depth"):
        build_model(plain, CPU)


@pytest.mark.parametrize("options, message", [
    ({"warmup_epochs": 5, "epochs": 5}, "--warmup-epochs 5 must be below --epochs 5"),
    ({"mixup": 0.2, "batch_size": 7}, "--batch-size must be even"),
])
def test_options_that_tie_to_others_are_checked(options, message):
    with pytest.raises(KfError, match=message):
        TrainConfig(**options)


def test_recipe_options_are_recorded_shown_when_they_differ_and_read_from_grids(
        workspace, tiny_cfg, tmp_path):
    import dataclasses

    from kfold import artifacts
    from kfold.grid import read_grid
    from kfold.runs import differing_settings
    from kfold.train.run import train_run

    cfg = dataclasses.replace(tiny_cfg, epochs=1)
    train_run(workspace, cfg, "plain")
    train_run(workspace, dataclasses.replace(cfg, ema=0.9, grad_accum=2), "ema")
    meta = artifacts.read_run(workspace, "ema")
    assert (meta.config.ema, meta.config.grad_accum) == (0.9, 2)
    rows = [{"config": artifacts.read_run(workspace, r).config.to_dict()} for r in ("plain", "ema")]
    assert {"ema", "grad_accum"} <= set(differing_settings(rows))
    grid = tmp_path / "grid.toml"
    grid.write_text('[[run]]\nname = "g"\nmixup = 0.2\nlabel-smoothing = 0.1\nwarmup-epochs = 1\n'
                    'drop_path = 0.1\nmodel = "resnet10t"\n')
    (run,) = read_grid(grid, workspace)
    assert (run.cfg.mixup, run.cfg.label_smoothing, run.cfg.warmup_epochs, run.cfg.drop_path) \
        == (0.2, 0.1, 1, 0.1)
