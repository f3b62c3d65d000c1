"""Bench case `pipeline`: images/s delivered by the cached, on-batch-augmented loader vs
decoding JPEGs every epoch with PIL in a torch DataLoader (the usual baseline)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from kfold.backends.torch.loader import DeviceBatches
from kfold.backends.torch.loop import resolve_device
from kfold.bench import rate
from kfold.data.cache import load_decoded
from kfold.data.preprocess import Preprocess
from kfold.data.sources import discover
from kfold.workspace import Workspace


class _JpegDataset(Dataset):
    """The usual baseline: decode, resize and augment one JPEG per item, every epoch."""

    def __init__(self, paths: list[str], targets: np.ndarray, size: int) -> None:
        self.paths, self.targets, self.size = paths, targets, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        with Image.open(self.paths[i]) as im:
            img = im.convert("L").resize((self.size, self.size), Image.BILINEAR)
        x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255)[None]
        if torch.rand(()) < 0.5:
            x = x.flip(-1)
        if torch.rand(()) < 0.5:
            x = x.flip(-2)
        return (x - 0.5) / 0.5, torch.tensor(float(self.targets[i]))


def run(ws: Workspace, size: int = 64, batch_size: int = 64, epochs: int = 2,
                   device: str = "auto") -> list[dict]:
    dev = resolve_device(device)
    train = discover(ws).train
    decoded = load_decoded(train, Preprocess(), size, ws.cache_dir, "train")  # built once
    loader = DeviceBatches(decoded.images, train["target"].to_numpy(), batch_size=batch_size,
                           device=dev, mean=(0.5,), std=(0.5,), shuffle=True, augment="d4")
    jpeg = DataLoader(_JpegDataset(train["path"].tolist(), train["target"].to_numpy(), size),
                      batch_size=batch_size, shuffle=True, num_workers=2, drop_last=True)

    def drain(it) -> None:
        for _ in range(epochs):
            for x, _ in it:
                x.sum().item()  # make sure the batch really exists

    n = len(train) * epochs
    cached, per_epoch = rate(n, lambda: drain(loader)), rate(n, lambda: drain(jpeg))
    return [{"case": "pipeline", "what": "cached + on-batch augmentation", "img/s": cached},
            {"case": "pipeline", "what": "PIL decode every epoch (DataLoader, 2 workers)",
             "img/s": per_epoch},
            {"case": "pipeline", "what": "ratio cached / per-epoch decode", "ratio": cached / per_epoch}]
