"""Predict a hidden test set from a kf package: what a code competition's kernel runs.

Inference only, and the same code as training's test predictions: the test images are found
as `kf train` finds them (`kfold.data.sources`), decoded and preprocessed through the same
cache code, predicted by the run's backend (`Backend.predict`, the run's TTA and batch size)
and averaged over the fold models in float64; a stack's refitted blender blends the runs'
predictions. So a kernel's `submission.csv` equals kf's own test predictions (kf kernel test
checks it to 1e-6). A run of any task (kfold.data.task) predicts what `kf train` predicts, one
column per class for a multi-class or multi-label run, and its submission is written by
`kfold.submission.submission_frame` in the sample submission's form, a kappa contest's grades
cut by the thresholds `kf package` recorded. Timings are written beside the submission for
the runtime estimate.
"""

from __future__ import annotations

import json
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kfold import atomic
from kfold.artifacts import WIDE, pred_columns
from kfold.data.cache import load_decoded
from kfold.data.preprocess import Preprocess
from kfold.data.sources import test_images
from kfold.data.task import Task
from kfold.errors import KfError
from kfold.package.manifest import read_manifest
from kfold.runfiles import fold_of
from kfold.submission import submission_frame
from kfold.train_config import TrainConfig
from kfold.workspace import Config, Workspace

TIMING = "kf-timing.json"
PREDICTIONS = "kf-predictions.csv"  # every target's predictions, for kf kernel test
OOF_FILE = "oof.npz"  # a run's OOF predictions and folds (the fold scale of stacks)


@dataclass
class Timing:
    """Seconds spent per fold model (`<run>/<tag>`) on `images` test images, and overall."""

    images: int = 0
    decode_seconds: float = 0.0
    models: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"images": self.images, "decode_seconds": self.decode_seconds,
                "models": self.models, "total_seconds": self.total_seconds}


def kernel_workspace(manifest: dict, data_dir: Path, work_dir: Path) -> Workspace:
    """A workspace reading the competition's data where the kernel finds it (read-only
    input) and caching decoded images under the kernel's working folder."""
    cols = manifest["columns"]
    config = Config(competition=manifest["competition"], data_dir=str(Path(data_dir).resolve()),
                    id_column=cols["id"], target_column=cols["target"],
                    positive_class=cols["positive_class"], task=manifest["task"],
                    metric=manifest.get("metric", "auc"))
    return Workspace(Path(work_dir).resolve(), config)


def manifest_task(manifest: dict) -> Task:
    """The contest the package's runs were trained for, and its submission's form."""
    form = manifest.get("submission", {})
    return Task(manifest["task"], tuple(manifest["classes"]), "the kf package's manifest",
                form.get("output", "probabilities"), form.get("k", 0), form.get("ordinal", False))


def target_columns(manifest: dict, target: str) -> list[str]:
    """A target's column(s) in the kernel's predictions file: its name, or
    `<target>:<class>` for each class of a multi-class or multi-label contest."""
    if manifest["task"] in WIDE:
        return [f"{target}:{c}" for c in manifest["classes"]]
    return [target]


def predict_package(package: Path, data_dir: Path, work_dir: Path, *,
                    tags: dict[str, list[str]] | None = None, device: str = "auto",
                    verify: bool = True) -> tuple[pd.DataFrame, Timing]:
    """Test predictions of every target of the package: a frame with `id` and each target's
    columns (`target_columns`). `tags` narrows a run to some of its fold models (kf kernel --budget)."""
    start = time.perf_counter()
    package = Path(package)
    manifest = read_manifest(package, verify=verify)
    ws = kernel_workspace(manifest, data_dir, work_dir)
    frame = test_images(ws)
    timing = Timing(images=len(frame))
    runs = {name: _predict_run(package, ws, frame, name, entry,
                               (tags or {}).get(name, entry["tags"]), device, timing)
            for name, entry in manifest["runs"].items()}
    out = pd.DataFrame({"id": frame["id"].astype(str).to_numpy()})
    for name, target in manifest["targets"].items():
        columns = target_columns(manifest, name)
        out[columns] = blend_target(package, target, runs).reshape(len(out), len(columns))
    timing.total_seconds = time.perf_counter() - start
    return out, timing


def _predict_run(package: Path, ws: Workspace, frame: pd.DataFrame, run: str, entry: dict,
                 tags: list[str], device: str, timing: Timing) -> RunPredictions:
    from kfold.backends import get_backend

    unknown = sorted(set(tags) - set(entry["tags"]))
    if unknown or not tags:
        raise KfError(f"run {run!r} of the package has fold models {entry['tags']}; "
                      f"asked for {tags}")
    cfg = TrainConfig.from_dict({**entry["config"], "device": device})
    t0 = time.perf_counter()
    decoded = load_decoded(frame, Preprocess.of(cfg), cfg.image_size, ws.cache_dir, "test")
    timing.decode_seconds += time.perf_counter() - t0
    backend = get_backend(cfg.backend)
    preds = []
    for tag in tags:
        t0 = time.perf_counter()
        preds.append(backend.predict(cfg, package / "models" / run, tag,
                                     np.asarray(decoded.images)))
        timing.models[f"{run}/{tag}"] = time.perf_counter() - t0
    per_fold = np.stack(preds, axis=1)  # (n, folds) or, one column per class, (n, folds, C)
    pred = per_fold.mean(axis=1)
    bad = np.isin(decoded.ids, list(decoded.bad))
    pred[bad] = entry["prevalence"]  # the best constant guess, as kf train --skip-bad does
    return RunPredictions(pred, per_fold, tags)


