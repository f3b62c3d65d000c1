"""Submission files: written in the exact shape of `sample_submission.csv`, and validated.

Every CSV kf writes gets a sidecar `<name>.json` with its CV AUC and lineage, so the ledger
and the planner know where it came from.

Nothing submitted is ever lost: contents are addressed by their sha256. Rewriting
`submissions/<name>.csv` with other predictions first keeps the old bytes (and sidecar) in
`submissions/archive/<sha16>.csv`, and `kf submit` archives the exact bytes it uploads, so
the ledger's sha always leads to a file holding exactly what Kaggle scored.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from kfold import artifacts, atomic
from kfold.atomic import file_sha256
from kfold.data.sources import read_listing, workspace_task
from kfold.data.task import Task
from kfold.errors import KfError
from kfold.jsonfiles import read_json
from kfold.scoring import Metric, kappa
from kfold.submission_format import read_output
from kfold.workspace import Workspace


def sample_submission(ws: Workspace) -> pd.DataFrame | None:
    """data/sample_submission.csv, checked (see `kfold.data.sources.read_listing`), or None."""
    path = ws.data_dir / "sample_submission.csv"
    if not path.exists():
        return None
    return read_listing(ws, path)


def write_submission(
    ws: Workspace,
    name: str,
    preds: pd.DataFrame,
    cv_auc: float | None,
    lineage: dict,
) -> Path:
    """Write `submissions/<name>.csv` (+ `.json` sidecar) from a frame with `id`, `pred`.

    Ids and column order follow `sample_submission.csv` when there is one. The lineage
    records the contest metric its CV is a score of (`metric`, a `kfold.scoring` name), so
    the ledger's rows carry it, and for a kappa contest's regression run the thresholds its
    grades were cut by (`kappa_thresholds`, fitted on every OOF row; `kappa_fitted_on`).
    """
    path = ws.submission_path(name)
    task = workspace_task(ws)
    metric = task.metric(ws.config.metric)
    lineage = {**lineage, "metric": metric.name, **kappa_cuts(ws, name, lineage, task, metric)}
    data = submission_frame(ws, name, preds, task, lineage.get("kappa_thresholds")) \
        .to_csv(index=False).encode()
    sha = hashlib.sha256(data).hexdigest()
    if path.exists() and file_sha256(path) != sha:
        archive_file(ws, path)  # the old predictions may have been submitted: keep them
    atomic.write_bytes(path, data)
    sidecar = {
        "name": name,
        "file": path.name,
        "sha256": sha,
        "cv_auc": None if cv_auc is None else float(cv_auc),
        "lineage": lineage,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    atomic.write_json(path.with_suffix(".json"), sidecar)
    return path


def submission_frame(ws: Workspace, name: str, preds: pd.DataFrame,
                     task: Task | None = None,
                     cuts: list[float] | None = None) -> pd.DataFrame:
    """`preds` (id and the task's prediction column(s): `pred`, or `pred:<class>` in the
    task's class order) in the shape of `sample_submission.csv` when there is one (its ids,
    its columns, its order, its form: probabilities, labels, top-k or numbers), validated;
    the kernel of a code competition writes the same. `task`: the workspace's, when the
    caller has read it; `cuts`: a kappa contest's thresholds (`kappa_cuts`)."""
    cfg = ws.config
    preds = preds.assign(id=preds["id"].astype(str)).set_index("id")
    sample = sample_submission(ws)
    if sample is None:
        ids = preds.index.to_numpy()
    else:
        ids = sample[cfg.id_column].to_numpy()
        missing = np.setdiff1d(ids, preds.index.to_numpy())
        if len(missing):
            raise KfError(
                f"predictions for {name!r} lack {len(missing)} id(s) of sample_submission.csv "
                f"(first: {missing[:5].tolist()})"
            )
    task = task or workspace_task(ws)
    output = preds.loc[ids].to_numpy(dtype=float)
    values = submission_values(task, task.metric(cfg.metric),
                               output[:, 0] if output.shape[1] == 1 else output, cuts)
    if np.ndim(values) == 2:
        out = pd.DataFrame(values, columns=list(task.classes))
        columns = [cfg.id_column, *task.classes] if sample is None else list(sample.columns)
    else:
        columns = [cfg.id_column, cfg.target_column] if sample is None else list(sample.columns)
        out = pd.DataFrame({columns[1]: values})
    out.insert(0, cfg.id_column, ids)
    out = out[columns]
    validate_submission(out, ws)
    return out


def contest_metric(ws: Workspace) -> Metric:
    """The metric the competition scores submissions by: kfold.toml's `metric`, else the
    task's (binary AUC for a workspace without training data)."""
    return workspace_task(ws).metric(ws.config.metric)


def lineage_metric(lineage: dict | None) -> str:
    """The metric a CV score in this lineage is a score of (AUC for a file written before
    lineages named it)."""
    return (lineage or {}).get("metric") or "auc"


def kappa_cuts(ws: Workspace, name: str, lineage: dict, task: Task, metric: Metric) -> dict:
    """A regression run scored by kappa: the thresholds that cut its numbers into grades,
    fitted on every OOF row of the file's own run or stack (`name`), else of the run it was
    made from (a retrain: the k-fold run's); {} for any other contest, or when no OOF
    predictions are found (the numbers are then rounded to the nearest grade)."""
    if metric.name != "qwk" or task.kind != "regression":
        return {}
    for run in [name, *(lineage.get("runs") or [])]:
        if ws.oof_path(run).exists():
            oof = artifacts.read_oof(ws.oof_path(run), "regression")
            cuts = kappa.fit_cuts(oof["pred"].to_numpy(), oof["target"].to_numpy())
            return {"kappa_thresholds": [round(float(t), 6) for t in cuts],
                    "kappa_fitted_on": f"oof/{run}.parquet, all {len(oof)} rows"}
    return {}


