"""The artifact contract between train, stack, submit and explain.

Schemas (docs/architecture.md):
- `folds.csv`                 id, target, fold
- `oof/<run>.parquet`         id, target, fold, pred    (every training id exactly once)
- `oof/<run>.test.parquet`    id, pred_fold0..pred_fold{k-1}, pred
- `oof/<run>.full.test.parquet` id, pred
  A multi-class or multi-label run has one column per class instead of each `pred...`
  column, named `<column>:<class>` (`pred:cat`, `pred_fold0:cat`): `pred_columns`. A
  regression run's `pred` holds numbers, not probabilities; each task's `target` is as
  `kfold.data.task` holds it.
- `models/<run>/run.json`     the run record (kfold.record.RunRecord, with a schema version);
                              read and written here only. File names in a run folder:
                              kfold.runfiles.RunFiles.

Readers validate what they read; a mismatch is a `KfError` naming the file, never a silently
wrong blend.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kfold import atomic
from kfold.errors import KfError, first_line
from kfold.jsonfiles import read_json
from kfold.record import RunRecord
from kfold.tables import read_csv
from kfold.workspace import NAME, Workspace

FOLDS_COLUMNS = ["id", "target", "fold"]
OOF_COLUMNS = ["id", "target", "fold", "pred"]


# --- folds ---------------------------------------------------------------------------------
def folds_fingerprint(df: pd.DataFrame) -> str:
    """Hash of the sorted (id, fold) pairs: equal fingerprints mean the same split."""
    pairs = sorted(zip(df["id"].astype(str), df["fold"].astype(int)))
    text = "\n".join(f"{i},{f}" for i, f in pairs)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_folds(path: str | Path, kind: str = "binary") -> pd.DataFrame:
    """folds.csv, checked; `target` as the task `kind` holds it (kfold.data.task): 0/1, a
    class index, space-separated labels (empty: none) or a number."""
    path = Path(path)
    if not path.exists():
        raise KfError(f"{path} does not exist; run `kf folds` first")
    df = read_csv(path, "id")
    _require_columns(df, FOLDS_COLUMNS, path)
    _require_unique_ids(df, path)
    for column, row in _bad_labels(df, kind):
        raise KfError(f"{path} line {row + 2}: {column} = {df[column].iat[row]!r} is not valid; "
                      "remake the file with `kf folds --force`")
    if kind == "multilabel":  # an image without labels is an empty cell
        df["target"] = df["target"].fillna("")
    df = df.astype({"fold": int, "target": _TARGET_TYPE[kind]})
    numbers = sorted(df["fold"].unique().tolist())
    if len(numbers) < 2 or numbers != list(range(len(numbers))):
        shown = numbers if len(numbers) <= 10 else [*numbers[:10], "..."]
        raise KfError(f"{path}: folds {shown} are not numbered 0 to k-1 with k of at least 2; "
                      "remake the file with `kf folds --force`")
    return df


_TARGET_TYPE = {"binary": int, "multiclass": int, "multilabel": str, "regression": float}
_TARGET_OK = {"binary": lambda v: v.isin([0, 1]) & (v % 1 == 0),
              "multiclass": lambda v: (v >= 0) & (v % 1 == 0),
              "regression": lambda v: np.isfinite(v)}


def _bad_labels(df: pd.DataFrame, kind: str = "binary") -> list[tuple[str, int]]:
    """(column, first bad row) of the `fold` (whole numbers from 0) and `target` (as the task
    holds it; any text for multilabel) columns of a folds or OOF table."""
    out = []
    checks = [("fold", lambda v: (v >= 0) & (v % 1 == 0))]
    if kind != "multilabel":
        checks.append(("target", _TARGET_OK[kind]))
    for column, ok in checks:
        values = pd.to_numeric(df[column], errors="coerce")
        bad = values.isna() | ~ok(values)
        if bad.any():
            out.append((column, int(bad.to_numpy().argmax())))
    return out


# --- predictions ---------------------------------------------------------------------------
def check_probabilities(pred, where: str) -> None:
    """Refuse NaN, infinite or out-of-[0, 1] predictions, naming how many and where."""
    raw = pd.Series(np.asarray(pred).ravel())
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)  # text: NaN
    bad = ~np.isfinite(values) | (values < 0) | (values > 1)
    if bad.any():
        first = raw[bad][:5].tolist()
        raise KfError(
            f"{where}: {int(bad.sum())} prediction(s) are NaN or outside [0, 1] (first: {first})"
        )


WIDE = ("multiclass", "multilabel")  # tasks whose predictions have one column per class
ROW_SUM_TOLERANCE = 1e-3  # a multi-class row of probabilities sums to 1 within this


def pred_columns(kind: str = "binary", classes: tuple[str, ...] | list[str] = (),
                 base: str = "pred") -> list[str]:
    """The prediction column(s) called `base` of a task: `base` for binary and regression,
    `base:<class>` for each class of a multi-class or multi-label task."""
    return [f"{base}:{c}" for c in classes] if kind in WIDE else [base]


def classes_of(df: pd.DataFrame) -> list[str]:
    """The classes a prediction file's `pred:<class>` columns name, in file order ([] when
    it has one `pred` column)."""
    return [c.removeprefix("pred:") for c in df.columns if str(c).startswith("pred:")]


def check_predictions(df: pd.DataFrame, columns: list[str], kind: str, where: str) -> None:
    """Predictions as the task makes them: finite numbers (regression), else probabilities
    in [0, 1], whose rows sum to 1 for a multi-class task."""
    if kind == "regression":
        values = pd.to_numeric(df[columns[0]], errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(values).all():
            raise KfError(f"{where}: {int((~np.isfinite(values)).sum())} prediction(s) are "
                          "NaN, infinite or not numbers")
        return
    for col in columns:
        check_probabilities(df[col], f"{where} column {col}" if len(columns) > 1 else where)
    if kind == "multiclass":
        sums = df[columns].to_numpy(dtype=float).sum(axis=1)
        off = np.abs(sums - 1) > ROW_SUM_TOLERANCE
        if off.any():
            row = int(off.argmax())
            raise KfError(f"{where}: row {row + 1} (id {df['id'].iat[row]!r}) sums to "
                          f"{sums[row]:.4f}, not 1; {int(off.sum())} such row(s) (a multi-class "
                          "row holds one probability per class)")


def write_oof(path: str | Path, df: pd.DataFrame, kind: str = "binary",
              classes: tuple[str, ...] | list[str] = ()) -> None:
    """Write OOF predictions: id, target, fold and the task's prediction column(s)."""
    columns = pred_columns(kind, classes)
    _validate_oof(df, path, kind, columns)
    atomic.write_parquet(path, df[[*OOF_COLUMNS[:3], *columns]].reset_index(drop=True))


