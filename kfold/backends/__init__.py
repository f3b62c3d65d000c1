"""Training backends: one declared contract (`Backend`), two implementations, a registry.

The k-fold orchestration (kfold.train), explanation (kfold.explain) and every artifact are
framework-free and call a backend only through `Backend`. Backends are imported when
`get_backend` is called, so importing kfold.train, kfold.stack or kfold.kaggle imports
neither PyTorch nor TensorFlow. Rules both backends share (TTA views, batch augmentation,
the collapse rule) live in kfold.backends.rules. Adding a backend: a subpackage with a
class that satisfies `Backend`, and one line in `_LOADERS` (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from kfold.errors import KfError
from kfold.progress import Reporter
from kfold.record import FoldResult
from kfold.train_config import TrainConfig


@dataclass(frozen=True)
class Head:
    """What a model's output stands for (kfold.data.task): the task's kind, the number of
    outputs (one per class of a multi-class or multi-label task, else one) and the contest
    metric (kfold.scoring) that picks the kept epoch. Binary AUC is the default: every run
    trained before tasks reads as one."""

    kind: str = "binary"
    width: int = 1
    metric: str = "auc"


@dataclass
class FoldData:
    """uint8 images (N, H, W) and targets as `head` reads them (0/1; a class index; (N, C)
    0/1 labels; a number); `val_x` None means train on everything.
    A taught fold (kf pseudo, kf distill) has soft training targets in [0, 1] and
    per-image loss weights `train_w`; only a taught fold has them (None: every image weighs
    1 and the targets are labels)."""

    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray | None = None
    val_y: np.ndarray | None = None
    train_w: np.ndarray | None = None
    head: Head = Head()


class Backend(Protocol):
    """What kfold needs from a deep-learning framework. A *tag* names one model of a run
    (`fold0`, `fold1`, ..., `full`); every file a backend writes for it is in `run_dir` and
    named from the tag."""

    name: str
    explain_methods: tuple[str, ...]  # heatmap methods; the first is the default

    def check_config(self, cfg: TrainConfig) -> None:
        """Raise KfError for what this backend cannot train, before any data is decoded;
        the device is checked apart (`Executor.check_device`), where the training runs."""

    def check_device(self, device: str) -> None:
        """Raise KfError for a --device this backend or this machine cannot use."""

    def cpu_threads(self, n: int) -> AbstractContextManager[None]:
        """Train inside with `n` intra-op CPU threads (the fold's CPU share): the thread count
        decides the order in which a sum's parts are added, so a fold given the same share
        gives the same bits wherever it runs."""

    def train_fold(self, cfg: TrainConfig, data: FoldData, test_x: np.ndarray, run_dir: Path,
                   tag: str, reporter: Reporter) -> FoldResult:
        """Train one model (continuing an interrupted one from its resume state), keep
        `checkpoint_files(tag)` and `history_<tag>.csv`, and predict validation and test
        images with the kept checkpoint: a result with how training went (best_epoch,
        epochs_run, val_auc, seconds, collapsed, device; its own keys in `extra`) and
        `val_pred` (None without validation images) and `test_pred`."""

    def predict(self, cfg: TrainConfig, run_dir: Path, tag: str,
                images: np.ndarray) -> np.ndarray:
        """Probabilities of defect of uint8 images (N, S, S) from tag's checkpoint (cfg.tta)."""

    def heatmaps(self, cfg: TrainConfig, run_dir: Path, tag: str, images: np.ndarray, *,
                 method: str = "gradcam", batch_size: int = 64,
                 device: str | None = None, classes: np.ndarray | None = None) -> np.ndarray:
        """(N, S, S) float32 maps in [0, 1] of uint8 images (N, S, S) from tag's checkpoint:
        of the defect logit, or of each image's class index in `classes` (a multi-class
        model's predicted or named class)."""

    def checkpoint_files(self, tag: str) -> tuple[str, ...]:
        """Names of the files (or folders) a finished tag keeps; the first is the model."""

    def versions(self) -> dict[str, str]:
        """The framework's library versions, recorded in run.json (the run's own: a Keras
        run never imports torch for its version string)."""

    def cleanup(self, run_dir: Path, tag: str) -> None:
        """Remove the tag's resume state once its results are safely written."""


def _torch() -> Backend:
    from kfold.backends.torch import TorchBackend

    return TorchBackend()


def _keras() -> Backend:
    try:
        from kfold.backends.keras import KerasBackend
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("tensorflow", "keras"):
            raise KfError(
                "the keras backend needs TensorFlow and Keras 3: pip install 'kfold[keras]'"
            ) from None
        raise
    return KerasBackend()


_LOADERS: dict[str, Callable[[], Backend]] = {"torch": _torch, "keras": _keras}
BACKENDS = tuple(_LOADERS)


def get_backend(name: str) -> Backend:
    """The backend called `name` (importing its framework now, not before)."""
    if name not in _LOADERS:
        raise KfError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    return _LOADERS[name]()
