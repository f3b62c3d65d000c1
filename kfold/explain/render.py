"""Rich tables of localization results (for `kf explain` and `kf demo`)."""

from __future__ import annotations

from kfold import views
from kfold.explain.metrics import THRESHOLDS
from kfold.views import Col, Table, num


def render_explain(metrics: dict, run: str = "") -> Table:
    """One row per fold and an 'all' row: images, pointing game, distance (px, original
    frame), energy in box, IoU at each threshold."""
    title = f"localization of {run} ({metrics['method']}, out-of-fold)" if run else \
        f"localization ({metrics['method']}, out-of-fold)"
    cols = [Col(c, right=True) for c in ("fold", "images", "pointing", "dist mean", "dist med",
                                         "energy", *(f"IoU@{t:g}" for t in THRESHOLDS))]
    by_fold = metrics.get("by_fold", [])
    rows = [[f["fold"], *_cells(f)] for f in by_fold] + [["all", *_cells(metrics)]]
    notes = [("pointing = peak in box; dist = px from peak to box (original frame); "
              "energy = heat mass in box"),
             f"{metrics['n']} of {metrics['defect_images']} defect images have a usable box"]
    if metrics.get("chance") is not None:
        notes.append(f"chance level (random peak, uniform heat) {metrics['chance']:.3f}")
    if metrics.get("flat"):
        notes.append(f"{metrics['flat']} flat heatmap(s) counted as misses")
    if metrics.get("skipped_boxes"):
        notes.append("boxes left out: " + ", ".join(
            f"{r} {c}" for r, c in metrics["skipped_boxes"].items()))
    if metrics.get("images_per_s"):
        notes.append(f"{metrics['images_explained']} images in {metrics['seconds']:.1f} s "
                     f"({metrics['images_per_s']:.0f} images/s)")
    return views.table(title, cols, rows, caption="; ".join(notes),
                       styles=[None] * len(by_fold) + ["bold"])


def _cells(m: dict) -> list[str]:
    return [str(m["n"]), num(m["pointing_game"]), num(m["distance_mean"], ".1f"),
            num(m["distance_median"], ".1f"), num(m["energy"]),
            *(num(m[f"iou@{t:g}"]) for t in THRESHOLDS)]
