"""`stack_runs`: check the runs, cross-fit every blender on their folds, refit, write artifacts.

For each blender `<blender>` it writes
- `oof/stack-<blender>.parquet`        id, target, fold, pred  (the fold-honest OOF: a stack is a run)
- `oof/stack-<blender>.test.parquet`   id, pred                (blender refitted on all OOF rows)
- `submissions/stack-<blender>.csv`    + sidecar with lineage and CV AUC.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kfold import artifacts, atomic, locks, tracking
from kfold.errors import KfError
from kfold.metrics import auc, average_ranks
from kfold.progress import Reporter
from kfold.stack.blenders import Blender, create_blender, list_blenders
from kfold.stack.cv import check_folds, cross_fit, fold_aucs
from kfold.stats import AucInterval, PairedDifference, auc_interval, paired_difference
from kfold.submission import sample_submission, write_submission
from kfold.workspace import Workspace, check_name

STACK_PREFIX = "stack-"


@dataclass(frozen=True)
class Score:
    """One line of the leaderboard: a base run or a blender."""

    name: str
    kind: str  # "run" or "stack"
    oof_auc: float
    fold_auc_mean: float
    fold_auc_std: float
    gain: float  # oof_auc minus the best single run's oof_auc
    seconds: float | None = None  # blenders only: cross-fit + refit + writing
    learned: dict = field(default_factory=dict)  # blenders only: weights etc. of the refit
    interval: AucInterval | None = None  # DeLong 95% interval of oof_auc
    vs_best: PairedDifference | None = None  # paired DeLong test against the best single run

    @property
    def within_noise(self) -> bool:
        """Its difference from the best single run is within DeLong's 95% interval of 0."""
        return self.vs_best is not None and self.vs_best.within_noise


@dataclass(frozen=True)
class StackReport:
    runs: list[str]
    scores: list[Score]  # sorted by OOF AUC, best first
    test_source: str  # "fold-mean" or "full-retrain (rank-normalised)"
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
    folds = artifacts.read_folds(ws.folds_path) if ws.folds_path.exists() else None
    notes: list[str] = []
    if runs is None:
        chosen = []
        for run in (r for r in present if with_stacks or not r.startswith(STACK_PREFIX)):
            other_split = _check_against_folds(ws, run, folds)
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
        other_split = _check_against_folds(ws, run, folds)
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