@dataclass(frozen=True)
class RunPredictions:
    """One run's test predictions: the fold mean, each fold model's (axis 1 in `tags`
    order; a wide task's classes on axis 2) and the tags."""

    pred: np.ndarray
    per_fold: np.ndarray
    tags: list[str]


def blend_column(run: RunPredictions, scale: str, oof: dict[str, np.ndarray]) -> np.ndarray:
    """A run's column of a stack's test inputs, as `kf stack` made it (kfold.stack.run
    .blend_matrices): the fold mean ("raw"), or ("fold") each fold model's predictions
    mapped through the quantiles of that model's validation predictions (`oof`: the run's
    OOF `pred` and `fold`), read off the fold mean and averaged."""
    if scale == "raw":
        return run.pred
    from kfold.stats.foldscale import map_test_to_fold_scale

    kept = [fold_of(t) for t in run.tags]
    rows = np.isin(oof["fold"], kept)
    return map_test_to_fold_scale(oof["pred"][rows], oof["fold"][rows], run.per_fold, run.pred)


def class_inputs(run: RunPredictions, scale: str, oof: dict[str, np.ndarray]) -> np.ndarray:
    """A run's (n, C) block of a stack of another contest's test inputs (kfold.stack
    .task_run.task_matrices): `blend_column` of each class column."""
    if run.pred.ndim == 1:
        return blend_column(run, scale, oof)[:, None]
    return np.column_stack([
        blend_column(RunPredictions(run.pred[:, c], run.per_fold[:, :, c], run.tags), scale,
                     {"pred": oof["pred"][:, c], "fold": oof["fold"]})
        for c in range(run.pred.shape[1])])


def read_oof(package: Path, run: str) -> dict[str, np.ndarray]:
    with np.load(package / "models" / run / OOF_FILE) as z:
        return {"pred": z["pred"], "fold": z["fold"]}


def blend_target(package: Path, target: dict, runs: dict[str, RunPredictions]) -> np.ndarray:
    """A target's test predictions from its runs': a run's own, or its stack's blender on
    the inputs `kf stack` gave it (binary AUC: one column per run; any other contest: each
    run's class columns side by side, the blender's `output`)."""
    if target["kind"] == "run":
        return runs[target["runs"][0]].pred
    blender = pickle.loads((package / target["blender"]["file"]).read_bytes())
    scale = target.get("scale") or "raw"
    if target["blender"].get("api") == "output":
        return blender.output(np.column_stack([
            class_inputs(runs[r], scale, read_oof(package, r)) for r in target["runs"]]))
    return blender.predict_proba(np.column_stack([
        blend_column(runs[r], scale, read_oof(package, r)) for r in target["runs"]]))


def run_kernel(package: str | Path, data_dir: str | Path, out_csv: str | Path, *,
               target: str | None = None, tags: dict[str, list[str]] | None = None,
               device: str = "auto") -> Path:
    """The kernel's whole job: predict, write `submission.csv` in the sample submission's
    shape (validated), and beside it `kf-timing.json` and every target's predictions (for
    the dry run's comparison). `target` defaults to the first one packaged."""
    out_csv = Path(out_csv)
    manifest = read_manifest(Path(package), verify=False)
    target = target or next(iter(manifest["targets"]))
    if target not in manifest["targets"]:
        raise KfError(f"the package has no target {target!r}; it holds "
                      f"{', '.join(manifest['targets'])}")
    work = out_csv.parent / "kf-work"
    preds, timing = predict_package(Path(package), Path(data_dir), work, tags=tags,
                                    device=device)
    frame = kernel_submission(manifest, kernel_workspace(manifest, Path(data_dir), work),
                              target, preds.set_index("id")[target_columns(manifest, target)])
    atomic.write_csv(out_csv, frame)
    atomic.write_csv(out_csv.parent / PREDICTIONS, preds)
    atomic.write_text(out_csv.parent / TIMING, json.dumps(timing.to_dict(), indent=1))
    print(f"wrote {out_csv}: {len(frame)} rows, {timing.images} images in "
          f"{timing.total_seconds:.1f} s")
    return out_csv


def kernel_submission(manifest: dict, ws: Workspace, target: str,
                      pred: pd.DataFrame) -> pd.DataFrame:
    """`target`'s submission from its predictions (indexed by id, its `target_columns`), as
    `kf train` writes it: the sample submission's form, a kappa contest's cuts."""
    task = manifest_task(manifest)
    frame = pred.set_axis(pred_columns(task.kind, task.classes), axis=1).rename_axis("id")
    return submission_frame(ws, target, frame.reset_index(), task,
                            manifest["targets"][target].get("kappa_thresholds"))
