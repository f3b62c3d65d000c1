"""`kf package` and `kf kernel`: code competitions (a package of weights, a notebook that
predicts from it, and its offline dry run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kfold.cli._common import WorkspaceOpt, console, open_workspace

GB = 1024**3


def package(
    names: Annotated[list[str], typer.Argument(
        help="Runs and/or stacks (stack-<blender>) the kernel may submit; the first is the "
             "default.")],
    out: Annotated[Path | None, typer.Option(
        "--out", help="Package folder (default: packages/<first name>/).")] = None,
    full: Annotated[bool, typer.Option(
        "--full", help="Runs: their 100%-retrain model instead of the fold models.")] = False,
    wheel: Annotated[list[str] | None, typer.Option(
        "--wheel", help="An installed runtime dependency Kaggle's image lacks, packaged as a "
                        "wheel (repeat; default: tomli-w).")] = None,
    no_wheels: Annotated[bool, typer.Option(
        "--no-extra-wheels", help="Only kf's own wheel.")] = False,
    size_limit_gb: Annotated[float, typer.Option(
        "--size-limit-gb", help="Refuse a package larger than this (Kaggle's dataset "
                                "limit).")] = 100.0,
    workspace: WorkspaceOpt = None,
) -> None:
    """Package fold weights, a manifest (task, classes, preprocessing, TTA, blender, CV,
    sha256 of every file) and wheels, ready to upload as a Kaggle dataset."""
    from kfold.package.build import build_package
    from kfold.package.wheels import DEFAULT_EXTRA_WHEELS

    ws = open_workspace(workspace)
    wheels = () if no_wheels else tuple(wheel) if wheel else DEFAULT_EXTRA_WHEELS
    report = build_package(ws, names, out=out, full=full, wheels=wheels,
                           size_limit_gb=size_limit_gb)
    console.print(f"packaged {', '.join(report.targets)} (runs {', '.join(report.runs)}): "
                  f"{report.files} files, {report.size_bytes / 2**20:.1f} MiB in {report.folder}",
                  highlight=False)
    console.print(f"wheels: {', '.join(report.wheels)}", highlight=False)
