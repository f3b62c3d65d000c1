"""Training configuration: plain frozen data, built once (`TrainConfig.for_workspace` merges
the workspace's kfold.toml defaults), saved in run.json and config.json.

It sits at the foundation (beside `workspace` and `record`) because every layer reads it: the
artifact readers, the executors, the backends, train, explain. It imports nothing above it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from kfold.errors import KfError
from kfold.jsonfiles import read_json
from kfold.settings import TOML, TRAIN, check_fields, check_option, fields_from, settings_for
from kfold.workspace import Workspace

# Defaults per training mode (docs/models.md): a new head on frozen features needs a step 10x
# larger than fine-tuning to converge in few epochs (measured on EfficientNet-Lite0 ImageNet
# features: lr 1e-3 stops 0.05 below a converged linear probe after 10 epochs).
MODE_DEFAULTS = {"head": {"epochs": 10, "lr": 1e-2}, "finetune": {"epochs": 20, "lr": 1e-3}}


def check_one_method(threshold: float | None, binarize: float | None) -> None:
    """Preprocessing method I and method II exclude each other."""
    if threshold is not None and binarize is not None:
        raise KfError("choose one of --threshold (method I) and --binarize (method II)")


def check_recipe(cfg: TrainConfig) -> None:
    """The recipe options that tie to others: warm-up shorter than the schedule, mixed
    batches in pairs (timm's Mixup mixes each image with the batch reversed)."""
    if cfg.warmup_epochs >= cfg.epochs:
        raise KfError(f"--warmup-epochs {cfg.warmup_epochs} must be below --epochs "
                      f"{cfg.epochs} (the cosine decay needs at least one epoch)")
    if (cfg.mixup or cfg.cutmix) and cfg.batch_size % 2:
        raise KfError(f"--mixup/--cutmix mix images in pairs: --batch-size must be even, "
                      f"got {cfg.batch_size}")


@fields_from(TRAIN)
class TrainConfig:
    """A run's settings: one field per training row of `kfold.settings.SETTINGS` (its type,
    default and range are declared there), plus the rules that tie fields together."""

    def __post_init__(self) -> None:
        """Every field checked before any data is read; `epochs` and `lr` left unset take
        the training mode's defaults."""
        mode = "head" if self.train_mode == "head" and self.unfreeze_after is None else "finetune"
        for name, value in MODE_DEFAULTS[mode].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        check_fields(self)
        check_one_method(self.threshold, self.binarize)
        check_recipe(self)

    @classmethod
    def for_workspace(cls, ws: Workspace, **options) -> TrainConfig:
        """The config of a run in `ws`: `options` left out or None take kfold.toml's value
        (the settings it holds) or the field default. The one place defaults are merged;
        the caller has checked `options` where the user gave them."""
        toml = {s.name: getattr(ws.config, s.name) for s in settings_for(TRAIN)
                if TOML in s.where}
        given = {k: v for k, v in options.items() if v is not None}
        return cls(**{**toml, **given})

    @classmethod
    def from_options(cls, ws: Workspace, options: dict) -> TrainConfig:
        """The config `kf train`'s options ask for (None: not given), each given value
        checked and named as typed (`--image-size 3000`)."""
        for name, value in options.items():
            if value is not None:
                check_option(name, value)
        return cls.for_workspace(ws, **options)

    @property
    def init_seed(self) -> int:
        """Seeds the weights and the batch order; seed-averaged runs share the split."""
        return self.seed if self.model_seed is None else self.model_seed

    @property
    def pretrained(self) -> bool:
        return self.weights != "none"

    @property
    def backbone_lr(self) -> float:
        """Fine-tuning: the backbone learns at the head's rate by default. A 10x slower
        pretrained backbone (the common recipe, and this field's old default) barely moves in
        a short CPU schedule: EfficientNet-Lite0 from ImageNet, 4 epochs at 64 px, fold 0 of
        the demo's data reached val AUC 0.667 at 0.1 and 0.932 at 1 (docs/models.md)."""
        return self.lr * self.backbone_lr_scale

    def frozen_at(self, epoch: int) -> bool:
        """Whether the backbone is frozen in (0-based) `epoch`."""
        if self.unfreeze_after is not None:
            return epoch < self.unfreeze_after
        return self.train_mode == "head"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        raw = {k: v for k, v in raw.items() if k in known}
        if raw.get("backbone_lr_scale", 1.0) is None:  # written before it defaulted to 1
            raw["backbone_lr_scale"] = 0.1 if raw.get("weights", "none") != "none" else 1.0
        return cls(**raw)

    def comparable(self) -> dict:
        """The settings a resumed run must share with the run it continues: all but device."""
        return {k: v for k, v in self.to_dict().items() if k != "device"}


def read_train_config(path: Path) -> TrainConfig:
    """A run's config.json as a TrainConfig; damaged or invalid is a KfError naming it."""
    fix = "pass --force to train the run again from scratch, or choose another --name"
    raw = read_json(path, fix)
    try:
        return TrainConfig.from_dict(raw)
    except (KfError, TypeError, ValueError) as exc:
        raise KfError(f"{path} is damaged ({exc}); {fix}") from None
