"""`kf-package.json`: what a package holds and how to predict with it, read back checked.

A package is a folder uploaded as one Kaggle dataset version:

    kf-package.json              this manifest (written last)
    models/<run>/config.json     each run's TrainConfig
    models/<run>/<tag>.pt        the fold (or 100%-retrain) weights the targets need
    blenders/<stack>.pkl         each stack's blender, refitted on its runs' OOF rows
    wheels/*.whl                 kf's wheel and the extra runtime dependencies'

The manifest names the contest (task, classes, metric, the sample submission's form), the
*targets* (the runs or stacks a kernel can submit; a kappa contest's grade cuts), the runs they
need with their preprocessing, size, TTA and per-fold CV, and the sha256 of every file.
"""

from __future__ import annotations

import json
from pathlib import Path

from kfold.atomic import file_sha256
from kfold.errors import KfError

MANIFEST = "kf-package.json"
SCHEMA = 1


def hash_files(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder` but the manifest, keyed by its relative path."""
    return {p.relative_to(folder).as_posix(): file_sha256(p)
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}


def read_manifest(folder: Path, verify: bool = True) -> dict:
    """The manifest of the package at `folder`; with `verify`, every file's sha256 is checked
    (a truncated upload or a hand-edited weight file stops here, not in a wrong submission)."""
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise KfError(f"{folder} is not a kf package (no {MANIFEST}); make one with "
                      "`kf package RUN|STACK`") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KfError(f"{path} is damaged ({exc}); package again with `kf package`") from None
    if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
        raise KfError(f"{path} is not a kf package manifest of schema {SCHEMA}; package again "
                      "with this kf")
    if verify:
        verify_files(Path(folder), manifest["files"])
    return manifest


def verify_files(folder: Path, expected: dict[str, str]) -> None:
    found = hash_files(folder)
    missing = sorted(set(expected) - set(found))
    changed = sorted(p for p in expected if p in found and found[p] != expected[p])
    if missing or changed:
        first = (missing or changed)[0]
        raise KfError(f"package {folder} does not match its manifest ({len(missing)} file(s) "
                      f"missing, {len(changed)} changed; first: {first}); package again")
