"""`kf explain`: heatmaps of a run's fold models, a PNG grid, and out-of-fold localization
metrics against defect_area.csv stored in run.json.

Every training image is explained by the fold model that did not train on it (the fold it
has in oof/<run>.parquet), so the localization numbers are out-of-fold, like the OOF AUC.
Heatmaps are computed in the model's input frame, in batches, then mapped back through the
preprocessing (resize, border crop) onto the original image, where the boxes live.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from kfold import artifacts, atomic, locks, tracking
from kfold.backends import Backend, get_backend
from kfold.data.cache import decode
from kfold.data.preprocess import Preprocess, heatmap_to_original
from kfold.errors import KfError, check_whole
from kfold.explain import metrics, select
from kfold.explain.boxes import boxes_by_id
from kfold.explain.grid import Panel, save_grid
from kfold.explain.target import check_class, explained_rows
from kfold.progress import Reporter
from kfold.runfiles import fold_tag
from kfold.settings import check_option
from kfold.train_config import TrainConfig
from kfold.workspace import Workspace

# heatmaps(run_dir, tag, uint8 images (N, S, S), cfg) -> (N, S, S) float in [0, 1]
HeatmapFn = Callable[[Path, str, np.ndarray, TrainConfig], np.ndarray]
CHUNK = 256  # images per heatmap call: bounds memory, moves the progress bar


@dataclass
class ExplainReport:
    run: str
    method: str
    metrics: dict  # what run.json holds under "explain"
    per_image: pd.DataFrame  # one row per scored defect image
    shown: pd.DataFrame  # the grid's images (id, target, fold, pred, outcome, ...)
    grid: Path
    per_image_path: Path
    notes: list[str] = field(default_factory=list)


def heatmap_fn(backend: Backend, method: str, batch_size: int = 64,
               device: str | None = None) -> HeatmapFn:
    """The heatmaps of the run's backend, checked to know `method` before any decoding."""
    methods = backend.explain_methods
    if method not in methods:
        choices = f"{methods[0]} only" if len(methods) == 1 else ", ".join(methods)
        raise KfError(f"unknown --method {method!r}: the {backend.name} backend explains "
                      f"with {choices}")

    def heatmaps(run_dir: Path, tag: str, images: np.ndarray, cfg: TrainConfig,
                 classes: np.ndarray | None = None) -> np.ndarray:
        return backend.heatmaps(cfg, run_dir, tag, images, method=method,
                                batch_size=batch_size, device=device, classes=classes)

    return heatmaps


def _check_checkpoints(run_dir: Path, backend: Backend, folds: list[int]) -> None:
    names = backend.checkpoint_files
    missing = [names(fold_tag(k))[0] for k in folds
               if not (run_dir / names(fold_tag(k))[0]).exists()]
    if missing:
        raise KfError(f"run {run_dir.name!r} has no checkpoint(s) {', '.join(missing)} in "
                      f"{run_dir}; finish training it with `kf train` first")


