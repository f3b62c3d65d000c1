"""The PyTorch backend (the main engine); kfold.backends.Backend is the contract.

`loader` holds the device-resident batches, `loop` one fold's training, `cam` Grad-CAM.
Files of a tag: `<tag>.pt` (the kept checkpoint), `history_<tag>.csv`, and while it trains
`<tag>.last.pt` (the resume state, removed by `cleanup`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from kfold.backends import FoldData
from kfold.backends.rules import kept_checkpoint
from kfold.backends.torch import cam, loop
from kfold.errors import KfError, first_line
from kfold.nets import model_info
from kfold.nets.weights import check_weights_arg
from kfold.progress import Reporter
from kfold.record import FoldResult
from kfold.train_config import TrainConfig


class TorchBackend:
    name = "torch"
    explain_methods = tuple(cam.METHODS)

    def check_config(self, cfg: TrainConfig) -> None:
        """Fail before any decoding: unknown model, missing or mismatched weights file,
        ImageNet weights that cannot be had offline, an image size the network cannot take,
        (the device is the executor's to check: it knows the machines that train)."""
        check_weights_arg(cfg.weights)
        if cfg.weights == "imagenet" and not model_info(cfg.model).pretrained:
            raise KfError(f"{cfg.model} has no ImageNet weights; use --weights none or a file")
        model = loop.build_model(cfg, torch.device("cpu"), cfg.weights)
        model.eval()
        x = torch.zeros(2, model.kf_info.in_chans, cfg.image_size, cfg.image_size)
        try:
            with torch.no_grad():
                out = model(x)
        except RuntimeError as exc:
            first = first_line(exc)
            raise KfError(f"{cfg.model} cannot take {cfg.image_size} px images ({first}); "
                          "try a larger --image-size") from None
        if tuple(out.shape) != (2,):
            raise KfError(f"{cfg.model} returned shape {tuple(out.shape)} instead of one "
                          "logit per image")

    def check_device(self, device: str) -> None:
        loop.resolve_device(device)

    @contextmanager
    def cpu_threads(self, n: int) -> Iterator[None]:
        """torch's intra-op threads set to `n` inside, and put back after (a Ray worker
        process is reused by the next task, a notebook by the next call)."""
        before = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def train_fold(self, cfg: TrainConfig, data: FoldData, test_x: np.ndarray, run_dir: Path,
                   tag: str, reporter: Reporter = Reporter()) -> FoldResult:
        return loop.train_fold(cfg, data, test_x, run_dir, tag, reporter)

    def predict(self, cfg: TrainConfig, run_dir: Path, tag: str,
                images: np.ndarray) -> np.ndarray:
        device = loop.resolve_device(cfg.device)
        model = loop.load_checkpoint(cfg, self._checkpoint(run_dir, tag), device)
        return loop.predict(model, images, cfg, device)

    def heatmaps(self, cfg: TrainConfig, run_dir: Path, tag: str, images: np.ndarray, *,
                 method: str = "gradcam", batch_size: int = 64,
                 device: str | None = None, classes: np.ndarray | None = None) -> np.ndarray:
        return cam.heatmaps(self._checkpoint(run_dir, tag), images, cfg, method, batch_size,
                            device, classes)

    def checkpoint_files(self, tag: str) -> tuple[str, ...]:
        return (f"{tag}.pt",)

    def versions(self) -> dict[str, str]:
        import timm

        return {"torch": torch.__version__, "timm": timm.__version__}

    def cleanup(self, run_dir: Path, tag: str) -> None:
        (Path(run_dir) / f"{tag}.last.pt").unlink(missing_ok=True)

    def _checkpoint(self, run_dir: Path, tag: str) -> Path:
        return kept_checkpoint(Path(run_dir) / self.checkpoint_files(tag)[0])