def read_oof(path: str | Path, kind: str = "binary") -> pd.DataFrame:
    """OOF predictions of a `kind` task (the width read from the file's columns)."""
    path = Path(path)
    if not path.exists():
        raise KfError(f"{path} does not exist")
    df = read_parquet(path, _rebuild_hint(path))
    columns = pred_columns(kind, classes_of(df))
    if kind in WIDE and not classes_of(df):
        raise KfError(f"{path} holds one prediction column, not one per class: it is not a "
                      f"{kind} run's; {_rebuild_hint(path)}")
    _validate_oof(df, path, kind, columns)
    df["id"] = df["id"].astype(str)
    if kind == "multilabel":
        df["target"] = df["target"].fillna("")
    return df.astype({"fold": int, "target": _TARGET_TYPE[kind]} | dict.fromkeys(columns, float))


def _validate_oof(df: pd.DataFrame, path, kind: str, columns: list[str]) -> None:
    _require_columns(df, [*OOF_COLUMNS[:3], *columns], path)
    _require_unique_ids(df, path)
    for column, row in _bad_labels(df, kind):
        raise KfError(f"{path} row {row + 1}: {column} = {df[column].iat[row]!r} is not valid; "
                      f"{_rebuild_hint(Path(path))}")
    check_predictions(df, columns, kind, str(path))


