"""Shared fixtures: a tiny synthetic dataset, generated once per session, copied per test."""

from __future__ import annotations

import os
import shutil
import sys
import types
from pathlib import Path

import pytest
import torch

from kfold.data.synth import synthesize
from kfold.train_config import TrainConfig
from kfold.workspace import Workspace


def _threads() -> int:
    """Each pytest-xdist worker's share of the cores (at most 2: the tensors are tiny), so
    workers side by side do not fight over them. No result may depend on it: a fold that
    must give the same bits elsewhere sets its own threads (--cpus-per-fold)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(1, min(2, (os.cpu_count() or 1) // workers))


torch.set_num_threads(_threads())
os.environ.setdefault("KF_TF_THREADS", str(_threads()))  # read when TensorFlow is imported

# iterative-stratification (a dependency) installs a stray top-level `tests` package into
# site-packages, which would shadow this folder in `from tests.bad_input import ...`: the
# name `tests` is this folder, whatever else is installed.
_tests = types.ModuleType("tests")
_tests.__path__ = [str(Path(__file__).parent)]
sys.modules["tests"] = _tests


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory) -> Path:
    """60 training and 16 test chip images at 48 px (about 20% defects)."""
    out = tmp_path_factory.mktemp("synth") / "data"
    synthesize(out, n_train=60, n_test=16, size=48, difficulty=0.3, seed=0)
    return out


@pytest.fixture
def workspace(tmp_path, synth_data) -> Workspace:
    """A fresh workspace holding a copy of the tiny dataset (2 folds, 32 px)."""
    shutil.copytree(synth_data, tmp_path / "data")
    return Workspace.init(tmp_path, n_folds=2, image_size=32, seed=0)


@pytest.fixture
def tiny_cfg() -> TrainConfig:
    return TrainConfig(n_folds=2, image_size=32, epochs=2, batch_size=16, seed=0, patience=5)


@pytest.fixture(scope="session")
def trained_root(tmp_path_factory, synth_data) -> Path:
    """A workspace with two finished 2-fold runs ("a", and "b" with flip TTA) and a stack of
    every blender: trained once per session, copied by `trained_ws`."""
    from kfold.stack import stack_runs
    from kfold.train.run import train_run

    root = tmp_path_factory.mktemp("trained")
    shutil.copytree(synth_data, root / "data")
    ws = Workspace.init(root, n_folds=2, image_size=32, seed=0)
    for name, tta, model_seed in (("a", "none", 1), ("b", "flip", 2)):
        cfg = TrainConfig(n_folds=2, image_size=32, epochs=1, batch_size=16, seed=0, tta=tta,
                          device="cpu", model_seed=model_seed)
        train_run(ws, cfg, name)
    stack_runs(ws, ["a", "b"])
    return root


@pytest.fixture
def trained_ws(tmp_path, trained_root) -> Workspace:
    """A copy of the trained workspace, free to change."""
    shutil.copytree(trained_root, tmp_path / "ws")
    return Workspace.load(tmp_path / "ws")


@pytest.fixture(scope="session")
def dry_run_root(tmp_path_factory, trained_root) -> Path:
    """The trained workspace with stack-hillclimb packaged, its kernel (owner "tester")
    written and dry-run once: ready for `kf submit --kernel stack-hillclimb`."""
    from kfold.kernel.dryrun import dry_run
    from kfold.kernel.notebook import make_kernel
    from kfold.package.build import build_package

    root = tmp_path_factory.mktemp("code") / "ws"
    shutil.copytree(trained_root, root)
    ws = Workspace.load(root)
    build_package(ws, ["stack-hillclimb"], wheels=("tomli-w",))
    make_kernel(ws, "stack-hillclimb", kernel="tester/hillclimb-kernel")
    dry_run(ws, "stack-hillclimb")
    return root


@pytest.fixture
def workspace4(tmp_path, synth_data) -> Workspace:
    """The tiny dataset in 4 folds: enough paired folds for kf tune's Wilcoxon pruner."""
    shutil.copytree(synth_data, tmp_path / "data")
    return Workspace.init(tmp_path, n_folds=4, image_size=32, seed=0)
