"""The dataset plan: every image's id, split, labels, seed and box flag, decided before any
image is drawn, so that images can be drawn in any order (or on several cores) with the same
bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kfold.data.synth.kinds import Defect, draw_defect
from kfold.data.synth.scene import Scene, draw_scene


@dataclass(frozen=True)
class Item:
    """One image of the plan: its id, split, true and filed label, and how to draw it."""

    id: str
    split: str  # "train" | "test"
    label: int  # true class: 1 = defect
    filed: int  # class folder it is written to (differs from `label` when flipped)
    seed: int
    boxed: bool  # its box goes to defect_area.csv


_LETTERS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


def _make_ids(rng: np.random.Generator, n: int) -> list[str]:
    """Nexperia-like ids, e.g. WEA938001D1A_17-APG_ITIS_H49_1_48_2; unique."""
    n_lots = max(2, n // 60)
    lots = []
    for _ in range(n_lots):
        if rng.random() < 0.15:
            lots.append(f"SOT{rng.integers(10, 99)}DUMMY{rng.integers(1, 99):02d}")
        else:
            a = "".join(rng.choice(_LETTERS, 3))
            lots.append(f"{a}{rng.integers(100000, 999999)}{rng.choice(_LETTERS)}"
                        f"{rng.integers(0, 9)}{rng.choice(_LETTERS)}")
    heads = [f"H{'S' if rng.random() < 0.3 else ''}{rng.integers(1, 99)}" for _ in range(6)]
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        lot = lots[int(rng.integers(0, n_lots))]
        head = heads[int(rng.integers(0, len(heads)))]
        s = (f"{lot}_{rng.integers(1, 60):02d}-APG_ITIS_{head}_{rng.integers(1, 3)}"
             f"_{rng.integers(1, 200)}_{rng.integers(1, 9)}")
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def _n_defects(n: int, rate: float) -> int:
    return int(min(max(round(n * rate), 1), n - 1))


def plan(
    *, n_train: int = 1000, n_test: int = 300, defect_rate: float = 0.2, label_noise: float = 0.0,
    box_rate: float = 0.85, seed: int = 0,
) -> list[Item]:
    """Decide every image's id, split, labels, seed and whether it gets a box (no drawing)."""
    rng = np.random.default_rng([seed, 7211])
    ids = _make_ids(rng, n_train + n_test)
    items: list[Item] = []
    img_seeds = rng.integers(0, 2**63 - 1, size=n_train + n_test)
    k = 0
    for split, n in (("train", n_train), ("test", n_test)):
        labels = np.zeros(n, dtype=int)
        labels[rng.permutation(n)[: _n_defects(n, defect_rate)]] = 1
        filed = labels.copy()
        if split == "train" and label_noise > 0:
            flip = rng.permutation(n)[: round(label_noise * n)]
            filed[flip] = 1 - filed[flip]
        boxed = np.zeros(n, dtype=bool)
        if split == "train":
            cand = np.flatnonzero((labels == 1) & (filed == 1))
            n_box = round(box_rate * len(cand))
            boxed[rng.permutation(cand)[:n_box]] = True
        for i in range(n):
            items.append(Item(ids[k], split, int(labels[i]), int(filed[i]), int(img_seeds[k]),
                              bool(boxed[i])))
            k += 1
    return items


def draw_item(item: Item, size: int, difficulty: float) -> tuple[Scene, Defect | None]:
    """The scene (and defect, for a true defect) of one planned image."""
    rng = np.random.default_rng(item.seed)
    scene = draw_scene(rng, size, difficulty)
    defect = draw_defect(rng, scene, difficulty) if item.label == 1 else None
    return scene, defect
