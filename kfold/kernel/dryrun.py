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
import os
import pickle
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kfold import artifacts, atomic
from kfold.errors import KfError
from kfold.infer import PREDICTIONS, TIMING
from kfold.kernel.budget import DRY_RUN, Costs, fold_models, keep_within
from kfold.kernel.notebook import NOTEBOOK, KernelSpec, read_spec
from kfold.package.manifest import read_manifest
from kfold.workspace import Workspace

TOLERANCE = 1e-6
OFFLINE_MARK = "the internet is off in a Kaggle code competition kernel"
_GUARD = f'''import socket
_LOCAL = ("127.0.0.1", "::1", "localhost", "0.0.0.0", "")
_connect, _connect_ex, _getaddrinfo = (socket.socket.connect, socket.socket.connect_ex,
                                      socket.getaddrinfo)
def _check(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in _LOCAL:
        raise OSError("{OFFLINE_MARK} (connect to %s)" % (address[0],))
socket.socket.connect = lambda s, a: (_check(s, a), _connect(s, a))[1]
socket.socket.connect_ex = lambda s, a: (_check(s, a), _connect_ex(s, a))[1]
def _lookup(host, *args, **kw):
    if host not in _LOCAL and host is not None:
        raise socket.gaierror("{OFFLINE_MARK} (lookup of %s)" % (host,))
    return _getaddrinfo(host, *args, **kw)
socket.getaddrinfo = _lookup
'''


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
    python_kernel_available()
    kernel, package = ws.root / "kernels" / name, ws.root / "packages" / name
    spec = read_spec(kernel)
    manifest = read_manifest(package)
    with tempfile.TemporaryDirectory(prefix="kf-kernel-test-") as tmp:
        root = _kaggle_layout(Path(tmp), ws, package, spec)
        wall = _execute(kernel / NOTEBOOK, root, runtime_limit)
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
    atomic.write_json(kernel / DRY_RUN, {"timing": timing, "wall_seconds": wall})
    if not report.fits:
        chosen = keep_within(manifest, spec.target, costs, n, report.allowed_seconds,
                             spec.tags, strict=False)
        report = DryRun(**{**report.__dict__, "drop": [
            m for m in fold_models(manifest, spec.target, spec.tags)
            if m.split("/")[1] not in chosen.get(m.split("/")[0], [])]})
    return report


def _kaggle_layout(tmp: Path, ws: Workspace, package: Path, spec: KernelSpec) -> Path:
    """`<tmp>/kaggle/{input/<dataset>, input/<competition>, working}` and the network guard."""
    root = tmp / "kaggle"
    (root / "input").mkdir(parents=True)
    (root / "working").mkdir()
    (root / "input" / spec.dataset_slug).symlink_to(package.resolve(), target_is_directory=True)
    (root / "input" / spec.competition).symlink_to(ws.data_dir.resolve(),
                                                   target_is_directory=True)
    (tmp / "guard").mkdir()
    (tmp / "guard" / "sitecustomize.py").write_text(_GUARD)
    return root


def _execute(path: Path, root: Path, limit: float) -> float:
    """Run the notebook in a fresh kernel process; its failures as Kaggle names them."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
    env.update(KF_KAGGLE_ROOT=str(root), PYTHONPATH=str(root.parent / "guard"),
               PYTHONNOUSERSITE="1")
    client = NotebookClient(nb, timeout=int(limit), kernel_name="python3",
                            resources={"metadata": {"path": str(root / "working")}})
    start = time.perf_counter()
    try:
        with open(root.parent / "kernel.log", "wb") as log:  # pip's and the kernel's noise
            client.execute(env=env, stdout=log, stderr=log)
    except CellTimeoutError:
        raise KfError(f"Notebook Timeout: a cell ran past the {limit:g} s limit") from None
    except DeadKernelError as exc:
        raise KfError(f"Notebook Threw Exception: the kernel died ({exc})") from None
    except CellExecutionError as exc:
        text = str(exc)
        if OFFLINE_MARK in text:
            raise KfError("the notebook needs the internet, which is off in a code "
                          f"competition: {_last_error(exc)}") from None
        raise KfError(f"Notebook Threw Exception: {_last_error(exc)}") from None
    return time.perf_counter() - start


def _last_error(exc) -> str:
    return f"{getattr(exc, 'ename', 'Error')}: {str(getattr(exc, 'evalue', exc))[:300]}"


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
    file, or with `tags` the mean of those fold models' columns (blended by the package's
    blender)."""
    entry = manifest["targets"][target]
    if not tags:
        path = ws.full_test_path(target) if manifest["runs"].get(target, {}).get(
            "tags") == ["full"] else ws.test_path(target)
        return artifacts.read_test_preds(path).set_index("id")["pred"]
    runs = {r: _fold_mean(ws, r, tags.get(r, manifest["runs"][r]["tags"]))
            for r in entry["runs"]}
    ids = next(iter(runs.values())).index
    if entry["kind"] == "run":
        return runs[target]
    blender = pickle.loads((package / entry["blender"]["file"]).read_bytes())
    X = np.column_stack([runs[r].loc[ids].to_numpy() for r in entry["runs"]])
    return pd.Series(blender.predict_proba(X), index=ids)


def _fold_mean(ws: Workspace, run: str, tags: list[str]) -> pd.Series:
    test = artifacts.read_test_preds(ws.test_path(run)).set_index("id")
    return test[[f"pred_{t}" for t in tags]].mean(axis=1)


def _check_submission(ws: Workspace, submitted: pd.DataFrame, pred: pd.Series) -> None:
    """submission.csv holds the target's predictions, one row per test image."""
    id_col = ws.config.id_column
    value_col = [c for c in submitted.columns if c != id_col][0]
    values = submitted.set_index(id_col)[value_col].astype(float)
    if len(values) != len(pred) or np.abs(values - pred.loc[values.index]).max() > TOLERANCE:
        raise KfError("submission.csv does not hold the target's predictions")


def python_kernel_available() -> None:
    """nbclient runs notebooks through ipykernel; say how to get them when missing."""
    try:
        import ipykernel  # noqa: F401
        import nbclient  # noqa: F401
    except ImportError:
        raise KfError("kf kernel test needs nbclient and ipykernel: pip install "
                      f"'kfold[kernel]' (into {sys.prefix})") from None
