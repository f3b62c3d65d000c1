"""Synthetic data for the contest kinds beyond binary: `kf data synth --task ...`.

The same chip photos as the binary generator (`writing.synthesize`), labelled three other ways,
each in the layout a Kaggle contest of that kind uses, so that task detection reads them as
a competitor's data would be read:

- `multiclass`: each chip is good or carries one defect, labelled by its kind (6 classes,
  imbalanced as real defect data are: half the chips good, chips rare); class folders
  train/<class>/, a sample submission with one probability column per class;
- `multilabel`: a chip carries none, one or several defects, one 0/1 column per kind in
  train.csv (and in the sample submission);
- `regression`: a severity score in train.csv, 0 for a good chip, higher for a plainer defect
  (the defect's faintness decides it), many distinct values.

Each writes solution.csv (the truth and a Public/Private half per test image) for the
stand-in server. Same arguments, same bytes; the folder appears complete or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kfold.data.synth.kinds import draw_defect
from kfold.data.synth.raster import encode_jpeg, render
from kfold.data.synth.scene import draw_scene
from kfold.data.synth.writing import (
    SynthSummary,
    check_args,
    check_out,
    folder_in_place,
    synthesize,
)
from kfold.errors import KfError

TASKS = ("binary", "multiclass", "multilabel", "regression")
# the label of each defect kind: the two lead defects are one class ("lead")
LABEL_OF_KIND = {"scratch": "scratch", "chip": "chip", "crack": "crack",
                 "missing_lead": "lead", "bent_lead": "lead", "contamination": "contamination"}
LABELS = ("scratch", "chip", "crack", "lead", "contamination")
CLASSES = ("good", *LABELS)
CLASS_SHARE = (0.5, 0.15, 0.06, 0.09, 0.1, 0.1)  # imbalanced; chip the rarest
LABEL_RATE = 0.2  # multi-label: each label on this share of the chips, independently
MIN_PER_CLASS = 6  # every class (label) appears at least this often among training images


@dataclass(frozen=True)
class Chip:
    """One planned image: id, split, the defect kinds it carries, its faintness and seed."""

    id: str
    split: str
    kinds: tuple[str, ...]
    faintness: float
    seed: int

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(sorted({LABEL_OF_KIND[k] for k in self.kinds}, key=LABELS.index))


def _quota(n: int, shares: tuple[float, ...], least: int) -> np.ndarray:
    """Class counts summing to n, each at least `least`, the largest class taking up the
    rounding."""
    counts = np.maximum(np.round(np.array(shares) * n).astype(int), least)
    counts[int(np.argmax(shares))] += n - counts.sum()
    if counts.min() < least:
        raise KfError(f"{n} images are too few for {len(shares)} classes of at least "
                      f"{least} each; use more images (--n-train/--n-test)")
    return counts


def _kinds_of(label: str, rng: np.random.Generator) -> tuple[str, ...]:
    choices = [k for k, lab in LABEL_OF_KIND.items() if lab == label]
    return (str(rng.choice(choices)),)


def _split_kinds(task: str, n: int, least: int,
                 rng: np.random.Generator) -> list[tuple[str, ...]]:
    """The defect kinds of each image of one split, each class (label) `least` times."""
    if task == "multiclass":
        classes = np.repeat(np.arange(len(CLASSES)), _quota(n, CLASS_SHARE, least))
        return [() if c == 0 else _kinds_of(CLASSES[c], rng) for c in rng.permutation(classes)]
    if task == "multilabel":
        has = np.zeros((n, len(LABELS)), dtype=bool)
        for j in range(len(LABELS)):
            has[rng.permutation(n)[: max(least, round(LABEL_RATE * n))], j] = True
        return [sum((_kinds_of(LABELS[j], rng) for j in np.flatnonzero(row)), ())
                for row in has]
    defect = rng.random(n) < 0.6  # regression: 60% of the chips have a defect to grade
    return [_kinds_of(str(rng.choice(LABELS)), rng) if d else () for d in defect]


def plan_chips(task: str, n_train: int, n_test: int, seed: int) -> list[Chip]:
    """Every image's id, split, kinds, faintness and seed (no drawing)."""
    if task not in TASKS[1:]:
        raise KfError(f"--task {task!r}: choose one of {', '.join(TASKS)}")
    rng = np.random.default_rng([seed, 2020])
    chips: list[Chip] = []
    for split, n, least in (("train", n_train, MIN_PER_CLASS), ("test", n_test, 1)):
        for kinds in _split_kinds(task, n, least, rng):
            k = len(chips)
            chips.append(Chip(f"img{k:06d}", split, kinds, float(rng.uniform(0.1, 0.9)),
                              int(rng.integers(0, 2**63 - 1))))
    return chips


def draw_chip(chip: Chip, size: int) -> bytes:
    """The chip's JPEG: its scene with each of its defects painted. Painting a defect changes
    only pixels of its own box, so several are the scene plus each one's change."""
    rng = np.random.default_rng(chip.seed)
    scene = draw_scene(rng, size, chip.faintness)
    img = render(scene)
    base = img.copy()
    for kind in chip.kinds:
        img += render(scene, draw_defect(rng, scene, chip.faintness, kind)) - base
    return encode_jpeg(np.clip(img, 0, 255))


