"""Writing a synthetic dataset: the options' check, the images drawn on all cores, the CSVs,
and the folder renamed into place complete (or not at all)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kfold.data.synth.kinds import defect_box
from kfold.data.synth.plan import Item, draw_item, plan
from kfold.data.synth.raster import encode_jpeg, render
from kfold.errors import SEED_MAX, KfError, check_number, check_whole

GOOD, BAD = "good_0", "bad_1"
BoxRow = tuple[str, int, int, int, int]  # id, x_1, y_1, x_2, y_2: a row of defect_area.csv


@dataclass(frozen=True)
class SynthSummary:
    """What `synthesize` wrote; `console.print(summary)` shows it as a table."""

    path: str
    n_train: int
    n_test: int
    train_good: int
    train_bad: int
    test_good: int
    test_bad: int
    boxes: int
    flipped: int
    kinds: tuple[tuple[str, int], ...]
    size: int
    seed: int

    def __rich__(self):
        from kfold import views

        rows = [
            ("train", f"{self.n_train} ({GOOD} {self.train_good}, {BAD} {self.train_bad})"),
            ("test", f"{self.n_test} (good {self.test_good}, bad {self.test_bad})"),
            ("boxes (defect_area.csv)", self.boxes),
            ("labels flipped (noise)", self.flipped),
            ("defect kinds", ", ".join(f"{k} {n}" for k, n in self.kinds) or "-"),
            ("image", f"{self.size}x{self.size} grayscale JPEG, seed {self.seed}"),
        ]
        return views.table(f"synthetic dataset: {self.path}", [views.Col("", bold=True), ""],
                           rows, header=False)


def check_args(n_train: int = 1000, n_test: int = 300, size: int = 267,
               defect_rate: float = 0.2, difficulty: float = 0.5, label_noise: float = 0.0,
               box_rate: float = 0.85, seed: int = 0) -> None:
    """Every option's range, named as `kf data synth` spells it, before anything is written."""
    check_whole("--n-train", n_train, 10, 1_000_000)
    check_whole("--n-test", n_test, 2, 1_000_000)
    check_whole("--size", size, 32, 4096)
    check_number("--defect-rate", defect_rate, low=0, high=1, low_open=True, high_open=True)
    check_number("--difficulty", difficulty, low=0, high=1)
    check_number("--label-noise", label_noise, low=0, high=0.5, high_open=True)
    check_number("--box-rate", box_rate, low=0, high=1)
    check_whole("--seed", seed, 0, SEED_MAX)


def synthesize(
    out: str | Path, *, n_train: int = 1000, n_test: int = 300, size: int = 267,
    defect_rate: float = 0.2, difficulty: float = 0.5, label_noise: float = 0.0,
    box_rate: float = 0.85, seed: int = 0, progress: Callable[[int, int], None] | None = None,
) -> SynthSummary:
    """Write a Nexperia-like dataset under `out` (which must be missing or empty).

    Files: train/good_0/<id>.jpg, train/bad_1/<id>.jpg, test/<id>.jpg, defect_area.csv
    (id, x_1, y_1, x_2, y_2), sample_submission.csv (id, label=0.5; test ids sorted) and
    solution.csv (id, label, Usage = Public/Private, stratified half each) for a local scorer.
    Same arguments, same bytes. `progress(done, total)` is called after each image.
    """
    check_args(n_train, n_test, size, defect_rate, difficulty, label_noise, box_rate, seed)
    out = check_out(out)
    items = plan(n_train=n_train, n_test=n_test, defect_rate=defect_rate,
                 label_noise=label_noise, box_rate=box_rate, seed=seed)
    with folder_in_place(out) as tmp:
        boxes, kinds = _write_images(tmp, items, size, difficulty, progress)
        _write_tables(tmp, items, boxes, seed)

    tr = [it for it in items if it.split == "train"]
    te = [it for it in items if it.split == "test"]
    return SynthSummary(
        path=str(out), n_train=n_train, n_test=n_test,
        train_good=sum(it.filed == 0 for it in tr), train_bad=sum(it.filed == 1 for it in tr),
        test_good=sum(it.label == 0 for it in te), test_bad=sum(it.label == 1 for it in te),
        boxes=len(boxes), flipped=sum(it.filed != it.label for it in tr),
        kinds=tuple(sorted(kinds.items())), size=size, seed=seed,
    )


