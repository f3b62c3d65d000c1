"""The PyTorch backend (the main engine): see kfold.train.backends for the contract."""

from __future__ import annotations

from kfold.nets import model_info
from kfold.train.config import TrainConfig
from kfold.train.loop import train_fold

__all__ = ["check_config", "train_fold"]


def check_config(cfg: TrainConfig) -> None:
    model_info(cfg.model)
