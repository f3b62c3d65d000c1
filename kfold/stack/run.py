"""`stack_runs`: check the runs, cross-fit every blender on their folds, refit, write artifacts.

For each blender `<blender>` it writes
- `oof/stack-<blender>.parquet`        id, target, fold, pred  (the fold-honest OOF: a stack is a run)
- `oof/stack-<blender>.test.parquet`   id, pred                (blender refitted on all OOF rows)
- `submissions/stack-<blender>.csv`    + sidecar with lineage and CV AUC.

Blenders see the runs on the fold scale by default (`kfold.stats.foldscale`: OOF rows as
quantiles within their fold, test rows mapped through each fold model's validation
quantiles), or as raw probabilities with `scale="raw"`; docs/stack.md has the measurement.
Every score here is fold-normalised (the AUC on the fold scale), like `kf runs`'s.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from kfold import artifacts, atomic, locks, tracking
from kfold.errors import KfError
from kfold.metrics import auc
from kfold.progress import Reporter
from kfold.stack.blenders import Blender, create_blender, list_blenders
from kfold.stack.cv import check_folds, cross_fit
from kfold.stats import AucInterval, PairedDifference, auc_interval, paired_difference
from kfold.stats.foldscale import (
    fold_scores,
    map_test_to_fold_scale,
    self_scale,
    to_fold_scale,
)
from kfold.submission import sample_submission, write_submission
from kfold.workspace import Workspace, check_name

if TYPE_CHECKING:
    from kfold.stack.task_run import TaskStackReport

STACK_PREFIX = "stack-"
#: what blenders see: "fold" (each fold model's quantiles) or "raw" (probabilities as written)
SCALES = ("fold", "raw")
DEFAULT_SCALE = "fold"  # measured: docs/stack.md, "Fold-aware blending"


@dataclass(frozen=True)
class Score:
    """One line of the leaderboard: a base run or a blender."""

    name: str
    kind: str  # "run" or "stack"
    oof_auc: float  # fold-normalised: the AUC of the OOF rows on the fold scale (ranked by)
    fold_auc_mean: float
    fold_auc_std: float
    gain: float  # oof_auc minus the best single run's oof_auc
    seconds: float | None = None  # blenders only: cross-fit + refit + writing
    learned: dict = field(default_factory=dict)  # blenders only: weights etc. of the refit
    interval: AucInterval | None = None  # DeLong 95% interval of oof_auc
    vs_best: PairedDifference | None = None  # paired DeLong test against the best single run
    pooled_auc: float | None = None  # every OOF row pooled as written (mixes fold scales)
    drift: bool = False  # pooled far below fold-normalised: fold models on different scales

    @property
    def within_noise(self) -> bool:
        """Its difference from the best single run is within DeLong's 95% interval of 0."""
        return self.vs_best is not None and self.vs_best.within_noise


@dataclass(frozen=True)
class StackReport:
    runs: list[str]
    scores: list[Score]  # sorted by OOF AUC, best first
    test_source: str  # e.g. "fold-mean, fold scale" or "full-retrain, raw (rank-normalised)"
    folds_fingerprint: str
    notes: list[str] = field(default_factory=list)  # e.g. runs skipped for another fold split
    written: dict[str, list[Path]] = field(default_factory=dict)

    @property
    def best_run(self) -> Score:
        return max((s for s in self.scores if s.kind == "run"), key=lambda s: s.oof_auc)

    def score(self, name: str) -> Score:
        for s in self.scores:
            if s.name in (name, STACK_PREFIX + name):
                return s
        raise KeyError(name)


# --- choosing what to stack ----------------------------------------------------------------
def parse_blenders(blenders) -> list[str]:
    """Blender names from a list or a comma-separated string; None or 'all' means every one."""
    if blenders is None:
        return list_blenders()
    if isinstance(blenders, str):
        blenders = [blenders]
    names = [m.strip() for item in blenders for m in item.split(",") if m.strip()]
    if not names or "all" in names:
        return list_blenders()
    unknown = [m for m in names if m not in list_blenders()]
    if unknown:
        raise KfError(f"unknown blender(s) {unknown}; choose from {', '.join(list_blenders())} or all")
    return list(dict.fromkeys(names))


