"""Bench case `survival`: how often a stack's OOF gain over the best run holds on held-out
test labels (the track record `kf stack` and `kf plan` quote, kfold.stack.track).

Each case is a small contest of the demo's size (1,000 OOF rows in 3 folds, 600 test rows,
30% positive) with three runs of one signal: errors they share, each run's own errors (of
a random size), each fold model its own small errors and logit offset (how far apart the fold
models' scales are varies from case to case). Every blender stacks the runs through
`stack_runs`, as `kf stack` does; the best stack by OOF AUC is held against the best run on
the test labels. The gains are binned by their OOF size.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from kfold import artifacts
from kfold.metrics import auc
from kfold.stack.run import stack_runs
from kfold.stack.track import BINS, bin_label, bin_of
from kfold.workspace import Workspace

N_ROWS, N_TEST, N_FOLDS, N_RUNS = 1000, 600, 3, 3


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def write_case(root: Path, rng: np.random.Generator) -> tuple[Workspace, np.ndarray]:
    """A workspace of one case (folds.csv, OOF and per-fold test files) and its test labels."""
    ws = Workspace.init(root, n_folds=N_FOLDS)
    n = N_ROWS + N_TEST
    y = (rng.random(n) < 0.3).astype(int)
    signal = 1.2 * y + rng.normal(0, 1.0, n)  # the errors every run shares
    fold = rng.permutation(np.arange(N_ROWS) % N_FOLDS)
    ids = np.array([f"r{i:05d}" for i in range(n)])
    frame = pd.DataFrame({"id": ids[:N_ROWS], "target": y[:N_ROWS], "fold": fold})
    frame.to_csv(ws.folds_path, index=False)
    ws.oof_dir.mkdir(parents=True, exist_ok=True)
    drift = rng.uniform(0, 1.0)
    for j in range(N_RUNS):
        run = signal + rng.normal(0, rng.uniform(0.05, 1.2), n)  # this run's own errors
        offset = rng.normal(0, drift, N_FOLDS)
        per_fold = [_sigmoid(run + rng.normal(0, 0.15, n) + offset[k] - 0.8)
                    for k in range(N_FOLDS)]
        oof = np.choose(fold, [p[:N_ROWS] for p in per_fold])
        artifacts.write_oof(ws.oof_path(f"run{j}"), frame.assign(pred=oof))
        test = pd.DataFrame({"id": ids[N_ROWS:]} | {f"pred_fold{k}": p[N_ROWS:]
                                                     for k, p in enumerate(per_fold)})
        test["pred"] = test.filter(like="pred_fold").mean(axis=1)
        artifacts.write_test_preds(ws.test_path(f"run{j}"), test)
    return ws, y[N_ROWS:]


class Gain(NamedTuple):
    """The best single run and the best stack (by OOF AUC), and the stack's gain over the
    run on OOF and on the test labels."""

    run: str
    stack: str
    oof: float
    test: float


def gains(ws: Workspace, y_test: np.ndarray) -> Gain:
    """The best stack against the best single run; `y_test` in test-id order."""
    report = stack_runs(ws)
    best = report.best_run
    stack = max((s for s in report.scores if s.kind == "stack"), key=lambda s: s.oof_auc)
    test = {name: artifacts.read_test_preds(ws.test_path(name)).sort_values("id")["pred"]
            for name in (best.name, stack.name)}
    return Gain(best.name, stack.name, stack.gain,
                auc(y_test, test[stack.name]) - auc(y_test, test[best.name]))


def case_gains(cases: range, seed: int = 0) -> list[tuple[float, float]]:
    """(OOF gain, test gain) of each case; case `i` is the same contest whatever the range."""
    out = []
    for case in cases:
        with tempfile.TemporaryDirectory(prefix="kf-survival-") as root:
            ws, y_test = write_case(Path(root), np.random.default_rng([seed, case]))
            gain = gains(ws, y_test)
            out.append((gain.oof, gain.test))
    return out


def binned(pairs: list[tuple[float, float]]) -> list[dict]:
    """One row per OOF-gain bin: cases, share whose test gain was positive, mean test gain."""
    rows = []
    for i in range(len(BINS)):
        test = [t for g, t in pairs if bin_of(g) == i]
        rows.append({"oof_gain": bin_label(i), "cases": len(test),
                     "held": round(float(np.mean([t > 0 for t in test])), 3) if test else None,
                     "mean_test_gain": round(float(np.mean(test)), 4) if test else None})
    return rows


def measure(n_cases: int = 100, seed: int = 0) -> list[dict]:
    """`binned` over cases 0 .. n_cases - 1."""
    return binned(case_gains(range(n_cases), seed))


def run(ws: Workspace, size: int = 64, device: str = "auto") -> list[dict]:
    """100 cases (a few minutes on 2 cores); no images needed."""
    return [{"case": "survival", **r} for r in measure()]
