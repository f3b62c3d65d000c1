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



def make_task_runs(task: str, n_rows: int = 2000, n_runs: int = 2, n_classes: int = 4,
                   n_test: int = 500, n_folds: int = 5, seed: int = 0
                   ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], dict[str, pd.DataFrame],
                              tuple[str, ...]]:
    """`make_runs` for any task (binary: for a metric other than AUC): (folds frame,
    {run: OOF frame}, {run: test frame}, classes), with the task's columns (`pred:<class>`).

    Class (or label) c is seen clearly by run c mod `n_runs` and faintly by the others, so
    the runs are complementary; even runs are sharper than odd ones (calibration differs).
    A regression run is the target plus shared and own noise, odd runs shrunk and shifted.
    A binary run is a multi-label run of one label (`n_classes` ignored). Targets are as
    folds.csv holds them: 0/1, a class index, space-separated labels, a number.
    """
    rng = np.random.default_rng(seed)
    n = n_rows + n_test
    classes = tuple(f"c{c}" for c in range(n_classes)) if task in artifacts.WIDE else ()
    ids = np.array([f"img{i:06d}" for i in range(n)])
    if task == "multiclass":
        truth = rng.choice(n_classes, n, p=_imbalanced(n_classes))
        hot = np.eye(n_classes)[truth]
    elif task in ("multilabel", "binary"):  # binary: one label, its `pred` column
        hot = (rng.random((n, n_classes if task == "multilabel" else 1)) < 0.3).astype(float)
        truth = hot if task == "multilabel" else hot[:, 0].astype(int)
    else:
        truth, hot = rng.normal(2.0, 1.0, n), None
    fold = np.arange(n_rows) % n_folds
    rng.shuffle(fold)
    target = _folds_target(task, truth[:n_rows], classes)
    folds = pd.DataFrame({"id": ids[:n_rows], "target": target, "fold": fold})
    shared = rng.normal(0, 0.5, (n, 1 if hot is None else hot.shape[1]))
    oofs, tests = {}, {}
    for j in range(n_runs):
        columns = [f"pred:{c}" for c in classes] or ["pred"]
        own = rng.normal(0, 1.0, shared.shape)
        signal = (task, j, n_runs, truth, hot, shared)
        values = _task_predictions(*signal, own)
        oofs[f"run{j}"] = folds.assign(**dict(zip(columns, values[:n_rows].T)))
        per_fold = {}
        for k in range(n_folds):
            fold_values = _task_predictions(*signal, own + rng.normal(0, 0.2, shared.shape)
                                            )[n_rows:]
            per_fold |= {c.replace("pred", f"pred_fold{k}", 1): v
                         for c, v in zip(columns, fold_values.T)}
        test = pd.DataFrame({"id": ids[n_rows:], **per_fold})
        for c in columns:
            test[c] = test[[c.replace("pred", f"pred_fold{k}", 1) for k in range(n_folds)]
                           ].mean(axis=1)
        tests[f"run{j}"] = test
    return folds, oofs, tests, classes


def _task_predictions(task: str, j: int, n_runs: int, truth: np.ndarray, hot, shared: np.ndarray,
                      noise: np.ndarray) -> np.ndarray:
    """Run j's (n, C) predictions (module docstring of `make_task_runs`)."""
    if task == "regression":
        value = truth + shared[:, 0] + noise[:, 0]
        return (value * 0.7 + 0.5 if j % 2 else value)[:, None]
    n_classes = hot.shape[1]
    sees = np.where(np.arange(n_classes) % n_runs == j, 3.0, 0.8)
    z = (1.5 if j % 2 == 0 else 0.5) * (sees * hot + shared + noise - 1.0)
    if task != "multiclass":
        return _sigmoid(z)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _imbalanced(n_classes: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, n_classes + 1)
    return weights / weights.sum()


def _folds_target(task: str, truth: np.ndarray, classes: tuple[str, ...]):
    if task == "multilabel":
        return [" ".join(c for c, on in zip(classes, row) if on) for row in truth]
    return truth


