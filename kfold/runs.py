"""Summaries of trained runs: per-run fold tables and the all-runs comparison."""

from __future__ import annotations

import numpy as np

from kfold import artifacts, views
from kfold.record import RunRecord
from kfold.views import Col, Table
from kfold.workspace import Workspace


def render_run(meta: RunRecord) -> Table:
    """Per-fold table of one run with its OOF AUC."""
    cols = [Col(c, right=True) for c in ("fold", "best epoch", "epochs", "val AUC", "accuracy",
                                         "precision", "recall", "tp", "fp", "tn", "fn",
                                         "seconds")]
    rows = [[r.fold, r.best_epoch, r.epochs_run, f"{r.auc:.4f}", f"{r.accuracy:.3f}",
             f"{r.precision:.3f}", f"{r.recall:.3f}", r.tp, r.fp, r.tn, r.fn,
             f"{r.seconds:.1f}"]
            for r in meta.folds]
    caption = (f"OOF AUC {meta.oof_auc:.4f}   fold mean {meta.fold_auc_mean:.4f} "
               f"± {meta.fold_auc_std:.4f}")
    return views.table(f"{meta.name}  ({meta.model}, {meta.backend})", cols, rows,
                       caption=caption)


def runs_summary(ws: Workspace) -> list[dict]:
    """One row per run: OOF AUC, fold AUCs, mean ± std, epochs, time (best OOF AUC first)."""
    rows = []
    for name in artifacts.list_runs(ws):
        meta = artifacts.read_run(ws, name)
        fold_aucs = meta.fold_aucs
        rows.append({
            "run": name, "model": meta.model, "backend": meta.backend,
            "size": meta.config.get("image_size"), "oof_auc": meta.oof_auc,
            "fold_aucs": fold_aucs, "mean": float(np.mean(fold_aucs)),
            "std": float(np.std(fold_aucs)),
            "epochs": sum(r.epochs_run for r in meta.folds),
            "seconds": meta.seconds,
            "full": ws.full_test_path(name).exists(),
            "explain": meta.explain,
        })
    rows = sorted(rows, key=lambda r: -r["oof_auc"])
    add_uncertainty(ws, rows)
    return rows


def add_uncertainty(ws: Workspace, rows: list[dict]) -> None:
    """Give each row (best OOF AUC first) its DeLong 95% interval and, when it scored the same
    images as the best run, the paired difference to it: interval, p-value, within noise.

    Fields: oof_auc_low/high, vs_best, vs_best_low/high, vs_best_p, within_noise (None when
    the run's OOF file is gone or holds other ids or targets than the best run's)."""
    from kfold.stats import auc_interval, paired_difference

    empty = dict.fromkeys(("oof_auc_low", "oof_auc_high", "vs_best", "vs_best_low",
                           "vs_best_high", "vs_best_p", "within_noise"))
    best = None
    for r in rows:
        r.update(empty)
        path = ws.oof_path(r["run"])
        if not path.exists():
            continue
        oof = artifacts.read_oof(path).sort_values("id").reset_index(drop=True)
        iv = auc_interval(oof["target"], oof["pred"])
        r.update(oof_auc_low=iv.low, oof_auc_high=iv.high)
        if best is None:
            best = oof
            continue
        if not (oof["id"].equals(best["id"]) and oof["target"].equals(best["target"])):
            continue
        d = paired_difference(oof["target"], oof["pred"], best["pred"])
        r.update(vs_best=d.diff, vs_best_low=d.low, vs_best_high=d.high, vs_best_p=d.p_value,
                 within_noise=d.within_noise)


def render_runs(rows: list[dict]) -> Table:
    cols = [Col("run", no_wrap=True), Col("model"), Col("backend")] + [
        Col(c, right=True, no_wrap=True)
        for c in ("px", "OOF AUC ±95%", "vs best ±95%", "p", "fold mean ± std",
                  "pointing (chance)", "epochs", "time s", "100%")]
    cells = [[r["run"], r["model"], r["backend"], r["size"], _auc_text(r), _vs_best(r),
              "" if r.get("vs_best_p") is None else f"{r['vs_best_p']:.2g}",
              f"{r['mean']:.4f} ± {r['std']:.4f}",
              _pointing(r["explain"]), r["epochs"], f"{r['seconds']:.0f}",
              "yes" if r["full"] else ""] for r in rows]
    return views.table("runs", cols, cells, caption=(
        "±95%: DeLong interval half-width; vs best: OOF AUC minus the best run's, DeLong's "
        "paired test (same images), ≈ noise: its interval holds 0; pointing: share of boxed "
        "defects where the Grad-CAM peak is in the box (kf explain); per-fold AUCs: --format json"))


def _auc_text(r: dict) -> str:
    if r.get("oof_auc_low") is None:
        return f"{r['oof_auc']:.4f}"
    half = (r["oof_auc_high"] - r["oof_auc_low"]) / 2
    return f"{r['oof_auc']:.4f} ±{half:.4f}"


def _vs_best(r: dict) -> str:
    if r.get("vs_best") is None:
        return ""
    half = (r["vs_best_high"] - r["vs_best_low"]) / 2
    return f"{r['vs_best']:+.4f} ±{half:.4f}" + (" ≈ noise" if r["within_noise"] else "")


def _pointing(explain: dict | None) -> str:
    if not explain or explain.get("pointing_game") is None:
        return ""
    chance = explain.get("chance")
    return f"{explain['pointing_game']:.3f}" + (f" ({chance:.3f})" if chance is not None else "")
