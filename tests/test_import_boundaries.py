"""Import boundaries: the stacking, Kaggle and data-check code never pulls in a deep-learning
framework (they run on machines without one, and start fast)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FRAMEWORKS = ("torch", "timm", "tensorflow", "keras")
ROOT = Path(__file__).resolve().parents[1]


def framework_free_modules() -> list[str]:
    names = ["kfold.data.check"]
    for package in ("stack", "kaggle"):
        for path in sorted((ROOT / "kfold" / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_stack_kaggle_and_data_check_import_no_framework():
    modules = framework_free_modules()
    assert "kfold.stack.blenders" in modules and "kfold.kaggle.client" in modules
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_backend_registry_imports_its_framework_only_when_asked():
    code = ("import sys, kfold.backends, kfold.train.run, kfold.train.retrain, "
            "kfold.explain.run\n"
            f"print(sorted(m for m in {FRAMEWORKS!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_the_executors_need_no_framework_and_local_runs_import_no_ray():
    """The Ray executor ships folds and files; only the worker's backend imports torch."""
    code = ("import sys, kfold.execute, kfold.execute.ray_executor, kfold.execute.worker, "
            "kfold.grid\n"
            "kfold.execute.make_executor('local')\n"
            f"print(sorted(m for m in {FRAMEWORKS + ('ray',)!r} if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert out.stdout.strip().splitlines()[-1] == "[]"
