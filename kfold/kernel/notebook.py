"""`kf kernel`: the notebook a code competition reruns, and its `kernel-metadata.json`.

The notebook installs the package's wheels from the attached dataset (`pip --no-index`, into
the working folder: the internet is off and the image's own packages stay as they are), then
calls `kfold.infer.run_kernel`, which predicts the competition's test images with every
packaged fold model and writes `submission.csv`. Paths are Kaggle's (`/kaggle/input/<slug>`);
`KF_KAGGLE_ROOT` moves them under another folder for the dry run (kfold.kernel.dryrun).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path

from kfold import atomic
from kfold.errors import KfError, check_number, check_whole
from kfold.kernel.budget import keep_within, read_costs
from kfold.package.manifest import read_manifest
from kfold.workspace import Workspace

NOTEBOOK = "kernel.ipynb"
METADATA = "kernel-metadata.json"
SETTINGS = "kf-kernel.json"  # what kf kernel was asked, read back by kf kernel test
DEFAULT_GPU_SHAPE = "NvidiaTeslaT4"
# Shapes Kaggle retired and silently replaces (the kaggle client's own list, 2.x).
RETIRED_SHAPES = {"nvidiateslap100", "tpuv38", "tpu1vmv38", "tpuv232", "tpuv2256"}
_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*/[a-z0-9][a-z0-9-]*[a-z0-9]")


@dataclass(frozen=True)
class KernelSpec:
    """What a kernel is: its package, target, Kaggle ids and machine."""

    kernel: str  # owner/slug
    dataset: str  # owner/slug of the package's dataset
    competition: str
    target: str
    gpu: bool = False
    machine_shape: str | None = None
    tags: dict[str, list[str]] | None = None  # fold models per run (None: all packaged)

    @property
    def dataset_slug(self) -> str:
        return self.dataset.split("/", 1)[1]

    def to_dict(self) -> dict:
        return {"kernel": self.kernel, "dataset": self.dataset, "competition": self.competition,
                "target": self.target, "gpu": self.gpu, "machine_shape": self.machine_shape,
                "tags": self.tags}


def check_slug(value: str, option: str, shortest: int) -> str:
    """`owner/name` as Kaggle spells ids (the client refuses a kernel title under 5
    characters and a dataset slug outside 6 to 50)."""
    if (not isinstance(value, str) or not _SLUG.fullmatch(value)
            or not shortest <= len(value.split("/")[1]) <= 50):
        raise KfError(f"{option} {value!r} is not owner/name (name: {shortest} to 50 lowercase "
                      "letters, digits or dashes, as Kaggle spells ids)")
    return value


def make_spec(ws: Workspace, package: Path, *, kernel: str, dataset: str | None = None,
              target: str | None = None, gpu: bool = False, machine_shape: str | None = None,
              tags: dict[str, list[str]] | None = None) -> KernelSpec:
    """A checked spec: slugs, a target the package holds, a shape Kaggle still runs."""
    check_slug(kernel, "--kernel", 5)
    default = re.sub(r"[^a-z0-9]+", "-", package.name.lower()).strip("-") + "-kf-package"
    dataset = check_slug(dataset or f"{kernel.split('/')[0]}/{default}", "--dataset", 6)
    manifest = read_manifest(package, verify=False)
    target = target or next(iter(manifest["targets"]))
    if target not in manifest["targets"]:
        raise KfError(f"--target {target!r}: the package holds {', '.join(manifest['targets'])}")
    if machine_shape and machine_shape.lower() in RETIRED_SHAPES:
        raise KfError(f"--machine-shape {machine_shape} is retired: Kaggle would silently run "
                      "the kernel on another machine; name a current one (e.g. "
                      f"{DEFAULT_GPU_SHAPE})")
    if gpu and not machine_shape:
        machine_shape = DEFAULT_GPU_SHAPE
    return KernelSpec(kernel, dataset, ws.config.competition, target, gpu, machine_shape, tags)


def make_kernel(ws: Workspace, name: str, *, kernel: str, dataset: str | None = None,
                target: str | None = None, gpu: bool = False, machine_shape: str | None = None,
                budget: float | None = None, hidden_test_size: int | None = None) -> KernelSpec:
    """Write kernels/<name>/ for packages/<name>/. `budget` (seconds for `hidden_test_size`
    images) keeps the fold models that fit, timed by the last `kf kernel test`."""
    package, folder = ws.root / "packages" / name, ws.root / "kernels" / name
    spec = make_spec(ws, package, kernel=kernel, dataset=dataset, target=target, gpu=gpu,
                     machine_shape=machine_shape)
    if budget is not None:
        check_number("--budget", budget, low=0, low_open=True, high=1e7)
        costs = read_costs(folder)
        n = costs.images if hidden_test_size is None else check_whole(
            "--hidden-test-size", hidden_test_size, 1, 10**9)
        tags = keep_within(read_manifest(package, verify=False), spec.target, costs, n, budget)
        spec = dataclasses.replace(spec, tags=tags)
    write_kernel(folder, spec)
    return spec


def write_kernel(folder: Path, spec: KernelSpec) -> Path:
    """Write the notebook, kernel-metadata.json and kf's own record of the spec."""
    import nbformat

    folder.mkdir(parents=True, exist_ok=True)
    nb = notebook(spec)
    atomic.write_text(folder / NOTEBOOK, nbformat.writes(nb))
    atomic.write_json(folder / METADATA, metadata(spec))
    atomic.write_json(folder / SETTINGS, spec.to_dict())
    return folder


