"""`kf package` and `kf kernel`: code competitions (a package of weights, a notebook that
predicts from it, and its offline dry run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from kfold.cli._common import WorkspaceOpt, console, open_workspace

app = typer.Typer()


@app.command("package")
def package(
    names: Annotated[list[str], typer.Argument(
        metavar="NAME...", help="Runs and/or stacks (stack-<blender>) the kernel may submit; the first is the "
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
    """Package fold weights, a manifest and wheels, ready to upload as a Kaggle dataset.

    Runs and stacks of every task. The manifest holds the task,
    classes, metric, submission form, preprocessing, TTA, blender, CV and the sha256 of
    every file."""
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


class KernelGroup(TyperGroup):
    """`kf kernel NAME ...` writes the kernel (the `write` command); `kf kernel test NAME`
    runs it: a first word that is no subcommand is the package's name."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["write", *args]
        return super().parse_args(ctx, args)


kernel_app = typer.Typer(name="kernel", cls=KernelGroup, no_args_is_help=True,
                         help="Code competitions: write the kernel (kf kernel NAME --kernel "
                              "owner/slug) or dry-run it (kf kernel test NAME).")
app.add_typer(kernel_app)
NameArg = Annotated[str, typer.Argument(help="The package's name (packages/NAME/).")]


@kernel_app.command("write")
def kernel_write(
    name: NameArg,
    kernel: Annotated[str, typer.Option(
        "--kernel", help="The kernel's Kaggle id, owner/slug.")],
    dataset: Annotated[str | None, typer.Option(
        "--dataset", help="The package's Kaggle dataset, owner/slug (default: "
                          "<owner>/<name>-kf-package).")] = None,
    target: Annotated[str | None, typer.Option(
        "--target", help="The run or stack to submit (default: the package's first).")] = None,
    gpu: Annotated[bool, typer.Option("--gpu", help="Run on a GPU (the kernel fails rather "
                                                    "than fall back to the CPU).")] = False,
    machine_shape: Annotated[str | None, typer.Option(
        "--machine-shape", help="Kaggle's accelerator name (default with --gpu: "
                                "NvidiaTeslaT4).")] = None,
    budget: Annotated[float | None, typer.Option(
        "--budget", help="Seconds the kernel may take: keep the best fold models that fit "
                         "(timed by the last kf kernel test).")] = None,
    hidden_test_size: Annotated[int | None, typer.Option(
        "--hidden-test-size", help="With --budget: images of the hidden test set (default: "
                                   "the local test set's).")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Write kernels/NAME/: the notebook and kernel-metadata.json (internet off)."""
    from kfold.kernel.notebook import make_kernel

    ws = open_workspace(workspace)
    spec = make_kernel(ws, name, kernel=kernel, dataset=dataset, target=target, gpu=gpu,
                       machine_shape=machine_shape, budget=budget,
                       hidden_test_size=hidden_test_size)
    models = ("every packaged fold model" if spec.tags is None else
              ", ".join(f"{r}: {'+'.join(t)}" for r, t in spec.tags.items()))
    console.print(f"wrote {ws.root / 'kernels' / name}: {spec.kernel} submits {spec.target} "
                  f"({models}) from dataset {spec.dataset}", highlight=False)


@kernel_app.command("test")
def kernel_test(
    name: NameArg,
    hidden_test_size: Annotated[int | None, typer.Option(
        "--hidden-test-size", help="Images of the hidden test set, for the runtime estimate "
                                   "(default: the local test set's).")] = None,
    runtime_limit: Annotated[float, typer.Option(
        "--runtime-limit", help="The competition's runtime limit in seconds.")] = 9 * 3600.0,
    margin: Annotated[float, typer.Option(
        "--margin", help="Share of the limit kept free.")] = 0.1,
    workspace: WorkspaceOpt = None,
) -> None:
    """Dry-run the kernel offline as Kaggle would; check and time it.

    A fresh Jupyter kernel, no network, Kaggle's /kaggle layout under a temporary folder: its
    predictions must equal kf's to 1e-6; the runtime is estimated for the hidden test set."""
    from kfold.errors import KfError, check_number
    from kfold.kernel.dryrun import dry_run

    check_number("--runtime-limit", runtime_limit, low=0, low_open=True, high=1e7)
    check_number("--margin", margin, low=0, high=1, high_open=True)
    ws = open_workspace(workspace)
    r = dry_run(ws, name, hidden_test_size=hidden_test_size, runtime_limit=runtime_limit,
                margin=margin)
    diffs = ", ".join(f"{t} {d:.1e}" for t, d in r.max_diff.items())
    console.print(f"notebook predictions equal kf's test predictions (max |diff|: {diffs})",
                  highlight=False)
    console.print(f"{r.images} images: {r.images_per_second:.1f} images/s, "
                  f"{r.costs.overhead_seconds:.1f} s overhead (kernel, wheels, imports); "
                  f"{r.wall_seconds:.1f} s in all", highlight=False)
    console.print(f"estimate for {r.hidden_test_size} images: {r.estimate_seconds:.0f} s of "
                  f"{r.allowed_seconds:.0f} s allowed ({runtime_limit:g} s limit, "
                  f"{margin:.0%} margin)", highlight=False)
    if not r.fits:
        raise KfError(f"the kernel would run past the limit; drop fold models "
                      f"{', '.join(r.drop)} (worst fold score first), or let "
                      f"`kf kernel {name} --budget {r.allowed_seconds:.0f}` choose")
