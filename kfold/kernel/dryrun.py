"""`kf kernel test`: run the kernel here as Kaggle would, before a daily slot is spent.

The notebook runs in a fresh Jupyter kernel process (nbclient) under a temporary root laid
out like Kaggle's (`input/<dataset>` = the package, `input/<competition>` = the workspace's
data, `working/`), with the internet cut (a `sitecustomize` refuses every connection that is
not to this machine: a notebook that downloads weights fails here as it would on Kaggle).
Its predictions of every packaged target must equal kf's own test predictions to 1e-6 (each
class's column of a multi-class or multi-label run), its submission.csv must be the one kf
writes from them (`kfold.infer.kernel_submission`: the sample submission's form), and its
timings give images/s and the runtime on a hidden test set of N images.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kfold import artifacts, atomic
from kfold.artifacts import WIDE, pred_columns
from kfold.atomic import file_sha256
from kfold.errors import KfError
from kfold.infer import (
    PREDICTIONS,
    TIMING,
    RunPredictions,
    blend_target,
    kernel_submission,
    target_columns,
)
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
    submission: pd.DataFrame | None = field(default=None, repr=False)  # the notebook's, as read

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
    diffs = {t: _compare(ws, package, manifest, t, preds[target_columns(manifest, t)],
                         spec.tags) for t in manifest["targets"]}
    _check_submission(ws, manifest, spec.target, submitted,
                      preds[target_columns(manifest, spec.target)])
    costs = Costs.from_timing(timing, wall)
    n = hidden_test_size or timing["images"]
    report = DryRun(spec.target, timing["images"], wall, costs, n, runtime_limit, margin, diffs,
                    submission=submitted)
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


def _compare(ws: Workspace, package: Path, manifest: dict, target: str, got: pd.DataFrame,
             tags: dict[str, list[str]] | None) -> float:
    """|notebook - kf| at most, for one target (every column); over 1e-6 is a KfError."""
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
                         tags: dict[str, list[str]] | None) -> pd.DataFrame:
    """kf's own test predictions of `target` (indexed by id, its `target_columns`): the
    run's or stack's test file, or with `tags` those fold models' columns of the runs' test
    files, averaged and blended as the kernel does (kfold.infer)."""
    entry, kind = manifest["targets"][target], manifest["task"]
    columns = target_columns(manifest, target)
    if not tags:
        path = ws.full_test_path(target) if manifest["runs"].get(target, {}).get(
            "tags") == ["full"] else ws.test_path(target)
        test = artifacts.read_test_preds(path, kind).set_index("id")
        return test[pred_columns(kind, manifest["classes"])].set_axis(columns, axis=1)
    runs = {r: _fold_models(ws, manifest, r, tags.get(r, manifest["runs"][r]["tags"]))
            for r in entry["runs"]}
    ids = next(iter(runs.values()))[0]
    pred = blend_target(package, entry, {r: run for r, (_, run) in runs.items()})
    return pd.DataFrame(pred.reshape(len(ids), -1), index=ids, columns=columns)


def _fold_models(ws: Workspace, manifest: dict, run: str,
                 tags: list[str]) -> tuple[pd.Index, RunPredictions]:
    """Some fold models' test predictions of `run`, from its test file (ids sorted)."""
    kind, classes = manifest["task"], manifest["classes"]
    test = artifacts.read_test_preds(ws.test_path(run), kind).sort_values("id").set_index("id")
    folds = [test[pred_columns(kind, classes, f"pred_{t}")].to_numpy(dtype=float) for t in tags]
    per_fold = np.stack(folds, axis=1)
    if kind not in WIDE:
        per_fold = per_fold[:, :, 0]
    return test.index, RunPredictions(per_fold.mean(axis=1), per_fold, tags)


def _check_submission(ws: Workspace, manifest: dict, target: str, submitted: pd.DataFrame,
                      pred: pd.DataFrame) -> None:
    """submission.csv is the one kf writes from the notebook's predictions of the target:
    the same ids, columns and values (numbers to 1e-6)."""
    expected = kernel_submission(manifest, ws, target, pred).astype(str)
    same = list(submitted.columns) == list(expected.columns) and len(submitted) == len(expected)
    for column in expected.columns if same else []:
        a, b = submitted[column].to_numpy(), expected[column].to_numpy()
        x, y = pd.to_numeric(a, errors="coerce"), pd.to_numeric(b, errors="coerce")
        numbers = not (np.isnan(x).any() or np.isnan(y).any())
        same = same and (np.abs(x - y).max() <= TOLERANCE if numbers else (a == b).all())
    if not same:
        raise KfError(f"submission.csv is not the {target!r} submission kf writes from the "
                      "notebook's predictions")
