"""The registries' names that help texts list (kfold.registry_names) are exactly what the
registries hold, and printing help loads none of the heavy libraries behind them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kfold import registry_names

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "timm", "sklearn", "lightgbm", "tensorflow", "keras", "ray")


def test_the_model_names_are_the_model_registry():
    from kfold.nets import list_models

    assert sorted(registry_names.MODELS) == list_models()


def test_the_blender_names_are_the_blender_registry():
    from kfold.stack.blenders import BLENDERS

    assert registry_names.BLENDERS == tuple(BLENDERS)


def test_the_regression_only_blenders_are_those_the_task_registry_adds():
    from kfold.stack.blenders import BLENDERS
    from kfold.stack.task_blenders import BLENDERS as TASK_BLENDERS

    assert registry_names.REGRESSION_BLENDERS == tuple(n for n in TASK_BLENDERS
                                                       if n not in BLENDERS)


def test_the_heatmap_methods_are_the_torch_backends():
    from kfold.backends import get_backend

    assert registry_names.HEATMAP_METHODS == get_backend("torch").explain_methods


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["stack", "--help"],
                                  ["explain", "--help"]])
def test_help_lists_the_names_without_importing_what_registers_them(args):
    code = ("import json, runpy, sys\n"
            f"sys.argv = ['kf', *{args!r}]\n"
            "try:\n"
            "    runpy.run_module('kfold', run_name='__main__')\n"
            "except SystemExit:\n"
            "    pass\n"
            f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, env={"PYTHONPATH": str(ROOT), "PATH": "",
                                                     "COLUMNS": "200"})
    lines = out.stdout.strip().splitlines()
    assert json.loads(lines[-1]) == []
    listed = {"train": registry_names.MODELS, "stack": registry_names.BLENDERS,
              "explain": registry_names.HEATMAP_METHODS}.get(args[0], ())
    assert all(name in out.stdout for name in listed)


def test_names_are_spelled_as_a_list():
    assert registry_names.spelled(("a",)) == "a"
    assert registry_names.spelled(("a", "b", "c")) == "a, b or c"
