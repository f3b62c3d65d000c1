"""`kf package`: the runs or stacks a kernel will submit, as one folder to upload.

A run of any task (kfold.data.task) can be packaged: the manifest records its task, classes,
metric, the sample submission's form and, for a kappa contest's regression run, the grade
cuts `kf train` fitted, so the kernel writes the submission `kf train` wrote. Stacks are
refitted and checked against their own test predictions, for every contest `kf stack`
blends (binary AUC's blenders, or `kfold.stack.task_blenders` for any other contest).

Everything is checked before a byte is written (saved weights of every tag, a stack's runs
still there and its blender refitting to the stack's own test predictions, the size against
Kaggle's dataset limit); the folder is built beside its destination and renamed into place,
so an interrupted call leaves the old package (or none), never half of one.
"""

from __future__ import annotations

import os
import pickle
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import kfold
from kfold import artifacts, atomic
from kfold.artifacts import Contest, pred_columns
from kfold.data.sources import workspace_task
from kfold.data.task import Task, model_targets
from kfold.errors import KfError
from kfold.infer import OOF_FILE
from kfold.package.manifest import MANIFEST, SCHEMA, hash_files
from kfold.package.wheels import DEFAULT_EXTRA_WHEELS, dependency_wheel, installed, kfold_wheel
from kfold.runfiles import fold_tag
from kfold.scoring import get_metric
from kfold.stack.run import STACK_PREFIX, blend_matrices
from kfold.stats.foldscale import fold_scores
from kfold.submission import contest_metric, kappa_cuts, read_sidecar
from kfold.workspace import Workspace, check_name

GB = 1024**3
KAGGLE_DATASET_LIMIT_GB = 100.0  # Kaggle's size limit of one dataset (its documentation)
_BLEND_TOLERANCE = 1e-9


@dataclass(frozen=True)
class RunPart:
    """One run's share of a package: its weights and what predicting with them needs."""

    name: str
    backend: str
    model: str
    config: dict
    tags: list[str]
    fold_auc: list[float]
    oof_auc: float
    prevalence: list[float]  # its training targets' mean, per class (undecodable test images)
    task: str  # kfold.data.task's kind
    classes: list[str]  # its prediction columns' classes ([]: one column)
    files: list[Path]  # checkpoint files (or folders) in the run folder
    oof: pd.DataFrame = field(repr=False)  # its OOF rows: a stack's fold scale needs them

    def entry(self) -> dict:
        return {"backend": self.backend, "model": self.model, "config": self.config,
                "tags": self.tags, "fold_auc": self.fold_auc, "oof_auc": self.oof_auc,
                "prevalence": self.prevalence,
                "image_size": self.config["image_size"], "tta": self.config["tta"],
                "preprocessing": {k: self.config[k] for k in ("crop", "threshold", "binarize")}}


@dataclass
class Target:
    """A run or a stack that the kernel can write the submission of."""

    name: str
    kind: str  # "run" or "stack"
    runs: list[str]
    cv_auc: float
    fold_auc: list[float]
    blender: dict | None = None  # stacks: name, params, learned, file
    fitted: object = field(default=None, repr=False)  # stacks: the refitted blender
    scale: str | None = None  # stacks: what the blender sees ("fold" or "raw", kf stack)
    cuts: dict = field(default_factory=dict)  # a kappa contest's grade cuts (kappa_cuts)

    def entry(self) -> dict:
        return {"kind": self.kind, "runs": self.runs, "cv_auc": self.cv_auc,
                "fold_auc": self.fold_auc, "blender": self.blender, "scale": self.scale,
                **self.cuts}


@dataclass(frozen=True)
class PackageReport:
    folder: Path
    targets: list[str]
    runs: list[str]
    files: int
    size_bytes: int
    wheels: list[str]


