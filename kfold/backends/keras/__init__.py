"""The Keras 3 / TensorFlow backend, faithful to the original Nexperia notebooks.

`kf train --backend keras --model simple-cnn|vgg16|resnet50`: the same decoded cache,
`folds.csv` and artifacts as the PyTorch backend (kfold.backends.Backend is the contract).
`models` holds the networks, `fold` one fold's training with the notebooks' callbacks, `cam`
Grad-CAM. Files of a tag: `<tag>.keras` (the kept checkpoint), `history_<tag>.csv`, and
while it trains `<tag>.backup/` (the resume state, removed by `cleanup`). Importing this
package imports TensorFlow; nothing outside it does. Install with `pip install 'kfold[keras]'`.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from kfold.backends import FoldData
from kfold.backends.keras import cam, fold
from kfold.backends.keras._tf import keras, tf  # noqa: F401  (fails early without TensorFlow)
from kfold.backends.keras.models import KERAS_MODELS, check_model_config
from kfold.backends.rules import kept_checkpoint
from kfold.errors import KfError
from kfold.progress import Reporter
from kfold.record import FoldResult
from kfold.train_config import TrainConfig

__all__ = ["KERAS_MODELS", "KerasBackend"]


# The recipe options Keras has no native form of here (label smoothing and gradient
# accumulation it has: BinaryCrossentropy(label_smoothing), the optimiser's
# gradient_accumulation_steps), each with why.
_NOT_NATIVE = {
    "ema": "Keras's optimizer EMA overwrites the weights on its own schedule, so the "
           "averaged weights would not be the ones validated and checkpointed",
    "mixup": "Keras has no Mixup", "cutmix": "Keras has no CutMix",
    "warmup_epochs": "the Keras loop's learning rate follows ReduceLROnPlateau",
    "drop_path": "the Keras models here have no stochastic depth",
}


def refuse_recipe(cfg: TrainConfig) -> None:
    """One clear refusal per recipe option the keras backend cannot honour."""
    for name, why in _NOT_NATIVE.items():
        if getattr(cfg, name):
            raise KfError(f"--{name.replace('_', '-')} is not supported by the keras backend "
                          f"({why}); train with --backend torch")


class KerasBackend:
    name = "keras"
    explain_methods = ("gradcam",)

    def check_config(self, cfg: TrainConfig) -> None:
        """Raise KfError for what this backend cannot train, before any data is decoded."""
        check_model_config(cfg.model, cfg.image_size, cfg.weights, cfg.train_mode)
        if cfg.backbone_lr_scale != 1.0:
            raise KfError("--backbone-lr-scale is not supported by the keras backend (one "
                          "learning rate for the whole model, as in the original notebooks)")
        refuse_recipe(cfg)
        want = 1 if cfg.model == "simple-cnn" else 3
        if cfg.in_chans not in (None, want):
            raise KfError(f"keras {cfg.model} takes --in-chans {want} (gray "
                          f"{'as is' if want == 1 else 'repeated to RGB'}), not {cfg.in_chans}")

    def check_device(self, device: str) -> None:
        if device not in ("auto", "cpu") and not device.startswith(("cuda", "gpu")):
            raise KfError(f"--device {device!r}: the keras backend takes auto, cpu or cuda")
        if device.startswith(("cuda", "gpu")):
            from kfold.backends.keras._tf import device_name

            if device_name() == "cpu":
                raise KfError(f"--device {device}: TensorFlow sees no GPU on this machine; "
                              "use --device auto or cpu")

    @contextmanager
    def cpu_threads(self, n: int) -> Iterator[None]:
        """TensorFlow fixes its thread pools when it runs its first op, so the count is set
        once per process (a fresh `kf` or Ray worker has not run one) and cannot change."""
        threading = tf.config.threading
        if threading.get_intra_op_parallelism_threads() != n:
            try:
                threading.set_intra_op_parallelism_threads(n)
            except RuntimeError:
                raise KfError(f"TensorFlow in this process already runs with other CPU threads "
                              f"than the {n} asked for (--cpus-per-fold); run the keras fold in "
                              "a new process") from None
        yield

    def train_fold(self, cfg: TrainConfig, data: FoldData, test_x: np.ndarray, run_dir: Path,
                   tag: str, reporter: Reporter | None = None) -> FoldResult:
        # Keras feeds whole arrays to tf.data: a fold's memory-mapped rows are read out once.
        data = dataclasses.replace(data, **{k: np.asarray(getattr(data, k)) for k in
                                            ("train_x", "train_y", "val_x", "val_y",
                                             "train_w")
                                            if getattr(data, k) is not None})
        return fold.train_fold(cfg, data, np.asarray(test_x), run_dir, tag, reporter)

    def predict(self, cfg: TrainConfig, run_dir: Path, tag: str,
                images: np.ndarray) -> np.ndarray:
        with fold.placed(cfg.device):
            model = fold.load_checkpoint(self._checkpoint(run_dir, tag))
            return fold.predict(model, images, cfg)

    def heatmaps(self, cfg: TrainConfig, run_dir: Path, tag: str, images: np.ndarray, *,
                 method: str = "gradcam", batch_size: int = 32,
                 device: str | None = None, classes: np.ndarray | None = None) -> np.ndarray:
        if method not in self.explain_methods:
            raise KfError(f"the keras backend explains with gradcam only, not {method!r}")
        with fold.placed(device or cfg.device):
            return cam.heatmaps(self._checkpoint(run_dir, tag), images, cfg, batch_size,
                                classes)

    def checkpoint_files(self, tag: str) -> tuple[str, ...]:
        return (f"{tag}.keras",)

    def versions(self) -> dict[str, str]:
        return fold.versions()

    def cleanup(self, run_dir: Path, tag: str) -> None:
        shutil.rmtree(Path(run_dir) / f"{tag}.backup", ignore_errors=True)

    def _checkpoint(self, run_dir: Path, tag: str) -> Path:
        return kept_checkpoint(Path(run_dir) / self.checkpoint_files(tag)[0])

