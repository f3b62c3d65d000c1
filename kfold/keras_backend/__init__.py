"""The Keras 3 / TensorFlow backend, faithful to the original Nexperia notebooks.

`kf train --backend keras --model simple-cnn|vgg16|resnet50`: the same decoded cache,
`folds.csv` and artifacts as the PyTorch backend (see kfold.train.backends for the
contract); checkpoints are `<tag>.keras` files. Importing this package imports TensorFlow;
nothing outside it does. Install with `pip install 'kfold[keras]'`.
"""

from __future__ import annotations

from kfold.errors import KfError
from kfold.keras_backend._tf import keras, tf  # noqa: F401  (fails early without TensorFlow)
from kfold.keras_backend.fold import train_fold
from kfold.keras_backend.models import KERAS_MODELS, check_model_config
from kfold.train.config import TrainConfig

__all__ = ["KERAS_MODELS", "check_config", "train_fold"]


def check_config(cfg: TrainConfig) -> None:
    """Raise KfError for what this backend cannot train, before any data is decoded."""
    check_model_config(cfg.model, cfg.image_size, cfg.weights, cfg.train_mode)
    if cfg.backbone_lr_scale not in (None, 1.0):
        raise KfError("--backbone-lr-scale is not supported by the keras backend (one learning "
                      "rate for the whole model, as in the original notebooks)")
    want = 1 if cfg.model == "simple-cnn" else 3
    if cfg.in_chans not in (None, want):
        raise KfError(f"keras {cfg.model} takes --in-chans {want} (gray "
                      f"{'as is' if want == 1 else 'repeated to RGB'}), not {cfg.in_chans}")
    if cfg.device not in ("auto", "cpu") and not cfg.device.startswith(("cuda", "gpu")):
        raise KfError(f"--device {cfg.device!r}: the keras backend takes auto, cpu or cuda")
