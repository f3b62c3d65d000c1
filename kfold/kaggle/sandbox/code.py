"""The stand-in as a code competition: datasets, kernels and code submissions.

What it answers, as kaggle.com does for the real client: StartBlobUpload (then a PUT of the
bytes), CreateDataset / CreateDatasetVersion (a zip of a folder is unpacked into that folder;
a version is "processing" for `processing_s`, and a new version uploaded meanwhile is refused
with 403), GetDatasetStatus, GetDataset, SaveKernel (a new version, run at once in a thread:
its notebook executes here with no network under a Kaggle layout whose competition folder is
the stand-in's data without the solution), GetKernelSessionStatus, ListKernelSessionOutput
(the log and the output files), GetCompetition (`isKernelsSubmissionsOnly`) and
CreateCodeSubmission (the version's `submission.csv`, scored like an upload). `fail_kernel`
provokes what Kaggle reports by class: "timeout", "exception", "no-csv" (on the next kernel
run) and "scoring" (on the next code submission).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

FAILURES = ("timeout", "exception", "no-csv", "scoring")
_PROVOKED_CELLS = {
    "timeout": "import time\ntime.sleep(3600)",
    "exception": "raise RuntimeError('sandbox: provoked failure')",
}


@dataclass
class DatasetVersion:
    number: int
    folder: Path
    ready_at: float  # time.monotonic() when processing ends


@dataclass
class KernelVersion:
    number: int
    text: str
    dataset_sources: list[str]
    status: str = "QUEUED"  # QUEUED, RUNNING, COMPLETE, ERROR (kagglesdk KernelWorkerStatus)
    failure: str = ""
    folder: Path | None = None  # its Kaggle root; output in working/


@dataclass
class CodeCompetition:
    """Datasets and kernels of the stand-in, with their files under `root`."""

    processing_s: float = 0.5
    runtime_limit_s: float = 600.0
    fail_kernel: str | None = None
    home: Path | None = None  # made on first use
    blobs: dict[str, tuple[str, bytes | None]] = field(default_factory=dict)
    datasets: dict[str, list[DatasetVersion]] = field(default_factory=dict)
    kernels: dict[str, list[KernelVersion]] = field(default_factory=dict)
    threads: list[threading.Thread] = field(default_factory=list)
    submitted: dict[int, tuple[str, int]] = field(default_factory=dict)  # ref -> kernel, version

    @property
    def root(self) -> Path:
        """Where datasets and kernel runs are kept (a temporary folder of this server)."""
        if self.home is None:
            self.home = Path(tempfile.mkdtemp(prefix="kf-sandbox-"))
        return self.home

    # --- datasets ------------------------------------------------------------------------
    def processing(self, ref: str) -> bool:
        versions = self.datasets.get(ref)
        return bool(versions) and time.monotonic() < versions[-1].ready_at

    def add_version(self, ref: str, files: list[tuple[str, bytes]]) -> DatasetVersion:
        """Store a dataset version: plain files as they are, `<name>.zip` unpacked into
        `<name>/` (as Kaggle unpacks an uploaded folder)."""
        versions = self.datasets.setdefault(ref, [])
        folder = self.root / "datasets" / ref.replace("/", "__") / str(len(versions) + 1)
        folder.mkdir(parents=True)
        for name, data in files:
            path = folder / Path(name).name
            path.write_bytes(data)
            if path.suffix == ".zip":
                with zipfile.ZipFile(path) as z:
                    z.extractall(folder / path.stem)
                path.unlink()
        version = DatasetVersion(len(versions) + 1, folder, time.monotonic() + self.processing_s)
        versions.append(version)
        return version

    # --- kernels -------------------------------------------------------------------------
    def fail(self, failure: str) -> None:
        """Provoke `failure` on the next kernel run (or, "scoring", code submission)."""
        from kfold.errors import KfError

        if failure not in FAILURES:
            raise KfError(f"--fail-kernel {failure!r}: choose one of {', '.join(FAILURES)}")
        self.fail_kernel = failure

    def push(self, ref: str, text: str, dataset_sources: list[str], competition: str,
             data_dir: Path | None) -> KernelVersion:
        """A new version of kernel `ref`, run in a thread on the stand-in's test images."""
        versions = self.kernels.setdefault(ref, [])
        version = KernelVersion(len(versions) + 1, text, list(dataset_sources))
        versions.append(version)
        failure, self.fail_kernel = (self.fail_kernel, None) if self.fail_kernel in (
            "timeout", "exception", "no-csv") else (None, self.fail_kernel)
        thread = threading.Thread(target=self._run, daemon=True,
                                  args=(ref, version, competition, data_dir, failure))
        self.threads.append(thread)
        thread.start()
        return version

    def version(self, ref: str, number: int | None) -> KernelVersion | None:
        versions = self.kernels.get(ref) or []
        if number is None:
            return versions[-1] if versions else None
        return next((v for v in versions if v.number == number), None)

    def _run(self, ref: str, version: KernelVersion, competition: str,
             data_dir: Path | None, failure: str | None) -> None:
        from kfold.errors import KfError
        from kfold.kernel.runner import kaggle_layout, run_notebook

        version.status = "RUNNING"
        tmp = self.root / "kernels" / ref.replace("/", "__") / str(version.number)
        tmp.mkdir(parents=True)
        inputs = {src.split("/", 1)[1]: self.datasets[src][-1].folder
                  for src in version.dataset_sources if src in self.datasets}
        inputs[competition] = self._hidden_test(data_dir)
        root = kaggle_layout(tmp, inputs)
        version.folder = root
        notebook = tmp / "notebook.ipynb"
        notebook.write_text(_provoked(version.text, failure))
        try:
            run_notebook(notebook, root, 2.0 if failure == "timeout" else self.runtime_limit_s)
        except KfError as exc:
            version.status, version.failure = "ERROR", str(exc)
            return
        if failure == "no-csv":
            (root / "working" / "submission.csv").unlink(missing_ok=True)
        version.status = "COMPLETE"

    def _hidden_test(self, data_dir: Path | None) -> Path:
        """The competition folder a kernel sees: the data without the solution."""
        folder = self.root / "competition"
        if not folder.exists() and data_dir is not None:
            folder.mkdir()
            for entry in Path(data_dir).iterdir():
                if entry.name != "solution.csv":
                    (folder / entry.name).symlink_to(entry.resolve())
        return folder

    def log(self, version: KernelVersion) -> str:
        path = version.folder.parent / "kernel.log" if version.folder else None
        text = path.read_text(errors="replace") if path and path.exists() else ""
        return text + (f"\n{version.failure}\n" if version.failure else "")

    def outputs(self, version: KernelVersion) -> list[Path]:
        """The files a finished version wrote to /kaggle/working (none while it runs)."""
        if version.status not in ("COMPLETE", "ERROR") or version.folder is None:
            return []
        return sorted(p for p in (version.folder / "working").iterdir() if p.is_file())

    def close(self, timeout: float = 60.0) -> None:
        """Let running kernels finish, then remove the stored datasets and runs."""
        for thread in self.threads:
            thread.join(timeout)
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)


def _provoked(text: str, failure: str | None) -> str:
    """The notebook with a cell that provokes `failure` (timeout, exception) first."""
    cell = _PROVOKED_CELLS.get(failure or "")
    if cell is None:
        return text
    import nbformat

    nb = nbformat.reads(text, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(cell))
    return nbformat.writes(nb)