def severity(chip: Chip) -> float:
    """The regression target: 0 for a good chip, 1 to 10 for a defect, plainer = higher."""
    return 0.0 if not chip.kinds else round(1 + 9 * (1 - chip.faintness), 2)


def _truth(task: str, chips: list[Chip]) -> pd.DataFrame:
    """id and the target column(s) of these chips, in the contest's own format."""
    ids = [c.id for c in chips]
    if task == "multiclass":
        return pd.DataFrame({"id": ids, "label": [(c.labels or ("good",))[0] for c in chips]})
    if task == "multilabel":
        return pd.DataFrame({"id": ids, **{lab: [int(lab in c.labels) for c in chips]
                                           for lab in LABELS}})
    return pd.DataFrame({"id": ids, "label": [severity(c) for c in chips]})


def _sample(task: str, test: list[Chip]) -> pd.DataFrame:
    """sample_submission.csv: the columns and the placeholder values a submission replaces."""
    ids = [c.id for c in test]
    if task == "multiclass":
        return pd.DataFrame({"id": ids, **{c: 1 / len(CLASSES) for c in CLASSES}})
    if task == "multilabel":
        return pd.DataFrame({"id": ids, **{lab: 0.5 for lab in LABELS}})
    return pd.DataFrame({"id": ids, "label": 0.0})


def _image_path(root: Path, task: str, chip: Chip) -> Path:
    if chip.split == "test":
        return root / "test" / f"{chip.id}.jpg"
    if task == "multiclass":
        return root / "train" / (chip.labels or ("good",))[0] / f"{chip.id}.jpg"
    return root / "train" / f"{chip.id}.jpg"


def _write(root: Path, task: str, chips: list[Chip], size: int, seed: int,
           progress: Callable[[int, int], None] | None) -> None:
    for k, chip in enumerate(chips):
        path = _image_path(root, task, chip)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(draw_chip(chip, size))
        if progress is not None:
            progress(k + 1, len(chips))
    train = [c for c in chips if c.split == "train"]
    test = sorted((c for c in chips if c.split == "test"), key=lambda c: c.id)
    if task != "multiclass":
        _truth(task, train).to_csv(root / "train.csv", index=False)
    _sample(task, test).to_csv(root / "sample_submission.csv", index=False)
    usage = np.random.default_rng([seed, 4242]).permutation(len(test)) % 2
    _truth(task, test).assign(Usage=np.where(usage == 0, "Public", "Private")).to_csv(
        root / "solution.csv", index=False)


@dataclass(frozen=True)
class TaskSynthSummary:
    """What `synthesize_task` wrote; `console.print(summary)` shows it."""

    path: str
    task: str
    n_train: int
    n_test: int
    counts: tuple[tuple[str, int], ...]  # training images per class / label / "defect"

    def __rich__(self):
        from kfold import views

        rows = [("task", self.task), ("train", self.n_train), ("test", self.n_test),
                ("training images per " + ("label" if self.task == "multilabel" else "class"),
                 ", ".join(f"{k} {n}" for k, n in self.counts))]
        return views.table(f"synthetic dataset: {self.path}", [views.Col("", bold=True), ""],
                           rows, header=False)


def synthesize_task(out: str | Path, task: str, *, n_train: int = 1000, n_test: int = 300,
                    size: int = 267, seed: int = 0,
                    progress: Callable[[int, int], None] | None = None) -> TaskSynthSummary:
    """Write a `task` dataset under `out` (missing or empty), complete or not at all."""
    check_args(n_train=n_train, n_test=n_test, size=size, seed=seed)
    chips = plan_chips(task, n_train, n_test, seed)
    out = check_out(out)
    with folder_in_place(out) as tmp:
        _write(tmp, task, chips, size, seed, progress)
    train = [c for c in chips if c.split == "train"]
    if task == "regression":
        counts = (("good", sum(not c.kinds for c in train)),
                  ("defect", sum(bool(c.kinds) for c in train)))
    else:
        names = CLASSES if task == "multiclass" else LABELS
        counts = tuple((n, sum(n in (c.labels or ("good",)) for c in train)) for n in names)
    return TaskSynthSummary(str(out), task, n_train, n_test, counts)


def synthesize_any(out: str | Path, task: str, *, n_train: int, n_test: int, size: int,
                   seed: int, progress: Callable[[int, int], None] | None = None,
                   **binary: float) -> SynthSummary | TaskSynthSummary:
    """`kf data synth --task`: the binary generator (with its own options) or a task's."""
    if task == "binary":
        return synthesize(out, n_train=n_train, n_test=n_test, size=size, seed=seed,
                          progress=progress, **binary)
    return synthesize_task(out, task, n_train=n_train, n_test=n_test, size=size, seed=seed,
                           progress=progress)