def build_package(ws: Workspace, names: list[str], *, out: Path | None = None,
                  full: bool = False, wheels: tuple[str, ...] = DEFAULT_EXTRA_WHEELS,
                  size_limit_gb: float = KAGGLE_DATASET_LIMIT_GB) -> PackageReport:
    """Package `names` (runs or `stack-<blender>` stacks) into `out` (default
    `packages/<first name>/`). `full`: the runs' 100%-retrain model instead of the folds."""
    if not names:
        raise KfError("name at least one run or stack to package")
    task = workspace_task(ws)
    targets, parts = _plan(ws, list(dict.fromkeys(check_name(n) for n in names)), full, task)
    for name in wheels:
        installed(name)
    out = Path(out) if out is not None else ws.root / "packages" / targets[0].name
    _check_destination(out)
    weight_bytes = sum(_size(p) for part in parts.values() for p in part.files)
    if weight_bytes > size_limit_gb * GB:
        raise KfError(f"the package would hold {weight_bytes / 2**20:.1f} MiB of weights, over the "
                      f"{size_limit_gb:g} GB limit of a Kaggle dataset; package fewer runs "
                      "or fold models (or raise --size-limit-gb if your limit is higher)")
    out.parent.mkdir(parents=True, exist_ok=True)
    for stray in out.parent.glob(f".{out.name}.partial-*"):  # an interrupted earlier call
        shutil.rmtree(stray, ignore_errors=True)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    try:
        wheel_names = _fill(tmp, targets, parts, wheels)
        manifest = _manifest(ws, task, targets, parts, hash_files(tmp))
        atomic.write_json(tmp / MANIFEST, manifest)
        _swap_into_place(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise atomic.write_error(exc, out) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return PackageReport(out, [t.name for t in targets], list(parts), len(manifest["files"]) + 1,
                         size, wheel_names)


# --- what goes in ---------------------------------------------------------------------------
def _plan(ws: Workspace, names: list[str], full: bool,
          task: Task) -> tuple[list[Target], dict[str, RunPart]]:
    targets, parts = [], {}
    metric = contest_metric(ws)
    for name in names:
        target = _stack_target(ws, name, task) if _is_stack(ws, name) else \
            _run_target(ws, name, full, task)
        target.cuts = kappa_cuts(ws, name, {"runs": target.runs}, task, metric)
        for run in target.runs:
            if run not in parts:
                parts[run] = _run_part(ws, run, full and target.kind == "run")
        targets.append(target)
    return targets, parts


def _check_contest(name: str, contest: Contest, task: Task, stack: bool) -> None:
    """A run or stack of the workspace's task, refused by name once it is known to exist,
    before its predictions are read or anything is written."""
    if contest.task != task.kind:
        raise KfError(f"{name!r} is a {contest.task} {'stack' if stack else 'run'} but the "
                      f"workspace's data reads as {task.kind}; package runs and stacks of "
                      "this contest")


def _is_stack(ws: Workspace, name: str) -> bool:
    return name.startswith(STACK_PREFIX) and not ws.run_json(name).exists()


def _run_target(ws: Workspace, name: str, full: bool, task: Task) -> Target:
    record = artifacts.read_run(ws, name)
    _check_contest(name, artifacts.contest_of(ws, name), task, stack=False)
    if full:
        if record.retrain is None:
            raise KfError(f"run {name!r} has no 100% retrain; run `kf retrain --run {name}` "
                          "or package its fold models (without --full)")
        return Target(name, "run", [name], record.oof_auc, [])
    return Target(name, "run", [name], record.oof_auc, record.fold_aucs)


def _run_part(ws: Workspace, run: str, full: bool) -> RunPart:
    """The run's weights, every one checked to be there (a run trained elsewhere, or whose
    checkpoints were deleted to save space, is refused by name)."""
    from kfold.backends import get_backend

    record = artifacts.read_run(ws, run)
    files = ws.run_files(run)
    tags = ["full"] if full else [fold_tag(k) for k in range(len(record.folds))]
    backend = get_backend(record.backend)
    if not files.config.exists():
        raise KfError(f"run {run!r} has no {files.config}; train it again with kf train")
    paths = [files.config]
    for tag in tags:
        for name in backend.checkpoint_files(tag):
            path = files.dir / name
            if not path.exists() or not files.result(tag).exists():
                raise KfError(f"run {run!r} has no saved weights for {tag} ({path} missing); "
                              f"train it again with `kf train --name {run}` (it resumes) or "
                              "package another run")
            paths.append(path)
    fold_auc = [] if full else record.fold_aucs
    oof = artifacts.read_oof(ws.oof_path(run), record.task)
    return RunPart(run, record.backend, record.model, record.config.to_dict(), tags, fold_auc,
                   record.oof_auc, _prevalence(oof, record.task, record.classes), record.task,
                   record.classes, paths, oof)


def _prevalence(oof: pd.DataFrame, kind: str, classes: list[str]) -> list[float]:
    """The training targets' mean (per class of a multi-class or multi-label run), as
    `kf train` fills an undecodable test image (kfold.data.prepared)."""
    target = oof["target"]
    if kind == "multiclass":
        share = np.bincount(target.to_numpy(dtype=int), minlength=len(classes)) / len(target)
    elif kind == "multilabel":
        labels = target.str.split()
        share = np.array([labels.map(lambda row, c=c: c in row).mean() for c in classes])
    else:
        share = np.atleast_1d(target.to_numpy(dtype=float).mean())
    return [float(v) for v in share]


def _stack_target(ws: Workspace, name: str, task: Task) -> Target:
    """A stack: its runs (each must still be there), its blender refitted on their OOF rows
    and checked to give the stack's own test predictions."""
    side = read_sidecar(ws.submission_path(name))
    lineage = (side or {}).get("lineage") or {}
    if lineage.get("kind") != "stack":
        raise KfError(f"no run or stack named {name!r} (no models/{name}/run.json and no stack "
                      f"sidecar submissions/{name}.json); known runs: "
                      f"{', '.join(artifacts.list_runs(ws)) or 'none'}")
    _check_contest(name, artifacts.contest_of(ws, name), task, stack=True)
    runs = list(lineage["runs"])
    gone = [r for r in runs if not ws.run_json(r).exists()]
    if gone:
        raise KfError(f"stack {name!r} blends run(s) {gone} that are gone (no models/<run>/"
                      "run.json); train them again or package another stack")
    if lineage.get("test_predictions") != "fold-mean":
        raise KfError(f"stack {name!r} blends 100%-retrain predictions (kf stack --use-full); "
                      "package a stack of the fold models (kf stack without --use-full)")
    scale = lineage.get("scale", "raw")  # stacks made before the fold scale blended raw
    contest = artifacts.contest_of(ws, name)
    refit = _refit_binary if contest.binary_auc else _refit_task
    blender, made, written = refit(ws, name, lineage, runs, scale, contest)
    drift = np.abs(made - written).max()
    if drift > _BLEND_TOLERANCE:
        raise KfError(f"stack {name!r} is out of date: its runs' predictions changed since it "
                      f"was made (refit differs by {drift:.2g}); run `kf stack` again")
    info = {"name": lineage["blender"], "params": lineage.get("params", {}),
            "learned": lineage.get("learned", {}), "file": f"blenders/{name}.pkl",
            **({} if contest.binary_auc else {"api": "output"})}
    return Target(name, "stack", runs, float(side["cv_auc"]), _fold_scores(ws, name, contest),
                  info, blender, scale)


def _fold_scores(ws: Workspace, name: str, contest: Contest) -> list[float]:
    """The stack's score per fold in the contest's metric (binary AUC: on the fold scale)."""
    oof = artifacts.read_oof(ws.oof_path(name), contest.task)
    folds = oof["fold"].to_numpy()
    if contest.binary_auc:
        scores = fold_scores(oof["target"].to_numpy(), oof["pred"].to_numpy(), folds).per_fold
    else:
        metric = get_metric(contest.metric, contest.task)
        y = model_targets(Task(contest.task, contest.classes, "the stack's OOF rows"),
                          oof["target"])
        out = oof[pred_columns(contest.task, contest.classes)].to_numpy(dtype=float)
        out = out[:, 0] if out.shape[1] == 1 else out
        scores = [metric.score(y[folds == k], out[folds == k]) for k in np.unique(folds)]
    return [round(float(a), 6) for a in scores]


def _refit_binary(ws: Workspace, name: str, lineage: dict, runs: list[str], scale: str,
                  contest: Contest) -> tuple[object, np.ndarray, np.ndarray]:
    """A binary AUC stack's blender fitted again on the inputs `kf stack` gave it (its runs'
    OOF rows on `scale`), its test predictions and the stack's own."""
    from kfold.stack.blenders import create_blender

    aligned = artifacts.load_aligned_oof(ws, runs)
    X = aligned[runs].to_numpy(dtype=float)
    y = aligned["target"].to_numpy().astype(int)
    folds = aligned["fold"].to_numpy().astype(int)
    inputs, ids, T, _ = blend_matrices(ws, runs, X, folds, use_full=False, scale=scale)
    blender = create_blender(lineage["blender"], **lineage.get("params", {})).fit(inputs, y)
    written = artifacts.read_test_preds(ws.test_path(name)).set_index("id")["pred"]
    return blender, blender.predict_proba(T), written.loc[ids].to_numpy()


def _refit_task(ws: Workspace, name: str, lineage: dict, runs: list[str], scale: str,
                contest: Contest) -> tuple[object, np.ndarray, np.ndarray]:
    """Another contest's stack: its `kfold.stack.task_blenders` blender fitted again on
    every OOF row as `kf stack` fitted it (kfold.stack.task_run), its test output and the
    stack's own."""
    from kfold.stack.inputs import flat, targets_of
    from kfold.stack.task_blenders import create_task_blender
    from kfold.stack.task_run import task_matrices

    stack = artifacts.load_oof_stack(ws, runs)
    inputs, ids, T, _ = task_matrices(ws, stack, False, scale)
    blender = create_task_blender(lineage["blender"], contest.task, len(contest.classes),
                                  contest.metric)
    blender.set_params(**lineage.get("params", {})).fit(flat(inputs), targets_of(stack))
    written = artifacts.read_test_preds(ws.test_path(name), contest.task).set_index("id")
    columns = pred_columns(contest.task, contest.classes)
    made = blender.output(flat(T)).reshape(len(T), -1)
    return blender, made, written.loc[ids, columns].to_numpy(dtype=float)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


# --- writing --------------------------------------------------------------------------------
def _check_destination(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir())
                                             and not (out / MANIFEST).exists())):
        raise KfError(f"{out} exists and is not a kf package; choose another --out")