def explain_run(ws: Workspace, run: str, n: int = 32, ids: list[str] | None = None,
                method: str = "gradcam", *, batch_size: int = 64, device: str | None = None,
                threshold: float = 0.5, heatmaps: HeatmapFn | None = None,
                reporter: Reporter | None = None,
                class_name: str | None = None) -> ExplainReport:
    """Explain run `run`: write models/<run>/explain/<method>.png (grid of `n` images or of
    `ids`), models/<run>/explain/<method>.csv (per-image localization) and the summary under
    "explain" in run.json. A multi-class run's maps explain each image's predicted class, or
    `class_name` (kfold.explain.target). `heatmaps` replaces the backend's heatmap function
    (tests; called with `classes=` for a multi-class run)."""
    from kfold.data.prepared import prepare

    reporter = reporter or Reporter()
    check_whole("--batch-size", batch_size, 1, 65_536)
    meta = artifacts.read_run(ws, run)
    index = check_class(meta, class_name)
    cfg = meta.config
    backend = get_backend(meta.backend)
    if device is not None:
        backend.check_device(check_option("device", device))  # format, then this machine
    fn = heatmaps or heatmap_fn(backend, method, batch_size, device)
    run_dir = ws.run_dir(run)
    oof, explained = explained_rows(artifacts.read_oof(ws.oof_path(run), meta.task), meta, index)
    class_of = None if explained is None else dict(zip(oof["id"], explained))
    folds = sorted(int(k) for k in oof["fold"].unique())
    _check_checkpoints(run_dir, backend, folds)
    shown = select.by_ids(oof, ids, threshold) if ids else None  # bad ids fail before decoding
    tracker = tracking.for_workspace(ws)

    with locks.hold(ws.run_files(run).lock, f"run {run!r}", reporter):
        data = prepare(ws, Preprocess.of(cfg), cfg.image_size, skip_bad=True, reporter=reporter)
        notes = []
        if meta.data_fingerprint not in (None, data.dataset.fingerprint):
            notes.append("the data changed since this run was trained; heatmaps are of today's files")
        row_of = {str(i): k for k, i in enumerate(data.train.ids)}
        oof = _with_rows(oof, row_of, ws.oof_path(run))
        defect = oof["target"].to_numpy() if class_of is None else _boxed(oof, data)
        boxes, skipped = boxes_by_id(data.dataset.boxes, oof["id"].to_numpy(), defect,
                                     data.train.orig_hw[oof["row"]], cfg.crop)
        if shown is None:
            shown = select.choose(oof, n, set(boxes), threshold)
        shown = shown.assign(row=shown["id"].map(row_of))
        scored = oof[oof["id"].isin(boxes)]
        todo = pd.concat([scored, shown[oof.columns]]).drop_duplicates("id")

        started = time.perf_counter()
        per_image, shown_heat = _explain_folds(fn, run_dir, todo, folds, data, cfg, boxes,
                                               set(shown["id"]), reporter,
                                               f"explaining {run} ({method})", class_of)
        seconds = time.perf_counter() - started

        per_image_path = ws.run_files(run).explain_table(method)
        atomic.write_csv(per_image_path, per_image)
        result = _summary(method, per_image, int(defect.sum()), folds, skipped, len(todo),
                          seconds, str(per_image_path.relative_to(ws.root)))
        if class_of is not None:
            result["explained_class"] = class_name or "predicted"
        grid = _grid(ws, data, run, method, shown, shown_heat, boxes, per_image, cfg.crop, result)
        result["grid"] = str(grid.relative_to(ws.root))
        if boxes == {} and data.dataset.boxes is None:
            notes.append("no data/defect_area.csv: heatmaps only, no localization metrics")
        if skipped:
            notes.append("boxes left out: " + ", ".join(f"{r} {c}" for r, c in skipped.items()))
        artifacts.update_run(ws, run, explain=result)
        if tracker is not None:
            tracker.log_explain(run, [grid], result)
        return ExplainReport(run, method, result, per_image, shown.drop(columns="row"), grid,
                             per_image_path, notes)


def _explain_folds(fn: HeatmapFn, run_dir: Path, todo: pd.DataFrame, folds: list[int], data,
                   cfg: TrainConfig, boxes: dict, shown_ids: set, reporter: Reporter,
                   label: str, class_of: dict | None = None) -> tuple[pd.DataFrame, dict]:
    """Heatmaps of `todo`'s images, each from the model of its own fold (of its class in
    `class_of`, a multi-class run), in chunks: the localization rows of the boxed ones (by
    id) and the maps of `shown_ids` (for the grid)."""
    rows, shown_heat = [], {}
    with reporter.task(label, len(todo)) as bar:
        for k in folds:
            part = todo[todo["fold"] == k]
            for start in range(0, len(part), CHUNK):
                chunk = part.iloc[start:start + CHUNK]
                images = data.train.images[chunk["row"].to_numpy()]
                extra = {} if class_of is None else {
                    "classes": chunk["id"].map(class_of).to_numpy(dtype=int)}
                heat = np.asarray(fn(run_dir, fold_tag(k), images, cfg, **extra),
                                  dtype=np.float32)
                if heat.shape != images.shape:
                    raise KfError(f"heatmaps of fold{k} have shape {heat.shape}, expected "
                                  f"{images.shape}")
                rows.append(_score(chunk, heat, boxes, data.train.orig_hw, cfg.crop, k))
                shown_heat |= {i: h for i, h in zip(chunk["id"], heat) if i in shown_ids}
                bar.advance(len(chunk))
    per_image = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    if len(per_image):
        per_image = per_image.sort_values("id").reset_index(drop=True)
    return per_image, shown_heat