def resolve_runs(ws: Workspace, runs: list[str] | None, *, purpose: str = "stacking",
                 minimum: int = 2, with_stacks: bool = False) -> tuple[list[str], list[str]]:
    """The runs to stack (or to compare, for another `purpose`) and notes about runs left out.

    Default: every run in `oof/` except earlier stacks (unless `with_stacks`), keeping those
    trained on `folds.csv`'s split (when it exists) and noting the others. Named runs must exist and, when `folds.csv`
    exists, match its split, or it is an error. A run whose ids or targets differ from
    `folds.csv` is broken, not merely on another split: always an error.
    """
    present = artifacts.list_oof_runs(ws)
    kind = _contest(ws, runs).task
    folds = artifacts.read_folds(ws.folds_path, kind) if ws.folds_path.exists() else None
    notes: list[str] = []
    if runs is None:
        chosen = []
        for run in (r for r in present if with_stacks or not r.startswith(STACK_PREFIX)):
            other_split = _check_against_folds(ws, run, folds, kind)
            if other_split:
                notes.append(f"skipped {run!r}: {other_split}")
            else:
                chosen.append(run)
        if len(chosen) < minimum:
            raise KfError(
                f"{purpose} needs at least {_count(minimum)} on the current folds; found "
                f"{chosen or 'none'} in {ws.oof_dir}" + (f" ({'; '.join(notes)})" if notes else "")
            )
        return chosen, notes
    runs = expand_patterns(runs, present)
    missing = [r for r in runs if r not in present]
    if missing:
        raise KfError(f"no OOF predictions for run(s) {missing} in {ws.oof_dir}; "
                      f"known: {', '.join(present) or 'none'}")
    if len(runs) < minimum:
        raise KfError(f"{purpose} needs at least {_count(minimum)}; --runs named only {runs}")
    for run in runs:
        other_split = _check_against_folds(ws, run, folds, kind)
        if other_split:
            raise KfError(f"run {run!r} was {other_split}; retrain it on "
                          f"the current folds or leave it out of --runs")
    return runs, notes


def expand_patterns(runs: list[str], present: list[str]) -> list[str]:
    """Names as given, and each glob (`tune-*`, the trials of a kf tune study) as the runs in
    oof/ it matches, sorted; a glob matching none is an error."""
    out = []
    for given in (r.strip() for r in runs if r.strip()):
        if not any(c in given for c in "*?["):
            out.append(check_name(given))
            continue
        matched = fnmatch.filter(present, given)
        if not matched:
            raise KfError(f"--runs {given!r} matches no run with OOF predictions in oof/; "
                          f"known: {', '.join(present) or 'none'}")
        out += sorted(matched)
    return list(dict.fromkeys(out))


def _count(n: int) -> str:
    return {1: "one run", 2: "two runs"}.get(n, f"{n} runs")


def _check_against_folds(ws: Workspace, run: str, folds: pd.DataFrame | None,
                         kind: str = "binary") -> str | None:
    """None if `run` matches folds.csv (or there is none); a note if it was trained on another
    split of the same rows; a KfError if its ids or targets differ from folds.csv."""
    if folds is None:
        return None
    oof = artifacts.read_oof(ws.oof_path(run), kind)
    expected = folds.set_index(folds["id"].astype(str))
    ids = set(oof["id"])
    if ids != set(expected.index):
        lacking, extra = sorted(set(expected.index) - ids), sorted(ids - set(expected.index))
        raise KfError(
            f"run {run!r} has OOF rows for other ids than folds.csv ({len(oof)} vs "
            f"{len(expected)} rows; {len(lacking)} missing, first: {lacking[:5]}; "
            f"{len(extra)} unknown, first: {extra[:5]})"
        )
    differ = oof["target"].to_numpy() != expected.loc[oof["id"], "target"].to_numpy()
    if differ.any():
        raise KfError(f"run {run!r} has {int(differ.sum())} target(s) that differ from "
                      f"folds.csv (first id: {oof['id'][differ].iloc[0]!r})")
    fp, current = artifacts.folds_fingerprint(oof), artifacts.folds_fingerprint(folds)
    if fp != current:
        return f"trained on another fold split ({fp}) than folds.csv ({current})"
    return None


# --- test predictions ----------------------------------------------------------------------
def read_tests(ws: Workspace, runs: list[str], full: bool,
               kind: str = "binary") -> dict[str, pd.DataFrame]:
    """Every run's fold-mean (or, `full`, 100%-retrain) test predictions, sorted by id; a
    KfError names a missing file or runs that predicted different ids."""
    path = ws.full_test_path if full else ws.test_path
    lacking = [r for r in runs if not path(r).exists()]
    if lacking and full:
        raise KfError(f"--use-full needs 100%-retrain predictions for every run; missing for "
                      f"{lacking} (run `kf retrain --run NAME` or stack without --use-full)")
    if lacking:
        raise KfError(f"no test predictions for run(s) {lacking} "
                      f"(expected {ws.oof_dir}/<run>.test.parquet)")
    frames = {r: artifacts.read_test_preds(path(r), kind).sort_values("id").reset_index(drop=True)
              for r in runs}
    first, ids = runs[0], frames[runs[0]]["id"].to_numpy()
    for run, df in frames.items():
        if len(df) != len(ids) or not (df["id"].to_numpy() == ids).all():
            differing = sorted(set(ids) ^ set(df["id"]))[:5]
            raise KfError(
                f"runs {first!r} and {run!r} have test predictions for different ids "
                f"({len(ids)} vs {len(df)} rows; first differing: {differing})"
            )
    return frames


