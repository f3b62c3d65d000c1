"""`kf stack` for every contest other than binary AUC: multi-class, multi-label, regression,
and binary runs scored by another metric (binary AUC stays `kfold.stack.run`'s, unchanged).

The same guarantees as the binary stack: the runs share ids, targets, fold split and now
task, classes and metric (`artifacts.load_oof_stack`); each blender's OOF rows come from
`cross_val_predict` on the runs' folds (`PredefinedSplit`), its test rows from a refit on
every OOF row. Scores are the contest metric's, in its direction, each with a paired
bootstrap interval and the interval of its difference to the best single run
(`kfold.stats.bootstrap`). Files: `oof/stack-<blender>.parquet` and `.test.parquet` with the
runs' `pred:<class>` columns, and a submission in the sample submission's form.

Scale: rank-based metrics (the AUC family) see the fold scale, as binary AUC does; every
other metric scores probabilities (or values) as they are, so blenders see them raw — the
fold scale keeps order, not calibration (docs/stack.md).
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import PredefinedSplit, cross_val_predict

from kfold import artifacts, tracking
from kfold.artifacts import Contest, OofStack
from kfold.errors import KfError
from kfold.scoring import Metric, get_metric
from kfold.stack.inputs import flat, output_of, targets_of
from kfold.stack.run import (
    STACK_PREFIX,
    blended_test_files,
    check_sample_ids,
    check_scale,
    describe_runs,
    fold_scale_column,
    read_tests,
    refuse_overwriting_a_trained_run,
    refuse_overwriting_an_input,
    resolve_runs,
    writing,
)
from kfold.stack.task_blenders import TaskBlender, blenders_for, create_task_blender
from kfold.stats.bootstrap import BootInterval, paired_bootstrap
from kfold.stats.foldscale import columns_to_fold_scale, self_scale
from kfold.submission import write_submission
from kfold.workspace import Workspace


@dataclass(frozen=True)
class TaskScore:
    """One line of the leaderboard: a base run or a blender, in the contest's metric."""

    name: str
    kind: str  # "run" or "stack"
    score: float  # OOF score (rank metrics: on the fold scale)
    fold_mean: float
    fold_std: float
    diff: float  # score minus the best single run's (0 for that run)
    interval: BootInterval  # the score's and its difference's to the best run's intervals
    seconds: float | None = None
    learned: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TaskStackReport:
    runs: list[str]
    metric: str
    scores: list[TaskScore]  # best first, in the metric's direction
    scale: str
    test_source: str
    folds_fingerprint: str
    notes: list[str] = field(default_factory=list)
    written: dict[str, list[Path]] = field(default_factory=dict)

    @property
    def best_run(self) -> TaskScore:
        return next(s for s in self.scores if s.kind == "run")

    def score(self, name: str) -> TaskScore:
        for s in self.scores:
            if s.name in (name, STACK_PREFIX + name):
                return s
        raise KeyError(name)

    def verdict(self, s: TaskScore) -> str:
        """How a score stands against the best single run: the bootstrap interval of the
        difference holds 0 (within noise), or lies on the better or the worse side."""
        if s is self.best_run:
            return "best run"
        if s.interval.diff_low <= 0 <= s.interval.diff_high:
            return "within noise"
        better = s.diff > 0 if get_metric(self.metric).higher_is_better else s.diff < 0
        return "better" if better else "worse"


def parse_task_blenders(blenders, task: str, metric: Metric) -> list[str]:
    """Blender names for `task` from a list or comma-separated string; None or 'all': every
    blender that blends the task in `metric`; a named one that cannot is refused in one
    line."""
    if isinstance(blenders, str):
        blenders = [blenders]
    names = [m.strip() for item in blenders or ["all"] for m in item.split(",") if m.strip()]
    if not names or "all" in names:
        return blenders_for(task, metric)
    for name in names:
        create_task_blender(name, task, 2)
    return list(dict.fromkeys(names))


def default_scale(metric: Metric) -> str:
    """fold for rank-based metrics, raw for the others (module docstring)."""
    return "fold" if metric.rank_based else "raw"