def write_task_workspace(root: str | Path, task: str, metric: str | None = None,
                         **kwargs) -> Workspace:
    """A workspace at `root` holding folds.csv and each run's OOF and test files and a
    run.json naming the task, classes and metric (default: the task's): `make_task_runs`."""
    from kfold.record import RunRecord
    from kfold.scoring import default_metric
    from kfold.train_config import TrainConfig

    ws = Workspace.init(root)
    folds, oofs, tests, classes = make_task_runs(task, **kwargs)
    ws.oof_dir.mkdir(parents=True, exist_ok=True)
    folds.to_csv(ws.folds_path, index=False)
    for run in oofs:
        artifacts.write_oof(ws.oof_path(run), oofs[run], task, classes)
        artifacts.write_test_preds(ws.test_path(run), tests[run], task, classes)
        artifacts.write_run(ws, RunRecord(
            name=run, model="synthetic", backend="none", config=TrainConfig.from_dict({}),
            folds_fingerprint=artifacts.folds_fingerprint(folds), data_fingerprint=None,
            folds=[], oof_auc=float("nan"), fold_auc_mean=float("nan"), fold_auc_std=0.0,
            skipped_images=[], versions={}, device="cpu", seconds=0.0,
            wall_seconds_last_call=0.0, created_utc="2026-01-01T00:00:00+00:00", task=task,
            classes=list(classes), metric=metric or default_metric(task).name))
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


def bench_task_stacking(task: str = "multiclass", n_rows: int = 35000, n_classes: int = 10,
                        n_runs: int = 10, seed: int = 0,
                        blenders: list[str] | None = None) -> list[dict]:
    """Stack `n_runs` synthetic runs of a `task` contest (`make_task_runs`, 5 folds) with
    every blender of the task, without writing files (a workspace without images has no
    sample submission to write to). One dict per blender — seconds (cross-fit + refit),
    its OOF score in the task's default metric — and a final row "total" (reading, checking,
    every blender and the paired bootstrap of every score)."""
    from kfold.stack.task_blenders import blenders_for

    with tempfile.TemporaryDirectory(prefix="kf-bench-stack-") as root:
        ws = write_task_workspace(root, task, n_rows=n_rows, n_runs=n_runs,
                                  n_classes=n_classes, n_test=n_rows // 2, seed=seed)
        start = time.perf_counter()
        report = stack_runs(ws, blenders=blenders or blenders_for(task), write=False)
        total = time.perf_counter() - start
    shared = {"task": task, "metric": report.metric, "rows": n_rows, "classes": n_classes,
              "runs": n_runs}
    by_name = {s.name.removeprefix("stack-"): s for s in report.scores if s.kind == "stack"}
    rows = [{"blender": b, "seconds": round(by_name[b].seconds, 3),
             "oof_score": round(by_name[b].score, 5), **shared}
            for b in blenders_for(task) if b in by_name]
    best = report.best_run
    rows.append({"blender": f"best run ({best.name})", "seconds": None,
                 "oof_score": round(best.score, 5), **shared})
    rows.append({"blender": "total", "seconds": round(total, 3), "oof_score": None, **shared})
    return rows


def run(ws: Workspace, size: int = 64, device: str = "auto") -> list[dict]:
    """Every blender on 35,000 rows x 10 binary runs, and on 35,000 rows x 10 classes x 10
    multi-class runs (seconds, not minutes); no images needed."""
    binary = [{"case": "stack", "what": f"binary {r['blender']}", "seconds": r["seconds"],
               "oof": f"AUC {r['oof_auc']:.4f}"}
              for r in bench_stacking(n_rows=35000, n_runs=10)]
    return binary + [{"case": "stack", "what": f"multiclass {r['blender']}",
                      "seconds": r["seconds"],
                      "oof": "" if r["oof_score"] is None else
                      f"log loss {r['oof_score']:.4f}"}
                     for r in bench_task_stacking()]
