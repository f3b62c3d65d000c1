"""MLflow as an optional experiment tracker: `tracking_uri` in kfold.toml turns it on.

Users who already browse experiments in the MLflow UI see kf's there: one MLflow experiment
per competition; one MLflow run per kf run (its config as params, per-epoch metrics of every
fold with the epoch as step, per-fold and OOF score (the `*_auc` metric keys hold the contest metric's score, named by
the `kf.metric` tag: `logloss`, `rmse`...), note/tags/git commit as tags, curves.png
and run.json as artifacts, and the Grad-CAM PNGs once `kf explain` made them); one MLflow run
per `kf stack` blend (blender, input runs, OOF and fold AUC); one MLflow run
per Kaggle submission (its CV and, once scored, public and private score; `kf.metric` names
the metric its CV scores).

`tracking_uri` is a local folder (relative to the workspace; works offline; MLflow calls it
the file store), an SQLite database (`sqlite:///mlflow.db`, relative to the workspace too;
MLflow's database store, which MLflow 3 prefers to the file store), or a tracking server URL
(`http://…`, for teams). Without it, mlflow is never imported. The client is `mlflow-skinny`
with SQLAlchemy and Alembic for the database store (`pip install 'kfold[mlflow]'`).

The tracker only reports: a store that cannot be opened stops `kf train` before any work
(one error line), and a tracking failure after the work is done is a warning, never the loss
of a trained run or a submission. A server that does not answer is given up on after a few
seconds (MLflow's own default retries for minutes); MLFLOW_HTTP_REQUEST_* variables win.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kfold.errors import KfError, first_line
from kfold.runfiles import fold_tag
from kfold.workspace import Workspace

KIND = "kf.kind"  # tag: "run" or "submission"
RUN = "kf.run"  # tag: the kf run name
REF = "kf.ref"  # tag: the Kaggle submission ref
METRIC = "kf.metric"  # tag: the contest metric (kfold.scoring name) its scores are in


def for_workspace(ws: Workspace, competition: str | None = None) -> MlflowTracker | None:
    """The workspace's tracker, or None when kfold.toml has no `tracking_uri`; its experiment
    is `competition` (a command's --competition) or kfold.toml's. Raises a KfError up front
    (before any work) when it is set but mlflow is not installed."""
    uri = (ws.config.tracking_uri or "").strip()
    if not uri:
        return None
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise KfError("tracking_uri is set in kfold.toml but mlflow is not installed: "
                      "pip install 'kfold[mlflow]' (or remove tracking_uri)") from None
    resolved = resolve_uri(ws, uri)
    if resolved.startswith("sqlite:"):
        try:
            import alembic  # noqa: F401
            import sqlalchemy  # noqa: F401
        except ImportError:
            raise KfError(f"tracking_uri {uri!r} is MLflow's database store, which needs "
                          "SQLAlchemy and Alembic: pip install 'kfold[mlflow]' (or use a "
                          "folder, e.g. tracking_uri = \"mlruns\")") from None
    for var, value in _HTTP_DEFAULTS.items():
        os.environ.setdefault(var, value)
    try:
        return MlflowTracker(resolved, experiment=competition or ws.config.competition or "kfold")
    except Exception as exc:  # noqa: BLE001 - whatever the store raises: one line
        first = first_line(exc, 300)
        raise KfError(f"cannot open the MLflow store tracking_uri = {uri!r} ({first}); start "
                      "the server, fix tracking_uri in kfold.toml, or remove it") from None


# MLflow retries a silent server for minutes by default; kf gives up after a few seconds
_HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
                  "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                  "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


def resolve_uri(ws: Workspace, uri: str) -> str:
    """A server URL as is; an SQLite database or a local folder relative to the workspace
    (sqlite:///mlflow.db, mlruns), the folder as a file: URI with MLflow's file store allowed
    (MLflow 3 wants an opt-in for it)."""
    if uri.startswith("sqlite:///"):
        path = Path(uri.removeprefix("sqlite:///"))
        return "sqlite:///" + str(path if path.is_absolute() else (ws.root / path).resolve())
    if "://" in uri and not uri.startswith("file:"):
        return uri
    path = Path(uri.removeprefix("file://").removeprefix("file:"))
    path = path if path.is_absolute() else ws.root / path
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return path.resolve().as_uri()


def _warn_on_failure(fn: Callable) -> Callable:
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - reporting must never undo finished work
            warnings.warn(f"MLflow tracking failed ({fn.__name__}): {exc}", stacklevel=2)
            return None

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def flatten(prefix: str, value: Any) -> dict[str, str]:
    """Nested dicts as dotted keys; values as text (MLflow params are strings)."""
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(flatten(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return {prefix: str(value)[:500]}


class MlflowTracker:
    """Writes kf's runs and submissions into one MLflow experiment through MlflowClient."""

    def __init__(self, uri: str, experiment: str):
        from mlflow.tracking import MlflowClient

        self.uri = uri
        self.client = MlflowClient(tracking_uri=uri)
        found = self.client.get_experiment_by_name(experiment)
        self.experiment_id = (found.experiment_id if found is not None
                              else self.client.create_experiment(experiment))

    def _find(self, key: str, value: str) -> Any | None:
        runs = self.client.search_runs([self.experiment_id], f"tags.`{key}` = '{value}'",
                                       max_results=1, order_by=["attributes.start_time DESC"])
        return runs[0] if runs else None

    def _new_run(self, name: str, tags: dict[str, str]):
        return self.client.create_run(self.experiment_id, run_name=name, tags=tags)

    @_warn_on_failure
    def log_run(self, ws: Workspace, name: str) -> str:
        """One MLflow run for kf run `name` (a rerun replaces the earlier one's metrics by
        logging a fresh MLflow run); returns its id."""
        from mlflow.entities import Metric, Param, RunTag

        from kfold import artifacts

        rec = artifacts.read_run(ws, name)
        meta = rec.to_dict()
        files = ws.run_files(name)
        tags = {KIND: "run", RUN: name, "model": str(meta.get("model")),
                "backend": str(meta.get("backend")), METRIC: str(meta.get("metric") or "auc")}
        for key in ("note", "git_commit"):
            if meta.get(key):
                tags[f"kf.{key}"] = str(meta[key])
        for tag in meta.get("tags") or []:
            tags[f"kf.tag.{tag}"] = "true"
        run = self._new_run(name, tags)
        rid = run.info.run_id
        params = [Param(k, v) for k, v in flatten("", meta.get("config") or {}).items()]
        now = _now_ms()
        metrics = [Metric(k, float(meta[k]), now, 0)
                   for k in ("oof_auc", "fold_auc_mean", "fold_auc_std") if meta.get(k) is not None]
        for fold in rec.folds:
            tag = fold_tag(fold.fold)
            metrics.append(Metric(f"{tag}_auc", float(fold.auc), now, 0))
            metrics += _epoch_metrics(files.history(tag), tag, now)
        note = [RunTag("mlflow.note.content", tags["kf.note"])] if "kf.note" in tags else []
        for i in range(0, max(len(metrics), 1), 900):  # a batch holds up to 1000 entries
            self.client.log_batch(rid, metrics=metrics[i:i + 900],
                                  params=params if i == 0 else [], tags=note if i == 0 else [])
        for path in (files.curves, files.record):
            if path.exists():
                self.client.log_artifact(rid, str(path))
        self.client.set_terminated(rid)
        return rid

    @_warn_on_failure
    def log_stack(self, name: str, blender: str, runs: list[str],
                  scores: dict[str, float]) -> str:
        """One MLflow run for a `kf stack` blend (a row of `kf runs` too): its blender and
        input runs as params, its OOF and fold AUCs as metrics; returns its id."""
        from mlflow.entities import Metric, Param

        run = self._new_run(name, {KIND: "stack", RUN: name, "blender": blender})
        now = _now_ms()
        self.client.log_batch(
            run.info.run_id, metrics=[Metric(k, float(v), now, 0) for k, v in scores.items()],
            params=[Param("blender", blender), Param("runs", ",".join(runs)[:500])])
        self.client.set_terminated(run.info.run_id)
        return run.info.run_id

    @_warn_on_failure
    def log_explain(self, run: str, pngs: list[Path], scores: dict | None = None) -> str | None:
        """Grad-CAM pictures of kf run `run` and its localization scores (pointing game,
        chance level, energy, IoU... as `gradcam.<name>`), added to its latest MLflow run."""
        from mlflow.entities import Metric

        found = self._find(RUN, run)
        if found is None:
            return None
        now = _now_ms()
        metrics = [Metric(f"gradcam.{k}".replace("@", "_at_"), float(v), now, 0)
                   for k, v in (scores or {}).items()
                   if isinstance(v, int | float) and not isinstance(v, bool) and v == v]
        if metrics:
            self.client.log_batch(found.info.run_id, metrics=metrics)
        for png in pngs:
            self.client.log_artifact(found.info.run_id, str(png), artifact_path="gradcam")
        return found.info.run_id

    @_warn_on_failure
    def log_submissions(self, rows: list[dict]) -> int:
        """Every submission with a Kaggle ref: its CV, and its public/private score once
        scored (logged once); its run ends when Kaggle has scored it (FINISHED) or could not
        (FAILED). Returns how many MLflow runs were created or updated."""
        from mlflow.entities import Metric

        changed = 0
        for row in rows:
            if not row.get("ref"):
                continue
            found = self._find(REF, str(row["ref"]))
            if found is None:
                tags = {KIND: "submission", REF: str(row["ref"]),
                        "file": str(row.get("file") or ""), "name": str(row.get("name") or ""),
                        "source": str(row.get("source"))}
                if row.get("runs"):
                    tags["kf.runs"] = ",".join(row["runs"])
                if row.get("metric"):
                    tags[METRIC] = row["metric"]
                name = row.get("name") or row.get("file") or ""
                found = self._new_run(f"submission {row['ref']} {name}", tags)
            have = found.data.metrics if hasattr(found, "data") else {}
            new = [Metric(k, float(row[k]), _now_ms(), 0) for k in ("cv_auc", "public_score",
                                                                    "private_score")
                   if row.get(k) is not None and k not in have]
            if new:
                self.client.log_batch(found.info.run_id, metrics=new)
                changed += 1
            end = _END.get(row.get("status"))
            if end and found.info.status == "RUNNING":
                self.client.set_terminated(found.info.run_id, end)
        return changed


_END = {"complete": "FINISHED", "error": "FAILED"}  # a submission's status -> its run's end


def _now_ms() -> int:
    """MLflow's timestamps are milliseconds since 1970 (0 shows as January 1970 in its UI)."""
    return int(time.time() * 1000)


def _epoch_metrics(history: Path, tag: str, timestamp: int) -> list:
    """Per-epoch metrics of one fold from its history CSV, the epoch as the step."""
    from mlflow.entities import Metric

    if not history.exists():
        return []
    import pandas as pd

    h = pd.read_csv(history)
    out = []
    for col, key in (("train_loss", "train_loss"), ("val_loss", "val_loss"), ("auc", "val_auc")):
        if col in h:
            out += [Metric(f"{tag}.{key}", float(v), timestamp, int(e))
                    for e, v in zip(h["epoch"], h[col]) if v == v]
    return out
