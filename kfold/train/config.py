"""Training configuration: plain frozen data, built once at the CLI edge, saved in run.json."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from kfold.data.preprocess import Preprocess
from kfold.errors import KfError

AUGMENTS = ("none", "flip", "d4")
TTAS = ("none", "flip", "d4")


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
    weights: str = "none"
    train_mode: str = "finetune"
    unfreeze_after: int | None = None
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.augment not in AUGMENTS:
            raise KfError(f"--augment must be one of {AUGMENTS}, got {self.augment!r}")
        if self.tta not in TTAS:
            raise KfError(f"--tta must be one of {TTAS}, got {self.tta!r}")
        for name in ("epochs", "batch_size", "patience", "image_size"):
            if getattr(self, name) < 1:
                raise KfError(f"--{name.replace('_', '-')} must be positive")
        self.preprocess  # validates crop/threshold/binarize

    @property
    def preprocess(self) -> Preprocess:
        return Preprocess(self.crop, self.threshold, self.binarize)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})

    def comparable(self) -> dict:
        """The settings a resumed run must share with the run it continues: all but device."""
        return {k: v for k, v in self.to_dict().items() if k != "device"}
