"""`kf bench --case memory`: peak memory of one fold's epoch as the cache grows.

For 2,000 / 8,000 / 32,000 cached images at 128 px, a fresh process opens the cache, builds
an 80/20 fold and runs one training epoch and one validation pass of batches through the
real loader, two ways side by side:

- `in RAM, fold copied` (before): the cache read whole into memory and the fold's images
  copied out of it (`images[train_mask]`), about twice the cache at the peak;
- `memory-mapped rows` (now): the cache memory-mapped and the fold indexing it without a
  copy, each batch gathered from the pages it needs.

Peak RSS (VmHWM) is printed with the cache size and the RSS after the imports (torch's
constant share), so `(peak - imports) / cache` is the ratio to watch (goal: <= 1.2).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIZES = (2_000, 8_000, 32_000)
PX = 128
MODES = ("in RAM, fold copied", "memory-mapped rows")


def run(ws=None, size: int = PX, device: str = "auto", sizes=SIZES) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="kf-bench-memory-") as tmp:
        for n in sizes:
            path = write_cache(Path(tmp) / f"train-{n}.npy", n, PX)
            for mode in MODES:
                out = subprocess.run([sys.executable, "-m", __name__, str(path), mode, device],
                                     capture_output=True, text=True, check=True)
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            path.unlink()
    return rows


def write_cache(path: Path, n: int, px: int, chunk: int = 2_000) -> Path:
    """A cache-shaped .npy of random uint8 images, written chunk by chunk."""
    rng = np.random.default_rng(0)
    images = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(n, px, px))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        images[start:stop] = rng.integers(0, 256, (stop - start, px, px), dtype=np.uint8)
    images.flush()
    del images
    return path


def measure(path: Path, mode: str, device: str) -> dict:
    """One epoch of one fold's batches in this (fresh) process; its peak RSS."""
    import torch

    from kfold.backends.torch.loop import batches, config_info, resolve_device
    from kfold.execute import Arrays, FoldJob, fold_data
    from kfold.train_config import TrainConfig

    cfg = TrainConfig(image_size=PX, batch_size=64, device=device)
    dev, info = resolve_device(device), config_info(cfg)
    imports = rss_mb("VmRSS")
    images = np.load(path, mmap_mode="r")
    targets = (np.arange(len(images)) % 5 == 0).astype(np.int64)
    val = np.arange(len(images)) % 5 == 1
    if mode == MODES[0]:
        images = np.load(path)  # whole, in RAM
        train_x, val_x = images[~val], images[val]
    else:
        job = FoldJob("bench", 0, cfg, "cache", np.flatnonzero(~val), np.flatnonzero(val))
        fold = fold_data(job, Arrays(images, targets, images[:0]))
        train_x, val_x = fold.train_x, fold.val_x
    started = time.perf_counter()
    checksum = 0.0
    for x, _ in batches(train_x, targets[~val], cfg, info, dev, train=True,
                        generator=torch.Generator().manual_seed(0)):
        checksum += float(x[:, :, 0, 0].sum())
    for x, _ in batches(val_x, None, cfg, info, dev, train=False):
        checksum += float(x[:, :, 0, 0].sum())
    seconds = time.perf_counter() - started
    cache_mb = path.stat().st_size / 2**20
    peak = rss_mb("VmHWM")
    return {"case": "memory", "what": mode, "images": len(images), "px": PX,
            "cache_MB": round(cache_mb, 1), "imports_MB": round(imports, 1),
            "peak_RSS_MB": round(peak, 1), "(peak-imports)/cache": round((peak - imports) / cache_mb, 2),
            "epoch_img_per_s": round(len(images) / seconds)}


def rss_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]), sys.argv[2], sys.argv[3])))
