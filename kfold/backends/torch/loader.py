"""Device-resident batches in airbench's spirit.

The decoded uint8 images are moved to the device once; an epoch is a random permutation on
the device, batches are slices of it, and augmentation (flips, 90-degree rotations) runs on
whole batches. No DataLoader workers, no per-epoch decoding.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import torch

from kfold.backends.rules import AUGMENT_FLIPS, View
from kfold.data.prepared import Rows


class DeviceBatches:
    """Iterate (x, y) float batches, normalised, augmented, shaped (N, C, H, W); with
    per-image loss `weights`, (x, y, w) batches."""

    def __init__(
        self,
        images: np.ndarray | Rows | torch.Tensor,
        targets: np.ndarray | None,
        *,
        batch_size: int,
        device: torch.device,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        in_chans: int = 1,
        shuffle: bool = False,
        augment: str = "none",
        channels_last: bool = False,
        generator: torch.Generator | None = None,
        weights: np.ndarray | None = None,
    ) -> None:
        self.images = to_device(images, device)  # uint8, stays uint8
        n = len(self.images)
        self.targets = torch.zeros(n, device=device) if targets is None else \
            torch.tensor(np.asarray(targets, dtype=np.float32), device=device)
        self.weights = None if weights is None else \
            torch.tensor(np.asarray(weights, dtype=np.float32), device=device)
        self.batch_size, self.device, self.in_chans = batch_size, device, in_chans
        self.shuffle, self.augment, self.channels_last = shuffle, augment, channels_last
        # Normalisation folded into one scale and shift, computed once.
        mean_t = torch.tensor(mean, device=device).view(1, -1, 1, 1)
        std_t = torch.tensor(std, device=device).view(1, -1, 1, 1)
        self.scale, self.shift = 1 / (255 * std_t), -mean_t / std_t
        self.generator = generator or torch.Generator(device="cpu").manual_seed(0)

    def __len__(self) -> int:
        n = len(self.images)
        if self.shuffle and n > self.batch_size:
            return n // self.batch_size
        return (n + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        n = len(self.images)
        order = (torch.randperm(n, generator=self.generator).to(self.device)
                 if self.shuffle else torch.arange(n, device=self.device))
        # Training drops a last partial batch (a batch of one breaks batch-norm).
        stop = n - n % self.batch_size if self.shuffle and n > self.batch_size else n
        host_rows = isinstance(self.images, Rows)
        for start in range(0, stop, self.batch_size):
            idx = order[start:start + self.batch_size]
            raw = (torch.from_numpy(self.images.take(idx.cpu().numpy())).to(self.device)
                   if host_rows else self.images[idx])
            batch = (self.prepare(raw), self.targets[idx])
            yield batch if self.weights is None else (*batch, self.weights[idx])

    def prepare(self, raw: torch.Tensor) -> torch.Tensor:
        x = raw.unsqueeze(1).float()
        if self.augment != "none":
            x = augment_batch(x, self.augment, self.generator)
        x = x.expand(-1, self.in_chans, -1, -1) * self.scale + self.shift
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x


def to_device(images: np.ndarray | Rows | torch.Tensor,
              device: torch.device) -> torch.Tensor | Rows:
    """Images where batches are cut from: on the CPU, the arrays themselves (a memory-mapped
    cache or a fold's rows of it, never copied); on a GPU, one copy on the device, made in
    chunks, when it fits in half the free memory, else the rows, gathered batch by batch."""
    if isinstance(images, Rows):
        if device.type == "cpu" or images.nbytes > _free_device_bytes(device) // 2:
            return images
        out = torch.empty(images.shape, dtype=torch.uint8, device=device)
        for start in range(0, len(images), _CHUNK):
            part = np.arange(start, min(len(images), start + _CHUNK))
            out[start:start + len(part)] = torch.from_numpy(images.take(part)).to(device)
        return out
    with warnings.catch_warnings():  # a read-only memory-mapped cache: never written
        warnings.filterwarnings("ignore", "The given NumPy array is not writable")
        return torch.as_tensor(images, device=device)


_CHUNK = 1024


def _free_device_bytes(device: torch.device) -> int:
    return torch.cuda.mem_get_info(device)[0]


def augment_batch(x: torch.Tensor, mode: str, generator: torch.Generator) -> torch.Tensor:
    """The flips of `AUGMENT_FLIPS[mode]`, each drawn per image with probability 1/2 (the
    transpose only on square images). Three draws per image whatever the mode, so a run's
    random stream does not depend on it."""
    n = x.shape[0]
    draws = torch.randint(0, 4, (3, n), generator=generator).to(x.device)
    for draw, flip in zip(draws, AUGMENT_FLIPS[mode]):
        if flip == "transpose" and x.shape[-1] != x.shape[-2]:
            continue
        x = torch.where((draw % 2 == 1).view(-1, 1, 1, 1), _FLIPS[flip](x), x)
    return x


_FLIPS = {
    "mirror": lambda x: x.flip(-1),
    "upside_down": lambda x: x.flip(-2),
    "transpose": lambda x: x.transpose(-1, -2),
}


def apply_view(x: torch.Tensor, view: View) -> torch.Tensor:
    """A test-time view (kfold.backends.rules) of a batch (N, C, H, W)."""
    return torch.rot90(x.flip(-1) if view.mirror else x, view.turns, dims=(-2, -1))