def submission_values(task: Task, metric: Metric, output: np.ndarray,
                      cuts: list[float] | None = None) -> np.ndarray:
    """The model's output in the form the task's sample submission asks for (`task.output`):
    probabilities or numbers as they are, class names (argmax, or 0.5 for binary), labels
    above 0.5, or the top k classes, as the metric registry turns them
    (`Metric.submission_values`); a kappa contest's numbers as whole grades cut by `cuts`."""
    if cuts is not None and task.kind == "regression":
        return kappa.cut(output, np.asarray(cuts)).astype(int)
    if task.output in ("probabilities", "value") and task.kind != "multiclass" or \
            task.kind == "regression":
        return output
    form = dataclasses.replace(metric, output=task.output, k=task.k or metric.k)
    return form.submission_values(output, list(task.classes))


def read_sidecar(csv_path: str | Path) -> dict | None:
    """The CSV's sidecar (CV AUC, lineage), None when there is none; a damaged one is a
    KfError naming it."""
    path = Path(csv_path).with_suffix(".json")
    if not path.exists() and not path.is_symlink():
        return None
    fix = ("delete it (the submission then has no CV score) or rewrite it by running the "
           "command that wrote the CSV")
    side = read_json(path, fix)
    for key, kinds, spelled in SIDECAR_TYPES:
        value = side.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
            raise KfError(f"{path} is damaged ({key} = {str(value)[:40]!r} is not {spelled}); "
                          f"{fix}")
    return side


def sidecar_of(csv_path: str | Path, sha256: str) -> dict:
    """The sidecar of `csv_path` when it describes the content `sha256`; for a file edited
    by hand since kf wrote it, only its name (the CV and lineage were another content's)."""
    side = read_sidecar(csv_path) or {}
    if side.get("sha256") not in (None, sha256):
        return {"name": side.get("name", Path(csv_path).stem)}
    return side


# A sidecar's keys that kf reads, with their JSON types (each may also be null).
SIDECAR_TYPES = (("name", str, "a text"), ("cv_auc", (int, float), "a number"),
                 ("lineage", dict, "an object"), ("created_utc", str, "a text"),
                 ("sha256", str, "a text"))


def validate_submission(df: pd.DataFrame, ws: Workspace, where: str = "submission") -> None:
    """Refuse a submission that Kaggle would reject or score wrongly.

    Same columns (in its order) and id set as sample_submission.csv (when present), no
    duplicate ids, and values in the task's form (`kfold.submission_format.read_output`):
    probabilities in [0, 1], multi-class rows summing to 1, labels from the class set,
    finite numbers for regression.
    """
    cfg = ws.config
    sample = sample_submission(ws)
    expected_cols = list(sample.columns) if sample is not None else None
    if expected_cols is not None and list(df.columns) != expected_cols:
        raise KfError(f"{where}: columns {list(df.columns)} differ from {expected_cols}")
    if cfg.id_column not in df.columns:
        raise KfError(f"{where}: no {cfg.id_column!r} column (found {list(df.columns)})")
    ids = df[cfg.id_column].astype(str)
    dup = ids[ids.duplicated()]
    if len(dup):
        raise KfError(f"{where}: {len(dup)} duplicate id(s), first: {dup.head(5).tolist()}")
    if sample is not None:
        expected = set(sample[cfg.id_column].astype(str))
        missing, extra = sorted(expected - set(ids)), sorted(set(ids) - expected)
        if missing or extra:
            raise KfError(
                f"{where}: {len(missing)} id(s) missing (first: {missing[:5]}) and "
                f"{len(extra)} unknown id(s) (first: {extra[:5]}) against sample_submission.csv"
            )
    task = workspace_task(ws)
    try:
        read_output(df, cfg.id_column, task.kind, task.classes, task.output, task.k)
    except ValueError as exc:
        raise KfError(f"{where}: {exc} (a {task.kind} task's submission)") from None


# --- the archive: content-addressed copies of candidates and of everything submitted -------
def archive_dir(ws: Workspace) -> Path:
    return ws.submissions_dir / "archive"


def archive_path(ws: Workspace, sha256: str) -> Path:
    """Where the content `sha256` is kept (16 hex digits name it; the sidecar has all 64)."""
    return archive_dir(ws) / f"{sha256[:16]}.csv"


def archive_bytes(ws: Workspace, data: bytes, sidecar: dict | None = None) -> Path:
    """Keep `data` byte for byte under archive/<sha16>.csv with a sidecar (name, cv_auc,
    lineage, sha256); a no-op when that content is already archived."""
    sha = hashlib.sha256(data).hexdigest()
    path = archive_path(ws, sha)
    if path.exists() and file_sha256(path) == sha:
        return path
    atomic.write_json(path.with_suffix(".json"), {**(sidecar or {}), "sha256": sha})
    atomic.write_bytes(path, data)
    return path


def archive_file(ws: Workspace, path: Path) -> Path:
    """Archive the current bytes of a candidate file with its sidecar."""
    data = Path(path).read_bytes()
    side = sidecar_of(path, hashlib.sha256(data).hexdigest()) or {"name": Path(path).stem}
    return archive_bytes(ws, data, {**side, "file": Path(path).name})


def content_path(ws: Workspace, sha256: str, hint: str | Path | None = None) -> Path | None:
    """A file holding exactly the content `sha256`: `hint` while it still does, else the
    archive copy; None when neither does (the bytes were overwritten before kf kept them, or
    the submission was a notebook: its hint is the package folder, no file of scored bytes)."""
    for path in ([Path(hint)] if hint else []) + [archive_path(ws, sha256)]:
        if path.is_file() and file_sha256(path) == sha256:
            return path
    return None
