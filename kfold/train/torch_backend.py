"""The PyTorch backend (the main engine): see kfold.train.backends for the contract."""

from __future__ import annotations

import torch

from kfold.errors import KfError
from kfold.nets.weights import check_weights_arg
from kfold.train.config import TrainConfig
from kfold.train.loop import build_model, config_info, train_fold

__all__ = ["check_config", "train_fold"]


def check_config(cfg: TrainConfig) -> None:
    """Fail before any decoding: unknown model, missing or mismatched weights file, ImageNet
    weights that cannot be had offline, an image size the network cannot take."""
    info = config_info(cfg)
    check_weights_arg(cfg.weights)
    if cfg.weights == "imagenet" and not info.pretrained:
        raise KfError(f"{cfg.model} has no ImageNet weights; use --weights none or a file")
    model = build_model(cfg, info, torch.device("cpu"), cfg.weights)
    model.eval()
    x = torch.zeros(2, info.in_chans, cfg.image_size, cfg.image_size)
    try:
        with torch.no_grad():
            out = model(x)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise KfError(f"{cfg.model} cannot take {cfg.image_size} px images ({first}); "
                      "try a larger --image-size") from None
    if tuple(out.shape) != (2,):
        raise KfError(f"{cfg.model} returned shape {tuple(out.shape)} instead of one logit "
                      "per image")
