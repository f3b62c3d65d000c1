"""Summaries of trained runs: per-run fold tables and the all-runs comparison."""

from __future__ import annotations

import numpy as np
from rich.table import Table

from kfold import artifacts
from kfold.workspace import Workspace


def render_run(meta: dict) -> Table:
    """Per-fold table of one run with its OOF AUC."""
    table = Table(title=f"{meta['name']}  ({meta['model']}, {meta['backend']})")
    for col in ("fold", "best epoch", "epochs", "val AUC", "accuracy", "precision", "recall",
                "tp", "fp", "tn", "fn", "seconds"):
        table.add_column(col, justify="right")
    for r in meta["folds"]:
        table.add_row(str(r["fold"]), str(r["best_epoch"]), str(r["epochs_run"]),
                      f"{r['auc']:.4f}", f"{r['accuracy']:.3f}", f"{r['precision']:.3f}",
                      f"{r['recall']:.3f}", *(str(r[k]) for k in ("tp", "fp", "tn", "fn")),
                      f"{r['seconds']:.1f}")
    table.caption = (f"OOF AUC {meta['oof_auc']:.4f}   fold mean {meta['fold_auc_mean']:.4f} "
                     f"± {meta['fold_auc_std']:.4f}")
    return table


def runs_summary(ws: Workspace) -> list[dict]:
    """One row per run: OOF AUC, fold AUCs, mean ± std, epochs, time (best OOF AUC first)."""
    rows = []
    for name in artifacts.list_runs(ws):
        meta = artifacts.read_run(ws, name)
        if "oof_auc" not in meta:
            continue
        fold_aucs = [r["auc"] for r in meta["folds"]]
        rows.append({
            "run": name, "model": meta["model"], "backend": meta["backend"],
            "size": meta["config"].get("image_size"), "oof_auc": meta["oof_auc"],
            "fold_aucs": fold_aucs, "mean": float(np.mean(fold_aucs)),
            "std": float(np.std(fold_aucs)),
            "epochs": sum(r["epochs_run"] for r in meta["folds"]),
            "seconds": meta.get("seconds", 0.0),
            "full": ws.full_test_path(name).exists(),
            "explain": meta.get("explain"),
        })
    return sorted(rows, key=lambda r: -r["oof_auc"])


def render_runs(rows: list[dict]) -> Table:
    table = Table(title="runs")
    for col in ("run", "model", "backend", "px", "OOF AUC", "folds", "mean ± std",
                "pointing (chance)", "epochs", "time s", "100%"):
        table.add_column(col, justify="right" if col not in ("run", "model", "backend") else "left")
    for r in rows:
        table.add_row(r["run"], r["model"], r["backend"], str(r["size"]), f"{r['oof_auc']:.4f}",
                      " ".join(f"{a:.3f}" for a in r["fold_aucs"]),
                      f"{r['mean']:.4f} ± {r['std']:.4f}", _pointing(r["explain"]),
                      str(r["epochs"]), f"{r['seconds']:.0f}", "yes" if r["full"] else "")
    table.caption = "pointing: share of boxed defects where the Grad-CAM peak is in the box (kf explain)"
    return table


def _pointing(explain: dict | None) -> str:
    if not explain or explain.get("pointing_game") is None:
        return ""
    chance = explain.get("chance")
    return f"{explain['pointing_game']:.3f}" + (f" ({chance:.3f})" if chance is not None else "")