def test_pred_columns(n_folds: int) -> list[str]:
    return [f"pred_fold{k}" for k in range(n_folds)]


def write_test_preds(path: str | Path, df: pd.DataFrame, kind: str = "binary",
                     classes: tuple[str, ...] | list[str] = ()) -> None:
    """Write test predictions: `id`, optional per-fold columns (`pred_fold<k>`, or
    `pred_fold<k>:<class>`) and the task's `pred` column(s)."""
    _check_test_preds(df, path, kind, pred_columns(kind, classes))
    atomic.write_parquet(path, df.reset_index(drop=True))


def read_test_preds(path: str | Path, kind: str = "binary") -> pd.DataFrame:
    """Test predictions of a `kind` task (the width read from the file's columns)."""
    path = Path(path)
    if not path.exists():
        raise KfError(f"{path} does not exist")
    df = read_parquet(path, _rebuild_hint(path))
    _check_test_preds(df, path, kind, pred_columns(kind, classes_of(df)))
    df["id"] = df["id"].astype(str)
    return df.astype({c: float for c in df.columns if c.startswith("pred")})


def _check_test_preds(df: pd.DataFrame, path, kind: str, columns: list[str]) -> None:
    """The id and prediction columns present, ids unique, every prediction column (the
    mean's and each fold's) valid for the task."""
    _require_columns(df, ["id", *columns], path)
    _require_unique_ids(df, path)
    check_predictions(df, columns, kind, str(path))
    folds = sorted({c.split(":")[0] for c in df.columns if c.startswith("pred_fold")})
    for fold in folds:
        per_fold = [c.replace("pred", fold, 1) for c in columns]
        _require_columns(df, per_fold, path)
        check_predictions(df, per_fold, kind, f"{path} {fold}")


# --- run metadata --------------------------------------------------------------------------
def write_run(ws: Workspace, record: RunRecord) -> None:
    atomic.write_json(ws.run_json(record.name), record.to_dict())


def read_run(ws: Workspace, run: str) -> RunRecord:
    """The record of run `run`, of any schema version written so far (kfold.record)."""
    path = ws.run_json(run)
    if not _present(path):
        known = ", ".join(list_runs(ws)) or "none"
        raise KfError(f"no run named {run!r} ({path} missing); known runs: {known}")
    fix = (f"run `kf train --name {run}` with the run's settings again: it reuses the "
           "finished folds and rewrites run.json")
    raw = read_json(path, fix)
    try:
        record = RunRecord.from_dict(raw)  # its config parsed: retrain and explain rebuild it
    except (ValueError, TypeError, KeyError, AttributeError, KfError) as exc:
        raise KfError(f"{path} is damaged (not a run record: {exc}); {fix}") from None
    if record.name != run:
        raise KfError(f"{path} is damaged (it names run {record.name!r}, not {run!r}); "
                      f"rename the folder back to models/{record.name}, or {fix}")
    return record


def update_run(ws: Workspace, run: str, **changes) -> RunRecord:
    """Re-read run `run`, set `changes` (record fields), write it back: a later command
    (retrain, explain) keeps whatever else was written meanwhile."""
    record = dataclasses.replace(read_run(ws, run), **changes)
    write_run(ws, record)
    return record