def _score(chunk: pd.DataFrame, heat: np.ndarray, boxes: dict, orig_hw: np.ndarray, crop: int,
           k: int) -> pd.DataFrame:
    """Localization rows for the boxed images of one chunk, in the original frame."""
    frames = []
    boxed = chunk["id"].isin(boxes).to_numpy()
    sub, sub_heat = chunk[boxed], heat[boxed]
    if not len(sub):
        return pd.DataFrame()
    hw = orig_hw[sub["row"].to_numpy()]
    for size in np.unique(hw, axis=0):  # images of one original size map together
        same = (hw == size).all(axis=1)
        big = heatmap_to_original(sub_heat[same], tuple(size), crop)
        ids = sub["id"][same].tolist()
        flat = metrics.peaks(sub_heat[same])[2]  # judged in the model's frame
        m = metrics.localization(big, [boxes[i] for i in ids], flat=flat)
        frames.append(pd.concat([sub[same][["id", "target", "fold", "pred"]]
                                 .reset_index(drop=True).assign(model=fold_tag(k)), m], axis=1))
    return pd.concat(frames, ignore_index=True)


def _with_rows(oof: pd.DataFrame, row_of: dict[str, int], oof_path: Path) -> pd.DataFrame:
    """`oof` with each id's row in today's data (column `row`); every id must still be there."""
    absent = [i for i in oof["id"] if i not in row_of]
    if absent:
        raise KfError(f"{len(absent)} id(s) of {oof_path} are not in the data "
                      f"(first: {absent[:3]}); retrain the run on the current data")
    return oof.assign(row=oof["id"].map(row_of))


def _summary(method: str, per_image: pd.DataFrame, defects: int, folds: list[int],
             skipped: dict, explained: int, seconds: float, per_image_path: str) -> dict:
    """What run.json keeps under "explain": the localization summary, overall and per fold,
    how many defect images (a multi-class run: every image may carry a box) had no box,
    and the speed."""
    summary = metrics.summarize(per_image)
    return {
        "method": method, **summary,
        "defect_images": defects, "defect_images_without_box": defects - summary["n"],
        "skipped_boxes": skipped,
        "by_fold": [{"fold": k, **_fold_summary(per_image, k)} for k in folds],
        "images_explained": explained, "seconds": round(seconds, 3),
        "images_per_s": round(explained / seconds, 2) if seconds > 0 else None,
        "per_image": per_image_path,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _boxed(oof: pd.DataFrame, data) -> np.ndarray:
    """A multi-class run's defect images: 1 for each OOF image defect_area.csv boxes (its
    class says which defect, not whether), else 0."""
    boxes = data.dataset.boxes
    known = set() if boxes is None else set(boxes["id"].astype(str))
    return oof["id"].isin(known).to_numpy(dtype=int)


def _fold_summary(per_image: pd.DataFrame, k: int) -> dict:
    part = per_image[per_image["fold"] == k] if len(per_image) else per_image
    return metrics.summarize(part)


def _grid(ws, data, run, method, shown, shown_heat, boxes, per_image, crop, result) -> Path:
    paths = data.dataset.train.set_index("id")["path"]
    scored = per_image.set_index("id") if len(per_image) else None
    panels = []
    for r in shown.itertuples(index=False):
        image = decode(paths[r.id])
        heat = heatmap_to_original(shown_heat[r.id], image.shape, crop)
        b = boxes.get(r.id, np.zeros((0, 4), int))
        rows, cols, _ = metrics.peaks(heat[None])
        flat = metrics.peaks(shown_heat[r.id][None])[2]
        named = f" {r.explained}" if hasattr(r, "explained") else ""
        line = f"{r.outcome}{named} p={r.pred:.2f}"
        if scored is not None and r.id in scored.index:
            s = scored.loc[r.id]
            line += ("  flat" if s["flat"] else "  in box" if s["hit"]
                     else f"  {s['distance']:.0f}px off")
        panels.append(Panel(image, heat, b, f"{r.id[:22]}\n{line}",
                            None if flat[0] else (int(cols[0]), int(rows[0]))))
    pg = result.get("pointing_game")
    title = (f"{run} - {method}: green = defect box, x = heatmap peak"
             + (f"; pointing game {pg:.2f} over {result['n']} boxed defects (out-of-fold)"
                if pg is not None else ""))
    return save_grid(panels, ws.run_files(run).explain_grid(method), title)
