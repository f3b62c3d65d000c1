"""The training recipe of timm's train.py, built from timm's own pieces (docs/recipe.md):
weight EMA (`ModelEmaV3`), Mixup/CutMix with soft targets (`Mixup`), label smoothing
(timm's `mixup_target`), linear warm-up before the cosine decay, gradient accumulation and
stochastic depth (`drop_path_rate`, passed to the model by `loop.build_model`).

Binary targets are one logit: timm's dense multi-label form, shape (B, 1), carries soft
targets (a teacher's, pseudo-labels) through mixing and smoothing, `y (1 - s) + s / 2`;
multi-label targets are that form (B, C) as they are, regression values mix as (B, 1) and
are never smoothed; multi-class class indices become timm's one-hot soft targets (B, C),
`1 - s + s / C` on the class (kfold.backends.torch.heads' loss reads either form); a
teacher's multi-class probabilities (B, C) are smoothed and mixed the same way.
Mixup draws from numpy's global generator, which `loop` seeds per fold and saves in the
resume state, like the EMA weights, so an interrupted fold continues identically.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from timm.data.mixup import Mixup, mixup_target
from timm.utils import ModelEmaV3
from torch import nn

from kfold.backends import Head
from kfold.train_config import TrainConfig


@dataclass
class Recipe:
    """What a training step does beyond forward, backward and step."""

    accum: int = 1
    smoothing: float = 0.0
    mixer: Mixup | None = None
    ema: ModelEmaV3 | None = None
    width: int = 1  # the model's outputs
    classes: bool = False  # targets are class indices (multi-class), not dense values

    def inputs(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch as the model learns it: mixed (in pairs) and its targets smoothed."""
        if self.classes and y.ndim == 2:
            return self._soft_classes(x, y)
        if self.mixer is not None and len(x) % 2 == 0:
            x, mixed = self.mixer(x, self._timm_form(y))
            return x, self._our_form(mixed)
        if self.smoothing:
            return x, self._our_form(mixup_target(self._timm_form(y), self.width,
                                                  smoothing=self.smoothing,
                                                  multi_label=not self.classes))
        return x, y

    def _soft_classes(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class probabilities (a teacher's, kf pseudo / kf distill) smoothed towards 1/C and
        mixed as timm treats one-hot targets: timm's one-hot path takes class indices only,
        so the mixer runs in its dense form (smoothing done first: both are linear)."""
        y = y * (1 - self.smoothing) + self.smoothing / self.width
        if self.mixer is None or len(x) % 2:
            return x, y
        dense = copy.copy(self.mixer)
        dense.multi_label, dense.label_smoothing = True, 0.0
        return dense(x, y)

    def _timm_form(self, y: torch.Tensor) -> torch.Tensor:
        return y if self.classes or y.ndim == 2 else y[:, None]

    def _our_form(self, t: torch.Tensor) -> torch.Tensor:
        return t[:, 0] if self.width == 1 else t

    def stepped(self, model: nn.Module) -> None:
        """After each optimiser step: the EMA follows the weights."""
        if self.ema is not None:
            self.ema.update(model)

    def kept(self, model: nn.Module) -> nn.Module:
        """The weights that are validated, checkpointed and predicted with."""
        return model if self.ema is None else self.ema.module


def make_recipe(cfg: TrainConfig, model: nn.Module, head: Head = Head()) -> Recipe:
    """The recipe of `cfg` for a model whose output `head` describes (a regression target
    is mixed but never smoothed: there is no 0.5 to pull towards)."""
    smoothing = 0.0 if head.kind == "regression" else cfg.label_smoothing
    classes = head.kind == "multiclass"
    mixer = None
    if cfg.mixup or cfg.cutmix:
        mixer = Mixup(mixup_alpha=cfg.mixup, cutmix_alpha=cfg.cutmix, prob=cfg.mix_prob,
                      label_smoothing=smoothing, num_classes=head.width,
                      multi_label=not classes)
    ema = ModelEmaV3(model, decay=cfg.ema) if cfg.ema else None
    return Recipe(cfg.grad_accum, smoothing, mixer, ema, head.width, classes)


def optimizer_steps(batches: int, accum: int) -> int:
    """Optimiser steps of an epoch of `batches` batches (a last short group steps too)."""
    return math.ceil(batches / accum)


def scheduler(cfg: TrainConfig, opt: torch.optim.Optimizer, batches: int):
    """Cosine decay over every optimiser step; with warm-up, a linear ramp from 1% of the
    rate over `warmup_epochs` first. Stepped once per optimiser step."""
    per_epoch = optimizer_steps(batches, cfg.grad_accum)
    total, warm = cfg.epochs * per_epoch, cfg.warmup_epochs * per_epoch
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(total - warm, 1))
    if not warm:
        return cosine
    ramp = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.01, total_iters=warm)
    return torch.optim.lr_scheduler.SequentialLR(opt, [ramp, cosine], milestones=[warm])