def blend_matrices(ws: Workspace, runs: list[str], X: np.ndarray, folds: np.ndarray,
                   use_full: bool, scale: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(OOF inputs, test ids, test inputs, description of the test source) for blenders.

    Test rows: each run's fold models' predictions (`oof/<run>.test.parquet`), made by the
    same fold models as the OOF rows, or with `use_full` its 100% retrain's. Scale "raw":
    the OOF rows as written, the fold mean, a retrain rank-normalised onto the run's OOF
    distribution. Scale "fold": see `fold_scale_column`.
    """
    fold_mean = read_tests(ws, runs, full=False) if scale == "fold" or not use_full else None
    tests = read_tests(ws, runs, full=True) if use_full else fold_mean
    ids = tests[runs[0]]["id"].to_numpy()
    if fold_mean is not None and not np.array_equal(fold_mean[runs[0]]["id"].to_numpy(), ids):
        raise KfError(f"run {runs[0]!r}: its 100%-retrain and fold models' test predictions "
                      f"hold different ids")
    check_sample_ids(ws, ids)
    if scale == "raw":
        T = [tests[r]["pred"].to_numpy(dtype=float) for r in runs]
        if use_full:
            T = [self_scale(t, X[:, j]) for j, t in enumerate(T)]
        return X, ids, np.column_stack(T), "full-retrain, raw" if use_full else "fold-mean, raw"
    pairs = [fold_scale_column(X[:, j], folds, fold_mean[r], tests[r] if use_full else None)
             for j, r in enumerate(runs)]
    source = "full-retrain" if use_full else "fold models"
    return (np.column_stack([p[0] for p in pairs]), ids, np.column_stack([p[1] for p in pairs]),
            f"{source}, fold scale")


def fold_scale_column(oof: np.ndarray, folds: np.ndarray, fold_mean: pd.DataFrame,
                      full: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """One run's OOF and test columns on the fold scale. Each OOF row becomes its quantile
    among its own fold's rows, each fold model's test prediction its quantile among that
    model's validation predictions, averaged over the fold models; the quantiles are then
    read off the run's fold-mean test predictions (the scale its submission has), so a
    blender keeps the run's calibration but not its folds' differences. One model's
    predictions (a retrain, or a stack: its test file has no fold columns) are put there by
    their own quantiles."""
    reference = fold_mean["pred"].to_numpy(dtype=float)
    columns = [f"pred_fold{int(k)}" for k in np.unique(folds)]
    if full is not None or not all(c in fold_mean for c in columns):
        one_model = (fold_mean if full is None else full)["pred"].to_numpy(dtype=float)
        test = self_scale(one_model, reference)
    else:
        test = map_test_to_fold_scale(oof, folds, fold_mean[columns].to_numpy(dtype=float),
                                      reference)
    return to_fold_scale(oof, folds, reference), test


def check_sample_ids(ws: Workspace, ids: np.ndarray) -> None:
    sample = sample_submission(ws)
    if sample is not None:  # refuse before anything is written, not at the first submission
        lacking = np.setdiff1d(sample[ws.config.id_column].astype(str).to_numpy(), ids)
        if len(lacking):
            raise KfError(f"the runs' test predictions lack {len(lacking)} id(s) of "
                          f"sample_submission.csv (first: {lacking[:5].tolist()})")


# --- the whole stack -----------------------------------------------------------------------
def _score(name, kind, y, pred, folds, best: np.ndarray | None = None, **extra) -> Score:
    """Scores of `pred` on the fold scale. `best`: the best single run's OOF predictions on
    the fold scale, for the gain and its paired test (None for the best run itself)."""
    scores = fold_scores(y, pred, folds)
    ranked = to_fold_scale(pred, folds)
    vs_best = None if best is None else paired_difference(y, ranked, best)
    gain = 0.0 if best is None else scores.normalised - auc(y, best, single_class="raise")
    return Score(name, kind, scores.normalised, scores.fold_mean, scores.fold_std, gain,
                 interval=auc_interval(y, ranked), vs_best=vs_best, pooled_auc=scores.pooled,
                 drift=scores.drift, **extra)


def stack_runs(
    ws: Workspace,
    runs: list[str] | None = None,
    blenders: list[str] | str | None = None,
    use_full: bool = False,
    write: bool = True,
    scale: str | None = None,
) -> StackReport | TaskStackReport:
    """Stack runs with every blender in `blenders` and report them beside the base runs.

    Guarantees: the runs share ids, targets and fold split and hold no NaN or out-of-[0, 1]
    prediction, or a KfError names the runs and what differs; each blender's OOF row in fold k
    comes from a fit on the other folds only; test predictions come from the blender refitted
    on all OOF rows. `write=False` computes the report without writing artifacts. `scale`:
    what the blenders see ("fold" or "raw", SCALES; None: DEFAULT_SCALE); the scores are
    fold-normalised either way. Runs of any other contest than binary AUC are stacked by
    `kfold.stack.task_run` (a `TaskStackReport`, scored in the contest's metric).
    """
    contest = _contest(ws, runs)
    if not contest.binary_auc:
        from kfold.stack.task_run import stack_task_runs

        return stack_task_runs(ws, contest, runs, blenders, use_full, write, scale)
    blenders = parse_blenders(blenders)
    scale = scale or DEFAULT_SCALE
    check_scale(scale)
    if write:
        refuse_overwriting_a_trained_run(ws, blenders)
    tracker = tracking.for_workspace(ws) if write else None  # a bad store fails before work
    runs, notes = resolve_runs(ws, runs)
    if write:
        refuse_overwriting_an_input(runs, blenders)
    aligned = artifacts.load_aligned_oof(ws, runs)
    X = aligned[runs].to_numpy(dtype=float)
    y = aligned["target"].to_numpy().astype(int)
    folds = aligned["fold"].to_numpy().astype(int)
    check_folds(y, folds)
    fingerprint = artifacts.folds_fingerprint(aligned)
    on_scale = np.column_stack([to_fold_scale(X[:, j], folds) for j in range(len(runs))])
    inputs, test_ids, T, source = blend_matrices(ws, runs, X, folds, use_full, scale)

    top = int(np.argmax([auc(y, on_scale[:, j], single_class="raise")
                         for j in range(len(runs))]))
    best = on_scale[:, top]
    base = [_score(r, "run", y, X[:, j], folds, best=None if j == top else best)
            for j, r in enumerate(runs)]
    notes += [drift_note(s) for s in base if s.drift]
    shared = {  # the lineage every stack of this call shares
        "runs": runs, "base_oof_auc": {s.name: round(s.oof_auc, 6) for s in base},
        "test_predictions": "full" if use_full else "fold-mean", "scale": scale,
        "test_files": blended_test_files(ws, runs, use_full), "folds_fingerprint": fingerprint,
    }
    run_info = describe_runs(ws, runs)

    stacks, written = [], {}
    with writing(ws, blenders, notes) if write else nullcontext():
        for blender_name in blenders:
            start = time.perf_counter()
            blender, oof, test, learned = _blend(blender_name, inputs, y, folds, T, runs)
            name = STACK_PREFIX + blender_name
            score = _score(name, "stack", y, oof, folds, best=best, learned=learned)
            if write:
                lineage = {"kind": "stack", "blender": blender_name,
                           "params": blender.get_params(), **shared, "learned": learned,
                           "run_info": run_info}
                written[blender_name] = _write_stack(ws, name, aligned, oof, test_ids, test,
                                                     lineage, cv_auc=score.oof_auc)
                if tracker is not None:
                    tracker.log_stack(name, blender_name, runs, {
                        "oof_auc": score.oof_auc, "pooled_auc": score.pooled_auc,
                        "fold_auc_mean": score.fold_auc_mean,
                        "fold_auc_std": score.fold_auc_std, "gain_over_best_run": score.gain})
            stacks.append(dataclasses.replace(score, seconds=time.perf_counter() - start))

    scores = sorted(base + stacks, key=lambda s: -s.oof_auc)
    return StackReport(runs, scores, source, fingerprint, notes, written)


def _contest(ws: Workspace, runs: list[str] | None) -> artifacts.Contest:
    """The contest of the named runs (those with OOF files), else (none named, or none of
    them there) of every file in oof/: an unknown name is then refused by `resolve_runs`."""
    present = artifacts.list_oof_runs(ws)
    named = None if runs is None else [r for r in expand_patterns(runs, present)
                                       if r in present]
    return artifacts.check_same_contest(ws, named or present)


def drift_note(s: Score) -> str:
    return (f"{s.name}: pooled OOF AUC {s.pooled_auc:.4f} is {s.oof_auc - s.pooled_auc:.4f} "
            f"below its fold-normalised {s.oof_auc:.4f}: its fold models put their "
            f"predictions on different scales (each is scored and blended on its own)")


def check_scale(scale: str) -> None:
    if scale not in SCALES:
        raise KfError(f"--scale {scale!r}: choose one of {', '.join(SCALES)}")


def refuse_overwriting_a_trained_run(ws: Workspace, blenders: list[str]) -> None:
    """A trained run named like a stack (made before stack names were reserved) is never
    overwritten by the stack."""
    trained = [STACK_PREFIX + b for b in blenders if ws.run_dir(STACK_PREFIX + b).exists()]
    if trained:
        raise KfError(f"{ws.models_dir / trained[0]} is a trained run, whose files this stack "
                      f"would overwrite; rename that run (its folder and oof/, submissions/ "
                      f"files) or choose other blenders with --blender")


def refuse_overwriting_an_input(runs: list[str], blenders: list[str]) -> None:
    clash = [r for r in runs if r in {STACK_PREFIX + b for b in blenders}]
    if clash:
        raise KfError(f"--runs includes {clash}, which this stack would overwrite; "
                      f"leave it out or choose other blenders with --blender")


def blended_test_files(ws: Workspace, runs: list[str], use_full: bool) -> list[str]:
    """The test prediction files blended, relative to the workspace (for the lineage)."""
    return [str((ws.full_test_path(r) if use_full else ws.test_path(r)).relative_to(ws.root))
            for r in runs]


class _Notes(Reporter):
    """A reporter that adds its lines to the stack report's notes."""

    def __init__(self, notes: list[str]) -> None:
        self.notes = notes

    def log(self, message: str) -> None:
        self.notes.append(message)


@contextmanager
def writing(ws: Workspace, blenders: list[str], notes: list[str]) -> Iterator[None]:
    """Hold the workspace's stack lock while writing (two `kf stack` processes would write
    the same files) and remove the temp files of a stack that was killed mid-write."""
    with locks.hold(ws.oof_dir / ".stack.lock", "kf stack", _Notes(notes)):
        names = [STACK_PREFIX + b for b in blenders]
        gone = atomic.remove_stray(ws.oof_dir, [p.name for n in names
                                                for p in (ws.oof_path(n), ws.test_path(n))])
        gone += atomic.remove_stray(ws.submissions_dir,
                                    [f"{n}{ext}" for n in names for ext in (".csv", ".json")])
        if gone:
            notes.append(f"removed {len(gone)} temp file(s) of an interrupted kf stack")
        yield


def _blend(blender_name: str, X: np.ndarray, y: np.ndarray, folds: np.ndarray, T: np.ndarray,
           runs: list[str]) -> tuple[Blender, np.ndarray, np.ndarray, dict]:
    """One blender: its out-of-fold predictions (row of fold k from a fit on the other folds),
    its test predictions from a refit on every row, and what that refit learned (weights or
    coefficients keyed by run)."""
    blender = create_blender(blender_name)
    oof = cross_fit(blender, X, y, folds)
    final = create_blender(blender_name).fit(X, y)
    test = final.predict_proba(T)
    learned = final.learned()
    if "weights" in learned or "coef" in learned:
        key = "weights" if "weights" in learned else "coef"
        learned = {**learned, key: dict(zip(runs, learned[key]))}
    return blender, oof, test, learned


def describe_runs(ws: Workspace, runs: list[str]) -> dict[str, dict]:
    """Model, backend and image size of each run that has a run.json (stacks have none).

    Only for lineage: runs of different backends or image sizes stack fine if folds match."""
    info = {}
    for run in runs:
        if not ws.run_json(run).exists():
            continue
        meta = artifacts.read_run(ws, run)
        info[run] = {"model": meta.model, "backend": meta.backend,
                     "image_size": meta.config.image_size}
    return info


def _write_stack(ws, name, aligned, oof, test_ids, test, lineage, cv_auc) -> list[Path]:
    oof_df = pd.DataFrame({"id": aligned["id"], "target": aligned["target"],
                           "fold": aligned["fold"], "pred": oof})
    artifacts.write_oof(ws.oof_path(name), oof_df)
    test_df = pd.DataFrame({"id": test_ids, "pred": test})
    artifacts.write_test_preds(ws.test_path(name), test_df)
    sub = write_submission(ws, name, test_df, cv_auc, lineage)
    return [ws.oof_path(name), ws.test_path(name), sub, sub.with_suffix(".json")]
