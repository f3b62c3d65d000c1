"""Import boundaries: every import points down the layers docs/architecture.md lists, and the
stacking, Kaggle, metric and data-check code never pulls in a deep-learning framework (they run on
machines without one, and start fast)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

FRAMEWORKS = ("torch", "timm", "tensorflow", "keras")
ROOT = Path(__file__).resolve().parents[1]


def framework_free_modules() -> list[str]:
    names = ["kfold.data.check", "kfold.stats.bootstrap"]
    for package in ("stack", "kaggle", "scoring"):
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


def _imported_modules(path: Path) -> set[str]:
    """Every module an `import` or `from ... import` in `path` names (top level or inside
    functions), resolved to its dotted name."""
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def test_only_the_cli_and_the_entry_point_import_kfold_cli():
    """The library never reaches up into the typer layer (it must work from a notebook)."""
    offenders = []
    for path in sorted((ROOT / "kfold").rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[1] == "cli" or rel.name == "__main__.py":
            continue
        if any(m == "kfold.cli" or m.startswith("kfold.cli.") for m in _imported_modules(path)):
            offenders.append(str(rel))
    assert offenders == []


def test_cli_modules_import_no_other_cli_module_but_the_shared_options():
    """Command modules stand side by side; only cli/__init__.py registers them all. What
    they share lives in the private modules (`_common`, `_options`)."""
    offenders = {}
    for path in sorted((ROOT / "kfold" / "cli").glob("*.py")):
        if path.name == "__init__.py":
            continue
        other = {m for m in _imported_modules(path)
                 if m.startswith("kfold.cli") and not m.startswith("kfold.cli._")}
        if other:
            offenders[path.name] = sorted(other)
    assert offenders == {}


def documented_layers() -> list[list[str]]:
    """The rows of docs/architecture.md's parts table, top (the CLI) first, each the module
    names its first cell lists (`data/` -> kfold.data, `workspace` -> kfold.workspace)."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## The parts", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [["kfold." + name.removeprefix("kfold/").strip("/").replace("/", ".")
             for name in re.findall(r"`([^`]+)`", row.split("|")[1])] for row in rows]


def _layer_of(module: str, layers: list[list[str]]) -> int | None:
    """The row index of `module` (a module or any module inside a listed package)."""
    for index, row in enumerate(layers):
        if any(module == part or module.startswith(part + ".") for part in row):
            return index
    return None


def _kfold_modules() -> dict[str, Path]:
    out = {}
    for path in sorted((ROOT / "kfold").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name != "kfold":  # the package root holds only __version__
            out[name] = path
    return out


def upward_imports(layers: list[list[str]]) -> list[str]:
    """`importer -> imported` for every kfold import that points up the table's rows."""
    found = []
    for name, path in _kfold_modules().items():
        own = _layer_of(name, layers)
        assert own is not None, f"{name} has no row in docs/architecture.md's parts table"
        for target in sorted(_imported_modules(path)):
            other = _layer_of(target, layers) if target.startswith("kfold.") else None
            if other is not None and other < own:
                found.append(f"{name} -> {target}")
    return found


def test_every_module_has_a_row_in_the_documented_layers():
    layers = documented_layers()
    assert layers[0] == ["kfold.cli", "kfold.__main__"] and len(layers) > 10
    assert [m for m in _kfold_modules() if _layer_of(m, layers) is None] == []


def test_imports_point_only_down_the_documented_layers():
    """A part imports its own row and the rows below (docs/architecture.md, "The parts")."""
    assert upward_imports(documented_layers()) == []


def test_an_upward_import_is_caught():
    layers = documented_layers()
    swapped = [layers[-1], *layers[1:-1], layers[0]]  # the CLI below the foundation
    assert "kfold.cli -> kfold.errors" not in upward_imports(layers)
    assert any(found.startswith("kfold.cli.") and found.endswith("-> kfold.errors")
               for found in upward_imports(swapped))
