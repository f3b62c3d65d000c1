"""Bench case `stack`: seconds per blender on a realistic-size stack of synthetic runs.

The runs' predictions have a known structure. Positives come in `n_runs` kinds; run j sees
kind j clearly and the others faintly, so the runs are complementary: a good blend beats every
one of them. Runs also differ in calibration (some squash their probabilities towards 0.5), so
a plain mean of probabilities weighs them unevenly and a fitted blender has something to learn.
With `drift`, each run's fold models also shift their logits by their own offset (normal, sd
`drift`), on their OOF rows and their test column alike: fold models on different scales,
as a run that kept an early checkpoint in one fold (docs/stack.md, "Fold-aware blending").
The stacking tests use the same generator (`make_runs`, `write_workspace`).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from kfold import artifacts
from kfold.stack.blenders import list_blenders
from kfold.stack.run import stack_runs
from kfold.workspace import Workspace


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def make_runs(
    n_rows: int = 2000,
    n_runs: int = 2,
    n_test: int = 500,
    n_folds: int = 5,
    positive_rate: float = 0.2,
    seed: int = 0,
    drift: float = 0.0,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """(folds frame, {run: OOF frame}, {run: test frame}) — same seed, same data.

    Runs are named run0, run1, ...; test frames have pred_fold0..k-1 and their mean `pred`.
    """
    rng = np.random.default_rng(seed)
    n = n_rows + n_test
    y = (rng.random(n) < positive_rate).astype(int)
    kind = rng.integers(0, n_runs, n)
    shared = rng.normal(0, 0.5, n)  # noise every run sees: runs are correlated
    ids = np.array([f"img{i:06d}" for i in range(n)])
    train, test = slice(0, n_rows), slice(n_rows, n)
    fold = np.empty(n_rows, dtype=int)
    skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, idx) in enumerate(skf.split(np.zeros(n_rows), y[train])):
        fold[idx] = k
    folds = pd.DataFrame({"id": ids[train], "target": y[train], "fold": fold})
    # a separate stream: the runs without drift stay what they were
    offset = np.random.default_rng([seed, 1]).normal(0, drift, (n_runs, n_folds))
    oofs, tests = {}, {}
    for j in range(n_runs):
        strength = np.where(kind == j, 3.0, 0.8) * y
        score = strength + shared + rng.normal(0, 1.0, n)
        scale = 1.5 if j % 2 == 0 else 0.35  # odd runs are squashed towards 0.5
        logit = scale * (score[train] - 1.5) + offset[j, fold]
        run = f"run{j}"
        oofs[run] = folds.assign(pred=_sigmoid(logit))
        per_fold = {f"pred_fold{k}": _sigmoid(scale * (score[test] + rng.normal(0, 0.2, n_test)
                                                       - 1.5) + offset[j, k])
                    for k in range(n_folds)}
        t = pd.DataFrame({"id": ids[test], **per_fold})
        t["pred"] = t[list(per_fold)].mean(axis=1)
        tests[run] = t
    return folds, oofs, tests


def write_workspace(root: str | Path, **kwargs) -> Workspace:
    """A workspace at `root` holding folds.csv, oof/<run>.parquet and oof/<run>.test.parquet."""
    ws = Workspace.init(root)
    folds, oofs, tests = make_runs(**kwargs)
    ws.oof_dir.mkdir(parents=True, exist_ok=True)
    folds.to_csv(ws.folds_path, index=False)
    for run in oofs:
        artifacts.write_oof(ws.oof_path(run), oofs[run])
        artifacts.write_test_preds(ws.test_path(run), tests[run])
    return ws


def bench_stacking(n_rows: int = 35000, n_runs: int = 10, seed: int = 0,
                   blenders: list[str] | None = None) -> list[dict]:
    """Stack `n_runs` synthetic runs of `n_rows` OOF rows (5 folds) with every blender.

    Returns one dict per blender — blender, seconds (cross-fit on 5 folds + refit + writing
    its artifacts), oof_auc — and a final row "total" (including reading and checking the runs).
    """
    with tempfile.TemporaryDirectory(prefix="kf-bench-stack-") as root:
        ws = write_workspace(root, n_rows=n_rows, n_runs=n_runs, n_test=n_rows // 2, seed=seed)
        start = time.perf_counter()
        report = stack_runs(ws, blenders=blenders)
        total = time.perf_counter() - start
    rows = [{"blender": s.name.removeprefix("stack-"), "seconds": round(s.seconds, 3),
             "oof_auc": round(s.oof_auc, 5), "rows": n_rows, "runs": n_runs}
            for s in report.scores if s.kind == "stack"]
    order = list_blenders()
    rows.sort(key=lambda r: order.index(r["blender"]))
    rows.append({"blender": "total", "seconds": round(total, 3),
                 "oof_auc": round(max(r["oof_auc"] for r in rows), 5),
                 "rows": n_rows, "runs": n_runs})
    return rows


def run(ws: Workspace, size: int = 64, device: str = "auto") -> list[dict]:
    """Every blender on 35,000 rows x 10 runs (seconds, not minutes); no images needed."""
    return [{"case": "stack", "what": r["blender"], "seconds": r["seconds"]}
            for r in bench_stacking(n_rows=35000, n_runs=10)]
