"""Summaries of trained runs: per-run fold tables and the all-runs comparison."""

from __future__ import annotations

import numpy as np

from kfold import artifacts, views
from kfold.views import Col, Table
from kfold.workspace import Workspace


def render_run(meta: dict) -> Table:
    """Per-fold table of one run with its OOF AUC."""
    cols = [Col(c, right=True) for c in ("fold", "best epoch", "epochs", "val AUC", "accuracy",
                                         "precision", "recall", "tp", "fp", "tn", "fn",
                                         "seconds")]
    rows = [[r["fold"], r["best_epoch"], r["epochs_run"], f"{r['auc']:.4f}",
             f"{r['accuracy']:.3f}", f"{r['precision']:.3f}", f"{r['recall']:.3f}",
             *(r[k] for k in ("tp", "fp", "tn", "fn")), f"{r['seconds']:.1f}"]
            for r in meta["folds"]]
    caption = (f"OOF AUC {meta['oof_auc']:.4f}   fold mean {meta['fold_auc_mean']:.4f} "
               f"± {meta['fold_auc_std']:.4f}")
    return views.table(f"{meta['name']}  ({meta['model']}, {meta['backend']})", cols, rows,
                       caption=caption)


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
    cols = [Col(c, right=c not in ("run", "model", "backend"))
            for c in ("run", "model", "backend", "px", "OOF AUC", "folds", "mean ± std",
                      "pointing (chance)", "epochs", "time s", "100%")]
    cells = [[r["run"], r["model"], r["backend"], r["size"], f"{r['oof_auc']:.4f}",
              " ".join(f"{a:.3f}" for a in r["fold_aucs"]), f"{r['mean']:.4f} ± {r['std']:.4f}",
              _pointing(r["explain"]), r["epochs"], f"{r['seconds']:.0f}",
              "yes" if r["full"] else ""] for r in rows]
    return views.table("runs", cols, cells, caption="pointing: share of boxed defects where "
                       "the Grad-CAM peak is in the box (kf explain)")


def _pointing(explain: dict | None) -> str:
    if not explain or explain.get("pointing_game") is None:
        return ""
    chance = explain.get("chance")
    return f"{explain['pointing_game']:.3f}" + (f" ({chance:.3f})" if chance is not None else "")