def stack_task_runs(ws: Workspace, contest: Contest, runs: list[str] | None = None,
                    blenders=None, use_full: bool = False, write: bool = True,
                    scale: str | None = None) -> TaskStackReport:
    """`kfold.stack.run.stack_runs` for a contest of any width (module docstring)."""
    metric = get_metric(contest.metric, contest.task)
    names = parse_task_blenders(blenders, contest.task, metric)
    scale = _check_scale(metric, scale)
    if write:
        refuse_overwriting_a_trained_run(ws, names)
    tracker = tracking.for_workspace(ws) if write else None
    runs, notes = resolve_runs(ws, runs)
    if write:
        refuse_overwriting_an_input(runs, names)
    stack = artifacts.load_oof_stack(ws, runs)
    y, folds = targets_of(stack), stack.rows["fold"].to_numpy().astype(int)
    if len(np.unique(folds)) < 2:
        raise KfError(f"stacking needs at least 2 folds; the runs' OOF rows have "
                      f"{len(np.unique(folds))}")
    inputs, test_ids, T, source = task_matrices(ws, stack, use_full, scale)
    scored = {r: scored_output(metric, stack.preds[:, j, :], folds) for j, r in enumerate(runs)}
    shared = {"kind": "stack", "runs": runs, "task": contest.task,
              "classes": list(contest.classes), "metric": contest.metric, "scale": scale,
              "test_predictions": "full" if use_full else "fold-mean",
              "test_files": blended_test_files(ws, runs, use_full),
              "folds_fingerprint": stack.fingerprint, "run_info": describe_runs(ws, runs)}
    stacks, seconds, learned, written = {}, {}, {}, {}
    with writing(ws, names, notes) if write else nullcontext():
        for name in names:
            start = time.perf_counter()
            blender = create_task_blender(name, contest.task, len(contest.classes),
                                          contest.metric)
            oof, test, learned[name] = _blend(blender, inputs, y, folds, T, runs)
            stacks[name] = scored_output(metric, oof.reshape(len(oof), -1), folds)
            if write:
                lineage = {**shared, "blender": name, "params": blender.get_params(),
                           "learned": learned[name]}
                written[name] = _write_stack(ws, stack, STACK_PREFIX + name, oof, test_ids, test,
                                             metric.score_oof(y, stacks[name], folds), lineage)
            seconds[name] = time.perf_counter() - start
    scores = _scores(metric, y, folds, scored, {STACK_PREFIX + n: o for n, o in stacks.items()})
    scores = [_with(s, seconds, learned) for s in scores]
    if tracker is not None:
        _log(tracker, scores, runs, metric.name)
    return TaskStackReport(runs, metric.name, scores, scale, source, stack.fingerprint,
                           notes, written)


def _check_scale(metric: Metric, scale: str | None) -> str:
    """The scale blenders see: `scale`, else the metric's default; fold refused for a metric
    that scores probabilities or values (module docstring)."""
    scale = scale or default_scale(metric)
    check_scale(scale)
    if scale == "fold" and not metric.rank_based:
        raise KfError(f"--scale fold turns predictions into quantiles: it keeps their order, "
                      f"not their calibration, and {metric.title} scores "
                      f"{metric.needs}; use --scale raw")
    return scale


def _log(tracker, scores: list[TaskScore], runs: list[str], metric: str) -> None:
    """One tracked run per stack (MLflow, when the workspace has a tracking_uri), its
    scores in the contest's `metric`."""
    for s in scores:
        if s.kind == "stack":
            tracker.log_stack(s.name, s.name.removeprefix(STACK_PREFIX), runs, {
                "oof_score": s.score, "fold_score_mean": s.fold_mean,
                "fold_score_std": s.fold_std, "difference_to_best_run": s.diff}, metric)


