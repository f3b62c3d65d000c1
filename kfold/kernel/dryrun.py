"""`kf kernel test`: run the kernel here as Kaggle would, before a daily slot is spent.

The notebook runs in a fresh Jupyter kernel process (nbclient) under a temporary root laid
out like Kaggle's (`input/<dataset>` = the package, `input/<competition>` = the workspace's
data, `working/`), with the internet cut (a `sitecustomize` refuses every connection that is
not to this machine: a notebook that downloads weights fails here as it would on Kaggle).
Its predictions of every packaged target must equal kf's own test predictions to 1e-6, and
its timings give images/s and the runtime on a hidden test set of N images.
"""

from __future__ import annotations

import json
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kfold import artifacts, atomic
from kfold.atomic import file_sha256
from kfold.errors import KfError
from kfold.infer import PREDICTIONS, TIMING, RunPredictions, blend_column, read_oof
from kfold.kernel.budget import DRY_RUN, Costs, fold_models, keep_within
from kfold.kernel.notebook import NOTEBOOK, read_spec
from kfold.kernel.runner import kaggle_layout, run_notebook
from kfold.package.manifest import MANIFEST, read_manifest
from kfold.workspace import Workspace

TOLERANCE = 1e-6


@dataclass(frozen=True)
class DryRun:
    target: str
    images: int
    wall_seconds: float
    costs: Costs
    hidden_test_size: int
    runtime_limit: float
    margin: float
    max_diff: dict[str, float]  # per target: |notebook - kf| at most
    drop: list[str] = field(default_factory=list)  # fold models to drop to fit (over only)

    @property
    def images_per_second(self) -> float:
        return self.images / max(self.costs.per_image_seconds(None) * self.images, 1e-9)

    @property
    def estimate_seconds(self) -> float:
        return self.costs.estimate(self.hidden_test_size, None)

    @property
    def allowed_seconds(self) -> float:
        return self.runtime_limit * (1 - self.margin)

    @property
    def fits(self) -> bool:
        return self.estimate_seconds <= self.allowed_seconds


def dry_run(ws: Workspace, name: str, *, hidden_test_size: int | None = None,
            runtime_limit: float = 9 * 3600.0, margin: float = 0.1) -> DryRun:
    """Run kernels/<name>/ on packages/<name>/ offline; check and time it."""
    kernel, package = ws.root / "kernels" / name, ws.root / "packages" / name
    spec = read_spec(kernel)
    manifest = read_manifest(package)
    with tempfile.TemporaryDirectory(prefix="kf-kernel-test-") as tmp:
        root = kaggle_layout(Path(tmp), {spec.dataset_slug: package,
                                         spec.competition: ws.data_dir})
        wall = run_notebook(kernel / NOTEBOOK, root, runtime_limit)
        working = root / "working"
        if not (working / "submission.csv").exists():
            raise KfError("Submission CSV Not Found: the notebook ran but wrote no "
                          "/kaggle/working/submission.csv")
        preds = pd.read_csv(working / PREDICTIONS, dtype={"id": str}).set_index("id")
        timing = json.loads((working / TIMING).read_text())
        submitted = pd.read_csv(working / "submission.csv", dtype=str)
    diffs = {t: _compare(ws, package, manifest, t, preds[t], spec.tags)
             for t in manifest["targets"]}
    _check_submission(ws, submitted, preds[spec.target])
    costs = Costs.from_timing(timing, wall)
    n = hidden_test_size or timing["images"]
    report = DryRun(spec.target, timing["images"], wall, costs, n, runtime_limit, margin, diffs)
    atomic.write_json(kernel / DRY_RUN, {"timing": timing, "wall_seconds": wall,
                                         "estimate_seconds": report.estimate_seconds,
                                         "allowed_seconds": report.allowed_seconds,
                                         "hidden_test_size": n, "fits": report.fits,
                                         "tested": tested_shas(kernel, package)})
    if not report.fits:
        chosen = keep_within(manifest, spec.target, costs, n, report.allowed_seconds,
                             spec.tags, strict=False)
        report = DryRun(**{**report.__dict__, "drop": [
            m for m in fold_models(manifest, spec.target, spec.tags)
            if m.split("/")[1] not in chosen.get(m.split("/")[0], [])]})
    return report


def tested_shas(kernel: Path, package: Path) -> dict[str, str]:
    """What a dry run tested: the notebook's and the manifest's sha256 (a submission checks
    that it pushes exactly these)."""
    return {"notebook": file_sha256(kernel / NOTEBOOK), "manifest": file_sha256(package / MANIFEST)}


def _compare(ws: Workspace, package: Path, manifest: dict, target: str, got: pd.Series,
             tags: dict[str, list[str]] | None) -> float:
    """|notebook - kf| at most, for one target; over 1e-6 is a KfError."""
    expected = expected_predictions(ws, package, manifest, target, tags)
    missing = set(expected.index) - set(got.index)
    if missing:
        raise KfError(f"the notebook predicted no {target!r} for {len(missing)} test image(s)")
    diff = float(np.abs(got.loc[expected.index].to_numpy() - expected.to_numpy()).max())
    if diff > TOLERANCE:
        raise KfError(f"the notebook's {target!r} predictions differ from kf's test predictions "
                      f"by up to {diff:.3g} (> {TOLERANCE:g}): the package is not the runs "
                      "that made them; package again")
    return diff


def expected_predictions(ws: Workspace, package: Path, manifest: dict, target: str,
                         tags: dict[str, list[str]] | None) -> pd.Series:
    """kf's own test predictions of `target` (id -> probability): the run's or stack's test
    file, or with `tags` those fold models' columns of the runs' test files, averaged and
    blended as the kernel does (kfold.infer)."""
    entry = manifest["targets"][target]
    if not tags:
        path = ws.full_test_path(target) if manifest["runs"].get(target, {}).get(
            "tags") == ["full"] else ws.test_path(target)
        return artifacts.read_test_preds(path).set_index("id")["pred"]
    runs = {r: _fold_models(ws, r, tags.get(r, manifest["runs"][r]["tags"]))
            for r in entry["runs"]}
    ids = next(iter(runs.values()))[0]
    if entry["kind"] == "run":
        return pd.Series(runs[target][1].pred, index=ids)
    blender = pickle.loads((package / entry["blender"]["file"]).read_bytes())
    X = np.column_stack([blend_column(runs[r][1], entry.get("scale") or "raw",
                                      read_oof(package, r)) for r in entry["runs"]])
    return pd.Series(blender.predict_proba(X), index=ids)


def _fold_models(ws: Workspace, run: str, tags: list[str]) -> tuple[pd.Index, RunPredictions]:
    """Some fold models' test predictions of `run`, from its test file (ids sorted)."""
    test = artifacts.read_test_preds(ws.test_path(run)).sort_values("id").set_index("id")
    per_fold = test[[f"pred_{t}" for t in tags]].to_numpy(dtype=float)
    return test.index, RunPredictions(per_fold.mean(axis=1), per_fold, tags)


def _check_submission(ws: Workspace, submitted: pd.DataFrame, pred: pd.Series) -> None:
    """submission.csv holds the target's predictions, one row per test image."""
    id_col = ws.config.id_column
    value_col = [c for c in submitted.columns if c != id_col][0]
    values = submitted.set_index(id_col)[value_col].astype(float)
    if len(values) != len(pred) or np.abs(values - pred.loc[values.index]).max() > TOLERANCE:
        raise KfError("submission.csv does not hold the target's predictions")
