"""`kf submit --kernel NAME`: a code-competition submission, inside the daily limit.

Order, chosen so that nothing is spent on a kernel that would fail and a slot is never lost:

1. no network: the message, the kernel and package (every file's sha256), and the last dry
   run (`kf kernel test`), which must have passed on exactly this notebook and package and
   fitted the runtime limit;
2. Kaggle: the competition must take notebooks; today's quota is read and one slot reserved
   in the ledger (the same reservation as a CSV submission);
3. the package is uploaded as a new dataset or a new version (after the last one is ready),
   the kernel pushed (its version kept) and its run waited for; then exactly that version is
   submitted with `competition_submit_code`. Any failure before Kaggle takes the submission
   gives the slot back;
4. the ledger records the lineage: runs -> package (sha256, dataset version) -> kernel
   version -> CV -> scores (filled in by `--wait` or `kf submissions`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kfold.errors import KfError
from kfold.kaggle.client import endpoint
from kfold.kaggle.code import CodeClient
from kfold.kaggle.flow import competition_of, open_ledger, wait_submitted
from kfold.kaggle.ledger import limit_error
from kfold.kaggle.quota import read_quota, track_submissions
from kfold.kernel.budget import DRY_RUN
from kfold.kernel.dryrun import tested_shas
from kfold.kernel.notebook import KernelSpec, read_spec
from kfold.package.manifest import read_manifest
from kfold.workspace import Workspace


@dataclass
class CodeSubmitResult:
    kernel: str
    target: str
    ref: int
    status: str  # pending | complete | error
    kernel_version: int
    dataset: str
    dataset_version: int
    cv_auc: float | None
    left_today: int | None
    public_score: float | None = None
    private_score: float | None = None


def submit_kernel(ws: Workspace, name: str, message: str, *, wait: bool = False,
                  force: bool = False, competition: str | None = None,
                  client: CodeClient | None = None, dataset_timeout_s: float = 3600,
                  kernel_timeout_s: float = 9 * 3600 + 900, poll_s: float = 1.0,
                  wait_timeout_s: float = 3600,
                  log: Callable[[str], None] | None = None) -> CodeSubmitResult:
    """Upload packages/<name>/, push kernels/<name>/, wait for its run, submit that version."""
    slug = competition_of(ws, competition)
    if not (message or "").strip():
        raise KfError("a submission needs a --message (Kaggle shows it as the description)")
    kernel, package = ws.root / "kernels" / name, ws.root / "packages" / name
    spec = read_spec(kernel)
    if spec.competition != slug:
        raise KfError(f"kernels/{name} was written for {spec.competition!r}, not {slug!r}; "
                      f"write it again with `kf kernel {name}`")
    manifest = read_manifest(package)
    _check_dry_run(kernel, package, name)
    if client is None:
        endpoint()  # a malformed $KF_KAGGLE_ENDPOINT is refused before the ledger is opened
    with open_ledger(ws) as led:
        used = led.used_today(slug)
        if used >= ws.config.daily_limit and not led.has_dead():
            raise limit_error(slug, used, ws.config.daily_limit, None)
        client = client or CodeClient(slug, log=log)
        if not client.is_code_competition():
            raise KfError(f"{slug} is not a code competition: it takes CSV files; submit one "
                          "with `kf submit FILE`")
        quota, _ = read_quota(ws, led, slug, client_factory=lambda: client)
        sha, lineage = _identity(kernel, package, manifest, spec)
        target, label = manifest["targets"][spec.target], f"{spec.target} (code)"
        led.add_candidate(sha, package, label, target["cv_auc"], lineage, None)
        res = led.reserve(slug, sha, f"{spec.kernel} (notebook)", message,
                          ws.config.daily_limit, api_allowed=quota.kaggle_allowed,
                          api_read_utc=quota.read_utc, allow_duplicate=force, name=label,
                          cv_auc=target["cv_auc"], lineage=lineage)
        try:
            version = client.upload_dataset(package, spec.dataset, message, dataset_timeout_s)
            kernel_version = client.push_kernel(kernel)
            lineage = {**lineage, "dataset_version": version, "kernel_version": kernel_version}
            led.set_lineage(res, lineage)
            client.wait_kernel(spec.kernel, kernel_version, kernel_timeout_s)
            ref = client.submit_code(spec.kernel, kernel_version, message)
        except BaseException:
            led.release(res)
            raise
        led.mark_submitted(res, ref)
        led.add_candidate(sha, package, label, target["cv_auc"], lineage, None)
        track_submissions(ws, led, slug)
    out = CodeSubmitResult(spec.kernel, spec.target, ref, "pending", kernel_version,
                           spec.dataset, version, target["cv_auc"], res.left_after)
    if wait:
        remote = wait_submitted(ws, client, ref, f"{spec.kernel} (notebook)", res.left_after,
                                poll_s=poll_s, timeout_s=wait_timeout_s, log=log)
        out.status, out.public_score, out.private_score = (
            remote.status, remote.public_score, remote.private_score)
    return out


def _check_dry_run(kernel: Path, package: Path, name: str) -> None:
    """The last `kf kernel test` passed on exactly this notebook and package, in time."""
    path = kernel / DRY_RUN
    if not path.exists():
        raise KfError(f"kernels/{name} was never dry-run; run `kf kernel test {name}` first "
                      "(it runs the notebook offline as Kaggle would and costs no slot)")
    try:
        last = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise KfError(f"{path} is damaged ({exc}); run `kf kernel test {name}` again") from None
    if last.get("tested") != tested_shas(kernel, package):
        raise KfError(f"the notebook or package changed since the last dry run; run `kf "
                      f"kernel test {name}` again")
    if not last.get("fits"):
        raise KfError(f"the last dry run estimated {last.get('estimate_seconds', 0):.0f} s, "
                      f"over the {last.get('allowed_seconds', 0):.0f} s allowed; drop fold "
                      f"models (`kf kernel {name} --budget ...`) and dry-run again")


def _identity(kernel: Path, package: Path, manifest: dict, spec: KernelSpec) -> tuple[str, dict]:
    """The submission's content address (the notebook and package dry-run, the target and
    its fold models) and its lineage for the ledger."""
    shas = tested_shas(kernel, package)
    key = json.dumps([shas, spec.target, spec.tags], sort_keys=True)
    target = manifest["targets"][spec.target]
    lineage = {"kind": "code", "target": spec.target, "runs": target["runs"],
               "blender": (target.get("blender") or {}).get("name"),
               "fold_models": spec.tags, "package_sha256": shas["manifest"],
               "notebook_sha256": shas["notebook"], "dataset": spec.dataset,
               "kernel": spec.kernel, "fold_auc": target["fold_auc"],
               "metric": manifest.get("metric", "auc")}  # what cv_auc and fold_auc score
    return hashlib.sha256(key.encode()).hexdigest(), lineage