def scored_output(metric: Metric, columns: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """What a run's (n, C) OOF columns are scored as: rank metrics on the fold scale (each
    column's quantiles within its fold), every other metric as written."""
    output = output_of(columns)
    return columns_to_fold_scale(output, folds) if metric.rank_based else output


def _scores(metric: Metric, y: np.ndarray, folds: np.ndarray, runs: dict[str, np.ndarray],
            stacks: dict[str, np.ndarray]) -> list[TaskScore]:
    """Every run's and stack's score, fold mean and std, bootstrap intervals against the
    best single run; best first."""
    run_scores = {r: metric.score_oof(y, o, folds) for r, o in runs.items()}
    best = list(runs)[metric.best(list(run_scores.values()))]
    outputs = {**runs, **stacks}
    intervals = paired_bootstrap(y, outputs, metric, reference=best)
    out = []
    for name, iv in zip(outputs, intervals):
        per_fold = [metric.score(y[folds == k], outputs[name][folds == k])
                    for k in np.unique(folds)]
        score = run_scores.get(name, metric.score_oof(y, outputs[name], folds))
        out.append(TaskScore(name, "stack" if name in stacks else "run", score,
                             float(np.nanmean(per_fold)), float(np.nanstd(per_fold)),
                             score - run_scores[best], iv))
    sign = -1 if metric.higher_is_better else 1
    return sorted(out, key=lambda s: sign * s.score)


def _with(s: TaskScore, seconds: dict, learned: dict) -> TaskScore:
    """A stack's score with its blender's seconds and what its refit learned."""
    name = s.name.removeprefix(STACK_PREFIX)
    return replace(s, seconds=seconds[name], learned=learned[name]) if s.kind == "stack" else s


def _blend(blender: TaskBlender, inputs: np.ndarray, y: np.ndarray, folds: np.ndarray,
           T: np.ndarray, runs: list[str]) -> tuple[np.ndarray, np.ndarray, dict]:
    """A blender's cross-fitted OOF output, its test output from a refit on every row, and
    what the refit learned (weights or coefficients keyed by run)."""
    method = "predict" if blender.task == "regression" else "predict_proba"
    X = flat(inputs)
    oof = cross_val_predict(blender, X, y, cv=PredefinedSplit(folds), method=method)
    if blender.task == "binary":
        oof = oof[:, 1]
    final = type(blender)(**blender.get_params()).fit(X, y)
    learned = final.learned()
    for key in ("weights", "coef"):
        if key in learned:
            learned = {**learned, key: dict(zip(runs, learned[key]))}
    return oof, final.output(flat(T)), learned


def task_matrices(ws: Workspace, stack: OofStack, use_full: bool,
                  scale: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(OOF inputs (n, runs, C), test ids, test inputs (m, runs, C), test source) as
    `kfold.stack.run.blend_matrices` makes them, class column by class column. Raw: the
    OOF rows and test predictions as written (a 100% retrain's too, except that for a
    rank-based metric it is put on its run's OOF distribution, as binary AUC does)."""
    task, runs = stack.contest.task, stack.runs
    columns = artifacts.pred_columns(task, stack.contest.classes)
    fold_mean = read_tests(ws, runs, full=False, kind=task) \
        if scale == "fold" or not use_full else None
    tests = read_tests(ws, runs, full=True, kind=task) if use_full else fold_mean
    ids = tests[runs[0]]["id"].to_numpy()
    if fold_mean is not None and not np.array_equal(fold_mean[runs[0]]["id"].to_numpy(), ids):
        raise KfError(f"run {runs[0]!r}: its 100%-retrain and fold models' test predictions "
                      f"hold different ids")
    check_sample_ids(ws, ids)
    folds = stack.rows["fold"].to_numpy().astype(int)
    source = "full-retrain" if use_full else ("fold models" if scale == "fold" else "fold-mean")
    if scale == "raw":
        T = np.stack([tests[r][columns].to_numpy(dtype=float) for r in runs], axis=1)
        if use_full and get_metric(stack.contest.metric).rank_based:
            for j, c in np.ndindex(*T.shape[1:]):
                T[:, j, c] = self_scale(T[:, j, c], stack.preds[:, j, c])
        return stack.preds, ids, T, f"{source}, raw"
    pairs = [[fold_scale_column(stack.preds[:, j, c], folds, _one_column(fold_mean[r], col),
                                _one_column(tests[r], col) if use_full else None)
              for c, col in enumerate(columns)] for j, r in enumerate(runs)]
    oof, test = (np.stack([np.column_stack([p[part] for p in row]) for row in pairs], axis=1)
                 for part in (0, 1))
    return oof, ids, test, f"{source}, fold scale"


def _one_column(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """A test frame's `column` (and its per-fold columns) renamed as a binary run's: `pred`,
    `pred_fold<k>` — what `fold_scale_column` reads."""
    suffix = column.removeprefix("pred")
    picked = {c: c.removesuffix(suffix) for c in frame.columns
              if c.startswith("pred") and c.endswith(suffix) and (suffix or ":" not in c)}
    return frame[list(picked)].rename(columns=picked)


def _write_stack(ws: Workspace, stack: OofStack, name: str, oof: np.ndarray,
                 test_ids: np.ndarray, test: np.ndarray, cv_score: float,
                 lineage: dict) -> list[Path]:
    task, classes = stack.contest.task, stack.contest.classes
    columns = artifacts.pred_columns(task, classes)
    oof_df = stack.rows.assign(**dict(zip(columns, oof.reshape(len(oof), -1).T)))
    artifacts.write_oof(ws.oof_path(name), oof_df, task, classes)
    test_df = pd.DataFrame({"id": test_ids,
                            **dict(zip(columns, test.reshape(len(test), -1).T))})
    artifacts.write_test_preds(ws.test_path(name), test_df, task, classes)
    sub = write_submission(ws, name, test_df, cv_score, lineage)
    return [ws.oof_path(name), ws.test_path(name), sub, sub.with_suffix(".json")]
