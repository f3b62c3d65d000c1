"""`kf bench`: speed measured side by side in one run, printed as rates and ratios.

One module per case, each with `run(ws, size=..., device=...) -> rows` (plain dicts; the CLI
prints them) beside the function that measures in detail:

- `pipeline`: images/s of the cached, on-batch-augmented loader vs PIL decoding every epoch;
- `train`: small-CNN training images/s through the real pipeline vs tensors in memory;
- `models`: VGG16 / ResNet50 training and inference (with and without d4 TTA), peak memory;
- `stack`: seconds per blender on 35,000 rows x 10 synthetic runs;
- `survival`: how often a stack's OOF gain held on held-out test labels, by its size, over
  100 small synthetic contests (the track record `kf stack` and `kf plan` quote);
- `survival-cnn`: the same, on the demo's three CNN runs trained on 8 data seeds (about
  20 minutes; the record's second half);
- `metrics`: every contest metric on 100,000 rows x 10 classes, kf vs scikit-learn, and the
  paired bootstrap's cost;
- `shakeup`: the public/private simulation, 2,000 splits x 20 runs x 35,000 rows, vectorised
  vs scikit-learn per split;
- `explain`: Grad-CAM images/s, alone and with mapping and scoring;
- `memory`: peak RSS of a fold's epoch from a 2,000 / 8,000 / 32,000-image cache, in RAM
  and copied (before) vs memory-mapped rows (now), beside the cache size;
- `keras`: the Keras small CNN on the same cached images (last: TensorFlow in the process
  slows PyTorch down).

Cases are imported only when run, so that `kf bench --case stack` needs no torch.
"""

from __future__ import annotations

import importlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kfold import atomic
from kfold.data.synth import synthesize
from kfold.errors import KfError, check_whole
from kfold.jsonfiles import read_json
from kfold.workspace import Workspace

CASES = ("pipeline", "train", "models", "stack", "survival", "survival-cnn", "metrics",
         "shakeup", "explain", "memory", "ray", "keras")
MARK = "bench.json"  # in a kept --root: the bench made it, and with how many images


def bench_workspace(root: Path, n: int, source_size: int = 267) -> Workspace:
    """A workspace with `n` synthetic training images at the contest's size."""
    ws = Workspace.init(root)
    if not ws.data_dir.exists():
        synthesize(ws.data_dir, n_train=n, n_test=16, size=source_size, seed=0)
    return ws


def check_bench_root(root: Path, n_images: int) -> None:
    """`--root` is a new or empty folder or an earlier bench's: the bench draws its data and
    trains there, so it never runs in a user's workspace, nor on an earlier bench's data of
    another size."""
    if root.exists() and not root.is_dir():
        raise KfError(f"--root {root} is a file; pass a folder for the bench's workspaces")
    mark = root / MARK
    if mark.exists():
        was = read_json(mark, f"delete {root} or pass another --root").get("n_images")
        if was != n_images:
            raise KfError(f"--root {root} holds an earlier bench's {was} images; pass "
                          f"--n-images {was} or another --root")
    elif root.is_dir() and any(root.iterdir()):
        raise KfError(f"--root {root} is not empty and holds no earlier bench ({MARK}); pass a "
                      "new folder")


def rate(n_images: int, fn: Callable[[], object]) -> float:
    """Images per second of `fn`, which handles `n_images` images."""
    started = time.perf_counter()
    fn()
    return n_images / (time.perf_counter() - started)


def case(name: str) -> Callable[..., list[dict]]:
    """The `run` function of one case module."""
    return importlib.import_module(f"{__name__}.{name.replace('-', '_')}").run


def run_bench(cases: list[str], n_images: int = 512, size: int = 64, device: str = "auto",
              root: Path | None = None) -> list[dict]:
    """Run the named cases on a synthetic workspace (in `root`, kept for a rerun to resume,
    or a temporary folder) and return every row."""
    check_whole("--n-images", n_images, 10, 1_000_000)
    check_whole("--size", size, 8, 2048)
    if root is not None:
        check_bench_root(Path(root), n_images)
    with tempfile.TemporaryDirectory(prefix="kf-bench-") as tmp:
        ws = bench_workspace(Path(root or tmp), n_images)
        atomic.write_json(ws.root / MARK, {"n_images": n_images})
        rows: list[dict] = []
        for name in cases:
            rows += case(name)(ws, size=size, device=device)
        return rows