# --- damaged files -------------------------------------------------------------------------
def read_parquet(path: Path, fix: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        first = first_line(exc, 120)
        raise KfError(f"{path} is damaged ({first}); {fix}") from None


def _rebuild_hint(path: Path) -> str:
    """What rebuilds a prediction file of oof/: its run (fold files) or its stack."""
    name = path.name[: -len(".parquet")].removesuffix(".test").removesuffix(".full")
    if name.startswith("stack-"):
        return f"run `kf stack` again to rewrite {name}'s files"
    if path.name.endswith(".full.test.parquet"):
        return f"run `kf retrain --run {name}` again to rewrite it"
    return (f"run `kf train --name {name}` with the run's settings again: it rebuilds the "
            "file from the finished folds without training them")


def list_runs(ws: Workspace) -> list[str]:
    """Names of runs with a run.json, sorted."""
    if not ws.models_dir.is_dir():
        return []
    return sorted(p.name for p in ws.models_dir.iterdir()
                  if NAME.fullmatch(p.name) and _present(p / "run.json"))


def _present(path: Path) -> bool:
    """Whether anything stands at `path`: a file, a folder or a symlink, even a broken one
    (a reader then names what is wrong with it instead of not seeing it)."""
    return path.exists() or path.is_symlink()


def list_oof_runs(ws: Workspace) -> list[str]:
    """Names of every OOF file in `oof/` (runs and stacks), sorted."""
    if not ws.oof_dir.exists():
        return []
    return sorted(
        p.name[: -len(".parquet")]
        for p in ws.oof_dir.glob("*.parquet")
        if not p.name.endswith(".test.parquet") and NAME.fullmatch(p.name)
    )


# --- alignment of several runs -------------------------------------------------------------
@dataclass(frozen=True)
class Contest:
    """What a run predicts and is scored by: its record's task, classes (prediction-column
    order) and metric. Runs are compared or blended side by side only within one contest."""

    task: str = "binary"
    classes: tuple[str, ...] = ()
    metric: str = "auc"

    @property
    def binary_auc(self) -> bool:
        """The contest kf handled before tasks: binary, scored by ROC AUC."""
        return self.task == "binary" and self.metric == "auc"


def contest_of(ws: Workspace, run: str) -> Contest:
    """A run's contest from its run.json; a stack's (no run.json) from its submission
    sidecar's lineage; a file with neither, or written before tasks: binary AUC."""
    if ws.run_json(run).exists():
        record = read_run(ws, run)
        return Contest(record.task, tuple(record.classes), record.metric)
    sidecar = ws.submission_path(run).with_suffix(".json")
    lineage = read_json(sidecar, "run `kf stack` again").get("lineage", {}) \
        if sidecar.exists() else {}
    if not isinstance(lineage, dict) or "task" not in lineage:
        return Contest()
    return Contest(str(lineage["task"]), tuple(lineage.get("classes", ())),
                   str(lineage.get("metric", "auc")))


def check_same_contest(ws: Workspace, runs: list[str]) -> Contest:
    """The contest every run in `runs` shares; a KfError naming two runs that differ in
    task, classes (or their order) or metric. Unnamed classes (a binary record written
    before tasks, a binary AUC stack) agree with any."""
    if not runs:
        return Contest()
    contests = {run: contest_of(ws, run) for run in runs}
    first, base = runs[0], contests[runs[0]]
    for run, other in contests.items():
        for what in ("task", "classes", "metric"):
            a, b = getattr(base, what), getattr(other, what)
            if a != b and not (what == "classes" and not (a and b)):
                shown = (list(a), list(b)) if what == "classes" else (a, b)
                raise KfError(f"runs {first!r} and {run!r} differ in {what} ({shown[0]} vs "
                              f"{shown[1]}); stack or compare runs of one contest only")
    return base


@dataclass(frozen=True)
class OofStack:
    """Several runs' OOF predictions on the same rows: `rows` (id, target, fold, sorted by
    id) and `preds` (n, runs, C): C class columns in the contest's class order, 1 for a
    binary or regression run."""

    runs: list[str]
    contest: Contest
    rows: pd.DataFrame
    preds: np.ndarray

    @property
    def fingerprint(self) -> str:
        return folds_fingerprint(self.rows)


def load_oof_stack(ws: Workspace, runs: list[str]) -> OofStack:
    """OOF predictions of several runs of one contest (`check_same_contest`), aligned by id.

    Refuses runs that differ in ids, targets or fold split, or a file whose class columns
    are not its contest's, naming the runs (or the file)."""
    if not runs:
        raise KfError("no runs to load; train one with `kf train` first")
    contest = check_same_contest(ws, runs)
    columns = pred_columns(contest.task, contest.classes)
    frames = {}
    for run in runs:
        df = read_oof(ws.oof_path(run), contest.task)
        if contest.task in WIDE and classes_of(df) != list(contest.classes):
            raise KfError(f"{ws.oof_path(run)}: class columns {classes_of(df)} are not the "
                          f"run's classes {list(contest.classes)}; {_rebuild_hint(ws.oof_path(run))}")
        frames[run] = df.sort_values("id").reset_index(drop=True)
    rows = _aligned_rows(frames)
    preds = np.stack([frames[r][columns].to_numpy(dtype=float) for r in runs], axis=1)
    return OofStack(list(runs), contest, rows, preds)


def load_aligned_oof(ws: Workspace, runs: list[str]) -> pd.DataFrame:
    """OOF predictions of several binary runs side by side: id, target, fold, then one
    column per run.

    Refuses runs that differ in ids, targets or fold split, naming the runs that differ.
    """
    if not runs:
        raise KfError("no runs to load; train one with `kf train` first")
    check_binary_runs(ws, runs)
    frames = {run: read_oof(ws.oof_path(run)).sort_values("id").reset_index(drop=True)
              for run in runs}
    out = _aligned_rows(frames)
    for run, df in frames.items():
        out[run] = df["pred"].values
    return out


def _aligned_rows(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """id, target, fold of the first run's (id-sorted) frame, once every frame has the same
    ids, targets and fold split; else a KfError naming the first run and the one differing."""
    first_run, base = next(iter(frames.items()))
    base_fp = folds_fingerprint(base)
    for run, df in frames.items():
        if len(df) != len(base) or not (df["id"].values == base["id"].values).all():
            missing = sorted(set(base["id"]) ^ set(df["id"]))[:5]
            raise KfError(
                f"runs {first_run!r} and {run!r} have different ids "
                f"({len(base)} vs {len(df)} rows; first differing: {missing})"
            )
        if not (df["target"].values == base["target"].values).all():
            raise KfError(f"runs {first_run!r} and {run!r} have different targets")
        if folds_fingerprint(df) != base_fp:
            raise KfError(
                f"runs {first_run!r} and {run!r} were trained on different fold splits "
                f"({base_fp} vs {folds_fingerprint(df)}); retrain one with the same folds.csv"
            )
    return base[["id", "target", "fold"]].copy()


# --- helpers -------------------------------------------------------------------------------
def check_binary_runs(ws: Workspace, runs: list[str]) -> None:
    """Runs side by side one column each (the ROC plots, kf plan's outlook, a packaged
    stack): binary runs only (a run of another task has a column per class, or numbers)."""
    for run in runs:
        if ws.run_json(run).exists():
            task = read_run(ws, run).task
            if task != "binary":
                raise KfError(f"run {run!r} is a {task} run; this comparison reads binary "
                              "runs only so far: submit its own submissions/" + f"{run}.csv")


def _require_columns(df: pd.DataFrame, columns: list[str], path) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KfError(f"{path}: missing column(s) {missing}; found {list(df.columns)}")


def _require_unique_ids(df: pd.DataFrame, path) -> None:
    dup = df["id"][df["id"].duplicated()]
    if len(dup):
        raise KfError(f"{path}: {len(dup)} duplicate id(s), first: {dup.head(5).tolist()}")