def check_out(out: str | Path) -> Path:
    """The dataset's folder, which must be missing or empty (nothing is ever overwritten)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise KfError(f"{out} already exists and is not an empty folder; "
                      "pass a new or empty folder (--out) or remove it first")
    return out


@contextmanager
def folder_in_place(out: Path) -> Iterator[Path]:
    """A temporary folder beside `out`, renamed to `out` when the block succeeds and removed
    when it fails: the dataset appears complete or not at all."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_images(root: Path, items: list[Item], size: int, difficulty: float,
                  progress: Callable[[int, int], None] | None) -> tuple[list[BoxRow], Counter[str]]:
    """Draw and write every planned image into its class folder; the boxes of the boxed
    defects and the count of each defect kind."""
    for d in (root / "train" / GOOD, root / "train" / BAD, root / "test"):
        d.mkdir(parents=True)
    boxes: list[BoxRow] = []
    kinds: Counter[str] = Counter()
    drawn = _draw_all(items, size, difficulty)
    for k, (item, (jpeg, kind, box)) in enumerate(zip(items, drawn)):
        folder = root / "test" if item.split == "test" else root / "train" / (BAD if item.filed else GOOD)
        (folder / f"{item.id}.jpg").write_bytes(jpeg)
        if kind is not None:
            kinds[kind] += 1
        if box is not None:
            boxes.append((item.id, *box))
        if progress is not None:
            progress(k + 1, len(items))
    return boxes, kinds


def _draw_all(items: list[Item], size: int, difficulty: float, chunk: int = 64):
    """Every item drawn and encoded, in order; spread over the CPU cores when there are
    enough items (each item has its own seed, so the images do not depend on the split)."""
    args = (items, [size] * len(items), [difficulty] * len(items))
    workers = min(os.cpu_count() or 1, len(items) // chunk)
    if workers < 2:
        yield from map(_draw_one, *args)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: a forked child of a process running torch's thread pools can hang
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from pool.map(_draw_one, *args, chunksize=chunk)


def _draw_one(item: Item, size: int, difficulty: float) -> tuple[bytes, str | None, tuple | None]:
    """One item's JPEG bytes, its defect kind and its box (when the item is boxed)."""
    scene, defect = draw_item(item, size, difficulty)
    jpeg = encode_jpeg(render(scene, defect))
    if defect is None:
        return jpeg, None, None
    return jpeg, defect.kind, tuple(defect_box(scene, defect)) if item.boxed else None


def _write_tables(root: Path, items: list[Item], boxes: list[BoxRow], seed: int) -> None:
    """defect_area.csv, sample_submission.csv and solution.csv (with its Public/Private split)."""
    pd.DataFrame(boxes, columns=["id", "x_1", "y_1", "x_2", "y_2"]).sort_values("id").to_csv(
        root / "defect_area.csv", index=False)
    test = sorted((it for it in items if it.split == "test"), key=lambda it: it.id)
    pd.DataFrame({"id": [it.id for it in test], "label": 0.5}).to_csv(
        root / "sample_submission.csv", index=False)
    usage = _usage(test, seed)
    pd.DataFrame({
        "id": [it.id for it in test], "label": [it.label for it in test],
        "Usage": [usage[it.id] for it in test],
    }).to_csv(root / "solution.csv", index=False)


def _usage(test: list[Item], seed: int) -> dict[str, str]:
    """Each test id's half of the leaderboard, "Public" or "Private", stratified by class so
    the public half has both classes."""
    usage_rng = np.random.default_rng([seed, 4242])
    usage = {}
    for cls in (0, 1):
        ids = [it.id for it in test if it.label == cls]
        order = usage_rng.permutation(len(ids))
        half = (len(ids) + 1 - cls) // 2  # good rounds up, bad down: both values appear
        for j, i in enumerate(order):
            usage[ids[i]] = "Public" if j < half else "Private"
    return usage
