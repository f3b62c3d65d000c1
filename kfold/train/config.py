"""Training configuration: plain frozen data, built once (`TrainConfig.for_workspace` merges
the workspace's kfold.toml defaults), saved in run.json."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from kfold.data.preprocess import Preprocess
from kfold.errors import SEED_MAX, KfError, check_number, check_whole
from kfold.workspace import Workspace

AUGMENTS = ("none", "flip", "d4")
TTAS = ("none", "flip", "d4")
TRAIN_MODES = ("head", "finetune")
# Defaults per training mode (docs/models.md): a new head on frozen features needs a step 10x
# larger than fine-tuning to converge in few epochs (measured on EfficientNet-Lite0 ImageNet
# features: lr 1e-3 stops 0.05 below a converged linear probe after 10 epochs).
MODE_DEFAULTS = {"head": {"epochs": 10, "lr": 1e-2}, "finetune": {"epochs": 20, "lr": 1e-3}}
DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?|mps")
# (field, lowest, highest): the highest values are far above any sensible run and stop a typo
# (--image-size 100000) from asking for terabytes.
INT_RANGES = (("n_folds", 2, 100), ("seed", 0, SEED_MAX), ("image_size", 8, 2048),
              ("epochs", 1, 100_000), ("batch_size", 1, 65_536), ("patience", 1, 100_000),
              ("collapse_epochs", 1, 100_000))


def _opt(name: str) -> str:
    return "--" + {"n_folds": "folds"}.get(name, name).replace("_", "-")


def _check_int(name: str, value, low: int, high: int) -> None:
    check_whole(_opt(name), value, low, high)


def _check_number(name: str, value, **bounds) -> None:
    check_number(_opt(name), value, **bounds)


@dataclass(frozen=True)
class TrainConfig:
    model: str = "simple-cnn"
    backend: str = "torch"
    n_folds: int = 5
    seed: int = 42  # the fold split's seed, and the model's unless model_seed is given
    model_seed: int | None = None  # another initialisation and batch order on the same folds
    image_size: int = 64
    epochs: int | None = None  # None: MODE_DEFAULTS of the training mode
    batch_size: int = 64
    lr: float | None = None  # None: MODE_DEFAULTS of the training mode
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
    backbone_lr_scale: float = 1.0  # finetune: backbone lr = lr * this
    in_chans: int | None = None  # 1 (first conv adapted) or 3 (gray repeated); None: model's
    collapse_epochs: int = 3  # stop a fold after this many collapsed epochs in a row
    device: str = "auto"

    def __post_init__(self) -> None:
        """Every option's range, checked before any data is read; messages name the option."""
        for name, choices in (("augment", AUGMENTS), ("tta", TTAS), ("train_mode", TRAIN_MODES)):
            if getattr(self, name) not in choices:
                raise KfError(f"{_opt(name)} must be one of {choices}, got {getattr(self, name)!r}")
        mode = "head" if self.train_mode == "head" and self.unfreeze_after is None else "finetune"
        for name, value in MODE_DEFAULTS[mode].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        for name, low, high in INT_RANGES:
            _check_int(name, getattr(self, name), low, high)
        if self.model_seed is not None:
            _check_int("model_seed", self.model_seed, 0, SEED_MAX)
        if self.unfreeze_after is not None:
            _check_int("unfreeze_after", self.unfreeze_after, 0, 100_000)
        _check_number("lr", self.lr, low=0, low_open=True, high=10)
        _check_number("weight_decay", self.weight_decay, low=0, high=10)
        _check_number("dropout", self.dropout, low=0, high=1, high_open=True)
        if self.pos_weight is not None:
            _check_number("pos_weight", self.pos_weight, low=0, low_open=True, high=1e4)
        _check_number("backbone_lr_scale", self.backbone_lr_scale, low=0, high=1)
        if self.in_chans not in (None, 1, 3):
            raise KfError(f"--in-chans must be 1 or 3, got {self.in_chans}")
        if not isinstance(self.weights, str) or not self.weights:
            raise KfError("--weights must be none, imagenet or a file path")
        if not isinstance(self.device, str) or not DEVICE.fullmatch(self.device):
            raise KfError(f"--device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
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

    @property
    def preprocess(self) -> Preprocess:
        return Preprocess(self.crop, self.threshold, self.binarize)

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
