"""Training configuration: plain frozen data, built once (`TrainConfig.for_workspace` merges
the workspace's kfold.toml defaults), saved in run.json."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from kfold.data.preprocess import Preprocess
from kfold.errors import KfError
from kfold.workspace import Workspace

AUGMENTS = ("none", "flip", "d4")
TTAS = ("none", "flip", "d4")
TRAIN_MODES = ("head", "finetune")


@dataclass(frozen=True)
class TrainConfig:
    model: str = "simple-cnn"
    backend: str = "torch"
    n_folds: int = 5
    seed: int = 42
    image_size: int = 64
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 5
    dropout: float = 0.3
    crop: int = 0
    threshold: float | None = None
    binarize: float | None = None
    pos_weight: float | None = None
    augment: str = "d4"
    tta: str = "none"
    weights: str = "none"  # none | imagenet | path of a weights file
    train_mode: str = "finetune"  # head: backbone (and its batch-norm statistics) frozen
    unfreeze_after: int | None = None  # head for this many epochs, then everything
    backbone_lr_scale: float | None = None  # finetune: backbone lr = lr * this (None: auto)
    in_chans: int | None = None  # 1 (first conv adapted) or 3 (gray repeated); None: model's
    collapse_epochs: int = 3  # stop a fold after this many collapsed epochs in a row
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.augment not in AUGMENTS:
            raise KfError(f"--augment must be one of {AUGMENTS}, got {self.augment!r}")
        if self.tta not in TTAS:
            raise KfError(f"--tta must be one of {TTAS}, got {self.tta!r}")
        if self.train_mode not in TRAIN_MODES:
            raise KfError(f"--train-mode must be one of {TRAIN_MODES}, got {self.train_mode!r}")
        for name in ("epochs", "batch_size", "patience", "image_size", "collapse_epochs"):
            if getattr(self, name) < 1:
                raise KfError(f"--{name.replace('_', '-')} must be positive")
        if self.unfreeze_after is not None and self.unfreeze_after < 0:
            raise KfError("--unfreeze-after must be 0 or more epochs")
        if self.backbone_lr_scale is not None and not 0 <= self.backbone_lr_scale <= 1:
            raise KfError("--backbone-lr-scale must be in [0, 1]")
        if self.in_chans not in (None, 1, 3):
            raise KfError(f"--in-chans must be 1 or 3, got {self.in_chans}")
        if not self.weights:
            raise KfError("--weights must be none, imagenet or a file path")
        Preprocess(self.crop, self.threshold, self.binarize)  # validates the options

    @classmethod
    def for_workspace(cls, ws: Workspace, **options) -> TrainConfig:
        """The config of a run in `ws`: `options` left out or None take kfold.toml's value
        (folds, seed, image size) or the field default. The one place defaults are merged."""
        toml = {"n_folds": ws.config.n_folds, "seed": ws.config.seed,
                "image_size": ws.config.image_size}
        given = {k: v for k, v in options.items() if v is not None}
        return cls(**{**toml, **given})

    @property
    def pretrained(self) -> bool:
        return self.weights != "none"

    @property
    def backbone_lr(self) -> float:
        """Fine-tuning: pretrained backbones learn 10x slower than the new head by default;
        a randomly initialised one learns at the head's rate."""
        scale = self.backbone_lr_scale
        if scale is None:
            scale = 0.1 if self.pretrained else 1.0
        return self.lr * scale

    def frozen_at(self, epoch: int) -> bool:
        """Whether the backbone is frozen in (0-based) `epoch`."""
        if self.unfreeze_after is not None:
            return epoch < self.unfreeze_after
        return self.train_mode == "head"

    @property
    def preprocess(self) -> Preprocess:
        return Preprocess(self.crop, self.threshold, self.binarize)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})

    def comparable(self) -> dict:
        """The settings a resumed run must share with the run it continues: all but device."""
        return {k: v for k, v in self.to_dict().items() if k != "device"}
