"""Bench case `shakeup`: the vectorised public/private simulation on a contest-size problem
(2,000 splits x 20 runs x 35,000 OOF rows) against scoring the same splits one by one with
scikit-learn (timed on a few splits, per split-run, and scaled up)."""

from __future__ import annotations

import time

import numpy as np
from sklearn.metrics import roc_auc_score

from kfold.stats.shakeup import PRIVATE, PUBLIC, _codes, simulate
from kfold.workspace import Workspace


def synthetic(n_rows: int, n_runs: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Targets (20% positive) and `n_runs` correlated probability columns."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n_rows) < 0.2).astype(int)
    shared = rng.normal(size=n_rows)
    preds = np.column_stack([1 / (1 + np.exp(-(1.4 * y + 0.7 * shared + rng.normal(size=n_rows))))
                             for _ in range(n_runs)])
    return y, preds


def bench_shakeup(n_rows: int = 35000, n_runs: int = 20, n_splits: int = 2000,
                  baseline_splits: int = 3, seed: int = 0) -> list[dict]:
    y, preds = synthetic(n_rows, n_runs, seed)
    start = time.perf_counter()
    sim = simulate(y, preds, public_fraction=0.3, n_splits=n_splits, seed=seed)
    fast = time.perf_counter() - start

    rng = np.random.default_rng(seed)
    pos, neg = y == 1, y == 0
    codes = np.zeros((baseline_splits, n_rows), np.int8)
    codes[:, pos] = _codes(rng, int(pos.sum()), baseline_splits, round(0.3 * pos.sum()),
                           int(pos.sum()) - round(0.3 * pos.sum()))
    codes[:, neg] = _codes(rng, int(neg.sum()), baseline_splits, round(0.3 * neg.sum()),
                           int(neg.sum()) - round(0.3 * neg.sum()))
    start = time.perf_counter()
    for split in codes:
        for part in (PUBLIC, PRIVATE):
            rows = split == part
            for j in range(n_runs):
                roc_auc_score(y[rows], preds[rows, j])
    slow = (time.perf_counter() - start) / baseline_splits * n_splits
    what = f"{n_splits} splits x {n_runs} runs x {n_rows:,} rows"
    return [
        {"case": "shakeup", "what": f"vectorised, {what}", "seconds": round(fast, 2),
         "splits/s": round(n_splits / fast, 1), "ratio": round(slow / fast, 1),
         "rank disagreement": round(sim.rank_disagreement(), 3)},
        {"case": "shakeup", "what": f"sklearn roc_auc_score per split ({baseline_splits} "
                                    f"timed, scaled to {n_splits})",
         "seconds": round(slow, 1), "splits/s": round(n_splits / slow, 1), "ratio": 1.0},
    ]


def run(ws: Workspace, size: int = 64, device: str = "auto") -> list[dict]:
    """No images needed: synthetic OOF predictions at the contest's size."""
    return bench_shakeup()
