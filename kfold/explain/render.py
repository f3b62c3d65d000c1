"""Rich tables of localization results (for `kf explain` and `kf demo`)."""

from __future__ import annotations

from rich.table import Table

from kfold.explain.metrics import THRESHOLDS


def _f(value, fmt: str = ".3f") -> str:
    return "-" if value is None else format(value, fmt)


def render_explain(metrics: dict, run: str = "") -> Table:
    """One row per fold and an 'all' row: images, pointing game, distance (px, original
    frame), energy in box, IoU at each threshold."""
    title = f"localization of {run} ({metrics['method']}, out-of-fold)" if run else \
        f"localization ({metrics['method']}, out-of-fold)"
    table = Table(title=title)
    for col in ("fold", "images", "pointing", "dist mean", "dist med", "energy",
                *(f"IoU@{t:g}" for t in THRESHOLDS)):
        table.add_column(col, justify="right")
    for f in metrics.get("by_fold", []):
        table.add_row(str(f["fold"]), *_cells(f))
    table.add_row("all", *_cells(metrics), style="bold")
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
    table.caption = "; ".join(notes)
    return table


def _cells(m: dict) -> list[str]:
    return [str(m["n"]), _f(m["pointing_game"]), _f(m["distance_mean"], ".1f"),
            _f(m["distance_median"], ".1f"), _f(m["energy"]),
            *(_f(m[f"iou@{t:g}"]) for t in THRESHOLDS)]