def _check_against_folds(ws: Workspace, run: str, folds: pd.DataFrame | None) -> str | None:
    """None if `run` matches folds.csv (or there is none); a note if it was trained on another
    split of the same rows; a KfError if its ids or targets differ from folds.csv."""
    if folds is None:
        return None
    oof = artifacts.read_oof(ws.oof_path(run))
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
def rank_to_reference(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Keep the order of `values` but give them the distribution of `reference`.

    Each value's mid-rank quantile u = (rank - 0.5) / n among `values` is replaced by the u-th
    quantile of `reference`. Used for 100%-retrain predictions: their order is the new model's,
    their scale is the one the blender was fitted on (the run's OOF predictions).
    """
    u = (average_ranks(values) - 0.5) / len(values)
    return np.quantile(np.asarray(reference, dtype=float), u)


def load_test_matrix(
    ws: Workspace, runs: list[str], oof: np.ndarray, use_full: bool
) -> tuple[np.ndarray, np.ndarray, str]:
    """(test ids, (n_test, n_runs) probabilities, description of the source).

    Default: each run's fold-mean test predictions (`pred` of `oof/<run>.test.parquet`), made
    by the same fold models as the OOF rows the blender is fitted on. `use_full`: every run's
    `oof/<run>.full.test.parquet`, rank-normalised onto that run's OOF distribution.
    """
    if use_full:
        lacking = [r for r in runs if not ws.full_test_path(r).exists()]
        if lacking:
            raise KfError(
                f"--use-full needs 100%-retrain predictions for every run; missing for {lacking} "
                f"(run `kf retrain --run NAME` or stack without --use-full)"
            )
        paths = {r: ws.full_test_path(r) for r in runs}
        source = "full-retrain (rank-normalised)"
    else:
        lacking = [r for r in runs if not ws.test_path(r).exists()]
        if lacking:
            raise KfError(f"no test predictions for run(s) {lacking} "
                          f"(expected {ws.oof_dir}/<run>.test.parquet)")
        paths = {r: ws.test_path(r) for r in runs}
        source = "fold-mean"
    frames = {r: artifacts.read_test_preds(p).sort_values("id").reset_index(drop=True)
              for r, p in paths.items()}
    first = runs[0]
    ids = frames[first]["id"].to_numpy()
    cols = []
    for j, run in enumerate(runs):
        df = frames[run]
        if len(df) != len(ids) or not (df["id"].to_numpy() == ids).all():
            differing = sorted(set(ids) ^ set(df["id"]))[:5]
            raise KfError(
                f"runs {first!r} and {run!r} have test predictions for different ids "
                f"({len(ids)} vs {len(df)} rows; first differing: {differing})"
            )
        pred = df["pred"].to_numpy(dtype=float)
        cols.append(rank_to_reference(pred, oof[:, j]) if use_full else pred)
    sample = sample_submission(ws)
    if sample is not None:  # refuse before anything is written, not at the first submission
        lacking = np.setdiff1d(sample[ws.config.id_column].astype(str).to_numpy(), ids)
        if len(lacking):
            raise KfError(f"the runs' test predictions lack {len(lacking)} id(s) of "
                          f"sample_submission.csv (first: {lacking[:5].tolist()})")
    return ids, np.column_stack(cols), source


# --- the whole stack -----------------------------------------------------------------------
def _score(name, kind, y, pred, folds, best: np.ndarray | None = None, **extra) -> Score:
    """`best`: the best single run's OOF predictions, for the gain and its paired test
    (None for the best run itself)."""
    per_fold = fold_aucs(y, pred, folds)
    oof_auc = auc(y, pred, single_class="raise")
    vs_best = None if best is None else paired_difference(y, pred, best)
    gain = 0.0 if best is None else oof_auc - auc(y, best, single_class="raise")
    return Score(name, kind, oof_auc, float(per_fold.mean()), float(per_fold.std(ddof=1)),
                 gain, interval=auc_interval(y, pred), vs_best=vs_best, **extra)


def stack_runs(
    ws: Workspace,
    runs: list[str] | None = None,
    blenders: list[str] | str | None = None,
    use_full: bool = False,
    write: bool = True,
) -> StackReport:
    """Stack runs with every blender in `blenders` and report them beside the base runs.

    Guarantees: the runs share ids, targets and fold split and hold no NaN or out-of-[0, 1]
    prediction, or a KfError names the runs and what differs; each blender's OOF row in fold k
    comes from a fit on the other folds only; test predictions come from the blender refitted
    on all OOF rows. `write=False` computes the report without writing artifacts.
    """
    blenders = parse_blenders(blenders)
    if write:
        _refuse_overwriting_a_trained_run(ws, blenders)
    tracker = tracking.for_workspace(ws) if write else None  # a bad store fails before work
    runs, notes = resolve_runs(ws, runs)
    if write:
        _refuse_overwriting_an_input(runs, blenders)
    aligned = artifacts.load_aligned_oof(ws, runs)
    X = aligned[runs].to_numpy(dtype=float)
    y = aligned["target"].to_numpy().astype(int)
    folds = aligned["fold"].to_numpy().astype(int)
    check_folds(y, folds)
    fingerprint = artifacts.folds_fingerprint(aligned)
    test_ids, T, source = load_test_matrix(ws, runs, X, use_full)

    top = int(np.argmax([auc(y, X[:, j], single_class="raise") for j in range(len(runs))]))
    best = X[:, top]
    base = [_score(r, "run", y, X[:, j], folds, best=None if j == top else best)
            for j, r in enumerate(runs)]
    shared = {  # the lineage every stack of this call shares
        "runs": runs, "base_oof_auc": {s.name: round(s.oof_auc, 6) for s in base},
        "test_predictions": source, "test_files": _test_files(ws, runs, use_full),
        "folds_fingerprint": fingerprint,
    }
    run_info = describe_runs(ws, runs)

    stacks, written = [], {}
    with _writing(ws, blenders, notes) if write else nullcontext():
        for blender_name in blenders:
            start = time.perf_counter()
            blender, oof, test, learned = _blend(blender_name, X, y, folds, T, runs)
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
                        "oof_auc": score.oof_auc, "fold_auc_mean": score.fold_auc_mean,
                        "fold_auc_std": score.fold_auc_std, "gain_over_best_run": score.gain})
            stacks.append(dataclasses.replace(score, seconds=time.perf_counter() - start))

    scores = sorted(base + stacks, key=lambda s: -s.oof_auc)
    return StackReport(runs, scores, source, fingerprint, notes, written)


def _refuse_overwriting_a_trained_run(ws: Workspace, blenders: list[str]) -> None:
    """A trained run named like a stack (made before stack names were reserved) is never
    overwritten by the stack."""
    trained = [STACK_PREFIX + b for b in blenders if ws.run_dir(STACK_PREFIX + b).exists()]
    if trained:
        raise KfError(f"{ws.models_dir / trained[0]} is a trained run, whose files this stack "
                      f"would overwrite; rename that run (its folder and oof/, submissions/ "
                      f"files) or choose other blenders with --blender")


def _refuse_overwriting_an_input(runs: list[str], blenders: list[str]) -> None:
    clash = [r for r in runs if r in {STACK_PREFIX + b for b in blenders}]
    if clash:
        raise KfError(f"--runs includes {clash}, which this stack would overwrite; "
                      f"leave it out or choose other blenders with --blender")


def _test_files(ws: Workspace, runs: list[str], use_full: bool) -> list[str]:
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
def _writing(ws: Workspace, blenders: list[str], notes: list[str]) -> Iterator[None]:
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