def _fill(tmp: Path, targets: list[Target], parts: dict[str, RunPart],
          wheels: tuple[str, ...]) -> list[str]:
    for part in parts.values():
        folder = tmp / "models" / part.name
        folder.mkdir(parents=True)
        for path in part.files:
            copy = shutil.copytree if path.is_dir() else shutil.copy2
            copy(path, folder / path.name)
        pred = part.oof[pred_columns(part.task, part.classes)].to_numpy(dtype=float)
        np.savez(folder / OOF_FILE, pred=pred[:, 0] if pred.shape[1] == 1 else pred,
                 fold=part.oof["fold"].to_numpy(dtype=int))
    for target in (t for t in targets if t.fitted is not None):
        (tmp / "blenders").mkdir(exist_ok=True)
        (tmp / target.blender["file"]).write_bytes(pickle.dumps(target.fitted))
    (tmp / "wheels").mkdir()
    made = [kfold_wheel(tmp / "wheels")] + [dependency_wheel(tmp / "wheels", w) for w in wheels]
    return [p.name for p in made]


def _manifest(ws: Workspace, task: Task, targets: list[Target], parts: dict[str, RunPart],
              files: dict[str, str]) -> dict:
    cfg = ws.config
    return {
        "schema": SCHEMA, "kf_version": kfold.__version__, "task": task.kind,
        "classes": list(task.classes), "metric": contest_metric(ws).name,
        "submission": {"output": task.output, "k": task.k, "ordinal": task.ordinal},
        "competition": cfg.competition,
        "columns": {"id": cfg.id_column, "target": cfg.target_column,
                    "positive_class": cfg.positive_class},
        "targets": {t.name: t.entry() for t in targets},
        "runs": {name: part.entry() for name, part in parts.items()},
        "files": files,
    }


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished folder to `out`; an old package there is removed after."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)