def read_spec(folder: Path) -> KernelSpec:
    path = folder / SETTINGS
    try:
        return KernelSpec(**json.loads(path.read_text("utf-8")))
    except FileNotFoundError:
        raise KfError(f"no kernel at {folder} (no {SETTINGS}); write one with `kf kernel`") from None
    except (OSError, ValueError, TypeError) as exc:
        raise KfError(f"{path} is damaged ({exc}); write the kernel again with `kf kernel`") from None


def metadata(spec: KernelSpec) -> dict:
    """kernel-metadata.json as `kaggle kernels push` reads it: internet off, the machine
    named explicitly."""
    slug = spec.kernel.split("/", 1)[1]
    return {"id": spec.kernel, "title": slug, "code_file": NOTEBOOK, "language": "python",
            "kernel_type": "notebook", "is_private": True, "enable_gpu": spec.gpu,
            "enable_tpu": False, "enable_internet": False,
            "machine_shape": spec.machine_shape or "", "dataset_sources": [spec.dataset],
            "competition_sources": [spec.competition], "kernel_sources": [],
            "model_sources": []}


def notebook(spec: KernelSpec):
    import nbformat.v4 as v4

    install = f'''import glob, os, subprocess, sys
ROOT = os.environ.get("KF_KAGGLE_ROOT", "/kaggle")
PACKAGE = f"{{ROOT}}/input/{spec.dataset_slug}"
COMPETITION = f"{{ROOT}}/input/{spec.competition}"
LIBS = f"{{ROOT}}/working/kf-libs"
wheels = sorted(glob.glob(f"{{PACKAGE}}/wheels/*.whl"))
assert wheels, f"no wheels in {{PACKAGE}}/wheels: attach the package dataset {spec.dataset}"
subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
                "--target", LIBS, *wheels], check=True)
sys.path.insert(0, LIBS)'''
    predict = f'''import kfold
from kfold.infer import run_kernel
print("kf", kfold.__version__, "from", kfold.__file__)
run_kernel(PACKAGE, COMPETITION, f"{{ROOT}}/working/submission.csv", target={spec.target!r},
           tags={spec.tags!r}, device={"'cuda'" if spec.gpu else "'cpu'"})'''
    intro = (f"# {spec.target}: kf code-competition kernel\n\nPredicts `{spec.competition}`'s "
             f"test images with the fold models of the kf package `{spec.dataset}` and writes "
             "`submission.csv`. Written by `kf kernel`; internet off.")
    nb = v4.new_notebook(cells=[v4.new_markdown_cell(intro), v4.new_code_cell(install),
                                v4.new_code_cell(predict)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb
