"""`kf plan`: which candidates to spend today's slots on, and which two to select at the end.

Every score is the contest's metric (`kfold.submission.contest_metric`), ranked in its
direction (the lowest log loss first). Unsubmitted candidates are ranked by their expected
private score: for AUC the mean private AUC of the shake-up simulation of their OOF
predictions (kfold.kaggle.outlook); for any other metric their CV, with its paired bootstrap
interval over the OOF rows (not simulated); both moved by the level scored submissions show
the test set sits at; their CV (plus that level) when they have no OOF predictions. Beside
it the plan shows
- how different its predictions are from everything already submitted: 1 - the highest
  Spearman correlation with a submitted file (AUC only sees the order, so rank correlation).
  A near-copy of a submitted file teaches nothing new about the public leaderboard and
  spends a slot for the same score: near-copies go last, and ties go to the more different;
- the public score predicted by a least-squares line of public score on CV over past scored
  submissions, with a 95% prediction interval.

Final selections: Kaggle scores the private part of the test set, which the public score
does not see, so the first pick is the best expected private score (for a scored file: given
its public score, as the simulation relates the two parts); the second, a hedge, is the best
expected private score among the files least correlated with the first. A public score far
outside what its CV predicts is flagged: more than luck, a leak or a train/test shift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kfold.kaggle.client import KaggleClient
from kfold.kaggle.compare import read_preds, spearman
from kfold.kaggle.flow import competition_of, is_live, make_client, open_ledger, register_candidates
from kfold.kaggle.outlook import BootstrapOutlook, Expectation, Outlook, candidate_outlook
from kfold.kaggle.quota import Quota, read_quota
from kfold.scoring import Metric, get_metric
from kfold.submission import content_path, contest_metric
from kfold.workspace import Workspace

NEAR_COPY = 0.995  # Spearman above this: too close to hedge with, and of low value to submit
NOT_A_HEDGE = 0.005  # P(second beats first) below this (0.00 as shown): no hedge at all


@dataclass(frozen=True)
class Fit:
    n: int
    slope: float
    intercept: float
    spread: float  # residual standard deviation (or of public - cv with < 3 points)
    cv_mean: float = float("nan")
    sxx: float = 0.0  # sum of squared CV deviations (0: offset-only fit)
    bounds: tuple[float, float] = (0.0, 1.0)  # the metric's range (`Metric.bounds`)

    def predict(self, cv: float) -> float:
        """Predicted public score, kept inside the metric's range."""
        return float(np.clip(self.slope * cv + self.intercept, *self.bounds))

    def _t(self, level: float = 0.95) -> float:
        from scipy.stats import t

        dof = self.n - (2 if self.sxx > 0 else 1)
        return float(t.ppf(0.5 + level / 2, dof)) if dof > 0 else float("nan")

    def slope_interval(self) -> tuple[float, float] | None:
        """95% interval of the fitted slope (None for an offset-only fit, slope fixed at 1)."""
        if self.sxx <= 0 or not self.spread == self.spread:
            return None
        half = self._t() * self.spread / np.sqrt(self.sxx)
        return self.slope - half, self.slope + half

    def offset_interval(self) -> tuple[float, float] | None:
        """95% interval of the offset public - CV of an offset-only fit (None for a line, or
        with fewer than 2 scored submissions)."""
        if self.sxx > 0 or self.n < 2 or not self.spread == self.spread:
            return None
        half = self._t() * self.spread / np.sqrt(self.n)
        return self.intercept - half, self.intercept + half

    def interval(self, cv: float, level: float = 0.95) -> tuple[float, float] | None:
        """`level` prediction interval of a new candidate's public score at `cv` (None with
        fewer than 2 scored submissions), kept inside the metric's range."""
        if self.n < 2 or not self.spread == self.spread:
            return None
        lever = 1 + 1 / self.n + ((cv - self.cv_mean) ** 2 / self.sxx if self.sxx > 0 else 0.0)
        half = self._t(level) * self.spread * np.sqrt(lever)
        mid = self.slope * cv + self.intercept
        return float(np.clip(mid - half, *self.bounds)), float(np.clip(mid + half, *self.bounds))

    def shift(self, cv: float) -> float:
        """How far the test set's level sits from CV at `cv` (0 with no scored submission)."""
        return self.predict(cv) - cv if self.n else 0.0

    @property
    def text(self) -> str:
        if self.n == 0:
            return "no public score is known yet: public score not predicted, plan ranked by CV"
        slope, offset = self.slope_interval(), self.offset_interval()
        slope_text = (f"slope 95% [{slope[0]:.2f}, {slope[1]:.2f}]" if slope
                      else "offset only: slope fixed at 1")
        if offset:
            slope_text += f", offset 95% [{offset[0]:+.4f}, {offset[1]:+.4f}]"
        spread = (f"spread ±{self.spread:.4f}" if np.isfinite(self.spread)
                  else "spread unknown from one submission")
        return (f"public ≈ {self.slope:.3f} × CV {'+' if self.intercept >= 0 else '-'} "
                f"{abs(self.intercept):.4f}  (n={self.n}, {spread}, {slope_text})")


@dataclass
class PlanRow:
    name: str
    path: str
    cv: float | None
    diversity: float | None
    predicted_public: float | None
    today: bool = False
    expected_private: float | None = None  # simulated (None: no OOF predictions to simulate)
    private_low: float | None = None
    private_high: float | None = None
    public_low: float | None = None  # the fit's 95% prediction interval
    public_high: float | None = None


@dataclass
class Selection:
    name: str  # the name it was submitted under (a candidate's name when not submitted)
    cv: float | None
    public: float | None
    submitted: bool
    reason: str
    expected_private: float | None = None
    ref: int | None = None  # its Kaggle ref (None: not submitted yet)

    @property
    def label(self) -> str:
        return self.name if self.ref is None else f"{self.name} (ref {self.ref})"


@dataclass
class Plan:
    competition: str
    slots_left: int
    reset_utc: object
    fit: Fit
    rows: list[PlanRow]
    final: list[Selection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    quota: Quota | None = None
    metric: Metric = field(default_factory=lambda: get_metric("auc"))  # what CV and scores are


MIN_POINTS_FOR_SLOPE = 5  # fewer points give wild slopes (3 points once gave 8.6)


def fit_public_vs_cv(cv: np.ndarray, public: np.ndarray,
                     bounds: tuple[float, float] = (0.0, 1.0)) -> Fit:
    """Least squares public = a * cv + b; with fewer than MIN_POINTS_FOR_SLOPE points (or no
    CV spread) only the offset is fitted and a = 1: public is assumed to track CV.
    Predictions are kept inside `bounds`, the metric's range."""
    cv, public = np.asarray(cv, float), np.asarray(public, float)
    n = len(cv)
    if n == 0:
        return Fit(0, 1.0, 0.0, float("nan"), bounds=bounds)
    if n < MIN_POINTS_FOR_SLOPE or np.ptp(cv) < 1e-9:
        gap = public - cv
        spread = float(np.std(gap, ddof=1)) if n > 1 else float("nan")
        return Fit(n, 1.0, float(gap.mean()), spread, float(cv.mean()), bounds=bounds)
    slope, intercept = np.polyfit(cv, public, 1)
    resid = public - (slope * cv + intercept)
    return Fit(n, float(slope), float(intercept), float(np.sqrt((resid ** 2).sum() / (n - 2))),
               float(cv.mean()), float(((cv - cv.mean()) ** 2).sum()), bounds)


def make_plan(ws: Workspace, *, competition: str | None = None, slots_left: int | None = None,
              offline: bool = False, client: KaggleClient | None = None) -> Plan:
    """Today's slots from Kaggle (its list merged, its limits read) or, when it does not
    answer, from the ledger; candidates read from the bytes their sha names (a file rewritten
    since is not mistaken for what was scored)."""
    slug = competition_of(ws, competition)
    idc = ws.config.id_column
    metric = contest_metric(ws)
    factory = None if offline else ((lambda: client) if client is not None
                                    else (lambda: make_client(ws, slug)))
    quota, subs, cands = _read_ledger(ws, slug, factory)
    cand_by_sha = _Files(cands)
    submitted_sha = {s["sha256"] for s in subs if s["sha256"] and s["status"] != "error"}
    scored = [s for s in subs if s["status"] == "complete" and s["public_score"] is not None
              and s["cv_auc"] is not None]
    fit = fit_public_vs_cv(np.array([s["cv_auc"] for s in scored]),
                           np.array([s["public_score"] for s in scored]), metric.bounds)
    outlook, sim_notes = candidate_outlook(
        ws, {c["name"]: c["cv_auc"] for c in cands if c["live"]}, metric)

    def expect(c: dict | None, public: float | None = None) -> Expectation | None:
        if outlook is None or c is None or not c["live"] or c["name"] not in outlook:
            return None
        return outlook.expect(c["name"], public, fit.shift(c["cv_auc"] or 0.0))

    submitted_preds = [p for p in (read_preds(cand_by_sha[sha]["path"], idc)
                                   for sha in submitted_sha if sha in cand_by_sha)
                       if p is not None]
    pending = _one_per_content(c for c in cands if c["sha256"] not in submitted_sha and c["live"])
    rows = _rank_pending(pending, submitted_preds, fit, expect, idc, metric)
    left = quota.left if slots_left is None else slots_left
    for r in rows[:left]:
        r.today = True

    plan = Plan(slug, left, quota.reset_utc, fit, rows, quota=quota, metric=metric)
    plan.final = final_selections(subs, cand_by_sha, idc, fit, expect, outlook, metric)
    if not scored:
        plan.notes.append("no public score is known yet: candidates are ranked by CV (and its "
                          "simulated private outlook); submit to learn how the test set scores")
    plan.notes += far_outside_notes(scored, cand_by_sha, outlook, metric)
    plan.notes += sim_notes
    plan.notes += stack_gain_notes(cands, metric)
    near = [r.name for r in rows if r.diversity is not None and r.diversity < 1 - NEAR_COPY]
    if near:
        plan.notes.append(f"near-copies of submitted files (low value): {', '.join(near)}")
    if fit.n and fit.n < 3:
        plan.notes.append("fewer than 3 scored submissions: the fit is only an offset")
    return plan


def stack_gain_notes(cands: list[dict], metric: Metric | None = None) -> list[str]:
    """The best live stack's CV gain over its best input run (in the metric's direction: a
    lower log loss is a gain), with how often an AUC gain of that size held on test labels
    (kfold.stack.track); none without a stack candidate."""
    import json

    from kfold.stack.track import track_record

    metric = metric or get_metric("auc")
    stacks = [(c, json.loads(c["lineage"] or "null") or {}) for c in cands
              if c["live"] and c["cv_auc"] is not None]
    stacks = [(c, lin) for c, lin in stacks
              if lin.get("kind") == "stack" and lin.get("base_oof_auc")]
    if not stacks:
        return []
    cand, lineage = min(stacks, key=lambda p: metric.order(p[0]["cv_auc"]))
    base = list(lineage["base_oof_auc"].values())
    best_base = base[metric.best(base)]
    gain = cand["cv_auc"] - best_base if metric.higher_is_better else best_base - cand["cv_auc"]
    if metric.name != "auc":
        return [f"{cand['name']}: CV gain {gain:+.4f} {metric.title} over its best input run "
                f"({'lower' if not metric.higher_is_better else 'higher'} is better); no "
                f"track record for {metric.title} (kf bench --case survival measures AUC "
                "gains)"]
    return [f"{cand['name']}: CV gain {gain:+.4f} over its best input run; "
            f"{track_record(gain)}"]


def _read_ledger(ws: Workspace, slug: str, client_factory) -> tuple[Quota, list[dict], list[dict]]:
    """Today's quota, the finished submissions, and every candidate with `live` (its file on
    disk still holds the bytes its sha names) and `path` (where those bytes are now: the file,
    the archive, or None when it was overwritten before kf kept a copy)."""
    with open_ledger(ws) as led:
        register_candidates(ws, led)
        quota, _ = read_quota(ws, led, slug, client_factory=client_factory, lenient=True)
        subs = [dict(r) for r in led.submissions(slug) if r["status"] != "reserved"]
        cands = [dict(c) for c in led.candidates()]
    for c in cands:
        c["live"] = is_live(ws, c)
        c["path"] = content_path(ws, c["sha256"], c["path"])
        c["label"] = c["name"]
        if not c["live"] and c["path"] is not None:
            c["label"] = f"{c['name']} (earlier version, {Path(c['path']).name} in archive/)"
    return quota, subs, cands


class _Files(dict):
    """The candidates whose bytes are on disk, by sha256 (any one of a content's names: its
    path holds the bytes), and `own(s)`: the candidate a submission was submitted as (its
    content and name), whose OOF predictions simulate it."""

    def __init__(self, cands: list[dict]):
        kept = [c for c in cands if c["path"] is not None]
        super().__init__((c["sha256"], c) for c in kept)
        self.by_name = {(c["sha256"], c["name"]): c for c in kept}

    def own(self, s: dict) -> dict | None:
        return self.by_name.get((s["sha256"], s.get("name")))


def _one_per_content(cands) -> list[dict]:
    """The same bytes under several names (a stack that kept one run) take one slot: the
    first listed (best CV) stands for them."""
    kept: dict[str, dict] = {}
    for c in cands:
        kept.setdefault(c["sha256"], c)
    return list(kept.values())


def _rank_pending(pending: list[dict], submitted_preds: list, fit: Fit, expect,
                  idc: str, metric: Metric) -> list[PlanRow]:
    """The unsubmitted candidates as plan rows, by expected private score (best first in the
    metric's direction);
    near-copies of a submitted file last; ties to the more different, then the higher CV."""
    rows = []
    for c in pending:
        p = read_preds(c["path"], idc)
        corrs = [spearman(p, q) for q in submitted_preds] if p is not None else []
        corrs = [x for x in corrs if not np.isnan(x)]
        cv, e = c["cv_auc"], expect(c)
        band = fit.interval(cv) if cv is not None else None
        rows.append(PlanRow(
            c["label"], c["path"], cv,
            diversity=1.0 - max(corrs) if corrs else (1.0 if p is not None else None),
            predicted_public=fit.predict(cv) if fit.n and cv is not None else None,
            expected_private=e.private if e else (None if cv is None else cv + fit.shift(cv)),
            private_low=e.low if e else None, private_high=e.high if e else None,
            public_low=band[0] if band else None, public_high=band[1] if band else None))
    rows.sort(key=lambda r: _plan_order(r, metric))
    return rows


def _plan_order(r: PlanRow, metric: Metric) -> tuple:
    near_copy = r.diversity is not None and r.diversity < 1 - NEAR_COPY
    missing = -1.0  # unknown values rank last
    return (near_copy, metric.order(r.expected_private),
            -(r.diversity if r.diversity is not None else missing), metric.order(r.cv))


FAR_OUTSIDE_LEVEL = 0.9973  # the fit's prediction interval at +-3 SD (normal limit)
_LEAK = "more than public-set luck; a leak or a shift between the training and the test images?"


def far_outside_notes(scored: list[dict], cand_by_sha: _Files,
                      outlook: Outlook | BootstrapOutlook | None,
                      metric: Metric | None = None) -> list[str]:
    """A note for each scored submission whose public score is far outside what its CV
    predicts, judged by a fit of the other submissions (leave-one-out): by its own simulated
    public spread when it has OOF predictions, else by the fit's 99.7% prediction interval
    (which needs 2 other scored submissions and is wide with few)."""
    notes = []
    for i, s in enumerate(scored):
        c = cand_by_sha.own(s)
        others = [o for j, o in enumerate(scored) if j != i]
        loo = fit_public_vs_cv(np.array([o["cv_auc"] for o in others]),
                               np.array([o["public_score"] for o in others]),
                               (metric or get_metric("auc")).bounds)
        head = f"{_name(s, cand_by_sha)}: public {s['public_score']:.4f} is far outside what"
        if outlook is not None and outlook.simulated and c is not None and c["live"] \
                and c["name"] in outlook:
            e = outlook.expect(c["name"], s["public_score"], loo.shift(s["cv_auc"]))
            if e.far_outside:
                notes.append(f"{head} its CV predicts ({e.public_mean:.4f} ± "
                             f"{2 * e.public_sd:.4f}, {e.public_z:+.1f} SD): {_LEAK}")
            continue
        band = loo.interval(s["cv_auc"], FAR_OUTSIDE_LEVEL)
        if band is not None and not band[0] <= s["public_score"] <= band[1]:
            notes.append(f"{head} its CV {s['cv_auc']:.4f} predicts by the other "
                         f"{loo.n} scored submissions ({loo.predict(s['cv_auc']):.4f}, 99.7% "
                         f"[{band[0]:.4f}, {band[1]:.4f}]): {_LEAK}")
    return notes


def _name(s: dict, cand_by_sha: _Files) -> str:
    """A submission by the name it was submitted under and its Kaggle ref; a candidate not
    submitted by its name (and where its bytes are, for an earlier version)."""
    name = _plain_name(s, cand_by_sha)
    return name if s.get("ref") is None else f"{name} (ref {s['ref']})"


def _plain_name(s: dict, cand_by_sha: _Files) -> str:
    if s.get("ref") is not None:
        return s.get("name") or s.get("file") or s["sha256"][:10]
    c = cand_by_sha.own(s)
    return c["label"] if c else (s.get("name") or s["sha256"][:10])


def final_selections(subs: list[dict], cand_by_sha: _Files, idc: str, fit: Fit,
                     expect=lambda c, public=None: None,
                     outlook: Outlook | BootstrapOutlook | None = None,
                     metric: Metric | None = None) -> list[Selection]:
    """The two files to select for the private leaderboard: the best expected private score,
    then, as a hedge, the best expected private score among the files least correlated with
    the first (the less correlated half; near-copies never); best in the metric's direction."""
    metric = metric or get_metric("auc")
    ranked = _selection_pool(subs, cand_by_sha, fit, expect, metric)
    if not ranked:
        return []
    words = _Reasons(cand_by_sha, ranked, metric)
    first = ranked[0]
    out = [Selection(_plain_name(first, cand_by_sha), first["cv_auc"], first.get("public_score"),
                     first["submitted"], words.why_first(first), first["expected"],
                     first.get("ref"))]
    second, why = _hedge(ranked, cand_by_sha, idc, words)
    if second is not None:
        why += _second_caveats(second, first, words, fit, outlook)
        out.append(Selection(_plain_name(second, cand_by_sha), second["cv_auc"],
                             second.get("public_score"), second["submitted"], why,
                             second["expected"], second.get("ref")))
    return out


def _selection_pool(subs: list[dict], cand_by_sha: _Files, fit: Fit, expect,
                    metric: Metric) -> list[dict]:
    """The scored submissions (or, with fewer than two, the candidates too), each with its
    expectation `exp` and expected private score `expected`, best first."""
    pool: dict[str, dict] = {}
    for s in subs:
        if s["status"] == "complete" and s["sha256"] and s["cv_auc"] is not None:
            pool.setdefault(s["sha256"], {**s, "submitted": True})
    if len(pool) < 2:  # not enough scored submissions: fall back on candidates
        for sha, c in cand_by_sha.items():
            if sha not in pool and c["cv_auc"] is not None and c["live"]:
                pool[sha] = {"sha256": sha, "cv_auc": c["cv_auc"], "public_score": None,
                             "name": c["name"], "ref": None, "submitted": False}
    for s in pool.values():
        e = expect(cand_by_sha.own(s), s.get("public_score"))
        s["exp"] = e
        s["expected"] = e.private if e else s["cv_auc"] + fit.shift(s["cv_auc"])
    return sorted(pool.values(),
                  key=lambda s: (metric.order(s["expected"]), metric.order(s["cv_auc"])))


@dataclass
class _Reasons:
    """The words of the final picks' one-line explanations."""

    cand_by_sha: _Files
    ranked: list[dict]
    metric: Metric

    def __post_init__(self) -> None:
        self.by_public = min((s for s in self.ranked if s["public_score"] is not None),
                             key=lambda s: self.metric.order(s["public_score"]), default=None)

    def name(self, s: dict) -> str:
        return _name(s, self.cand_by_sha)

    @staticmethod
    def expected_text(s: dict) -> str:
        e = s["exp"]
        if e is None or not e.simulated:
            ranged = "" if e is None else f" [95% {e.low:.4f}, {e.high:.4f}: CV's bootstrap]"
            return f"expected private {s['expected']:.4f}{ranged} (CV, not simulated)"
        given = (" given its public score"
                 if s.get("public_score") is not None and not e.far_outside else "")
        return f"expected private {e.private:.4f} [95% {e.low:.4f}, {e.high:.4f}]{given}"

    def why_first(self, s: dict) -> str:
        text = f"best {self.expected_text(s)}, CV {s['cv_auc']:.5f}"
        best_public = self.by_public
        if best_public is not None and best_public["sha256"] != s["sha256"]:
            text += (f"; {self.name(best_public)} has the best public score "
                     f"({best_public['public_score']:.5f}) but a worse CV "
                     f"({best_public['cv_auc']:.5f}): the public board scores a small share of "
                     f"the test ids, CV all training ids, so CV is the less noisy guide and "
                     f"the private board follows it more often")
        elif s.get("public_score") is not None:
            text += f" and best public score ({s['public_score']:.5f}): both agree"
        if not s["submitted"]:
            text += _NOT_SCORED
        return text


_NOT_SCORED = "; not scored yet: submit it before the deadline to select it"


def _hedge(ranked: list[dict], cand_by_sha: _Files, idc: str,
           words: _Reasons) -> tuple[dict | None, str]:
    """The second pick and why: the best of the files whose Spearman correlation with the
    first is at most the median (near-copies never); the next best when no predictions can
    be compared or every other file is a near-copy."""
    first_c = cand_by_sha.get(ranked[0]["sha256"])
    first_p = read_preds(first_c["path"], idc) if first_c else None
    rhos = []
    for s in ranked[1:]:
        c = cand_by_sha.get(s["sha256"])
        p = read_preds(c["path"], idc) if c and first_p is not None else None
        rhos.append(spearman(first_p, p) if p is not None else float("nan"))
    known = [r for r in rhos if not np.isnan(r) and r < NEAR_COPY]
    median = float(np.median(known)) if known else float("nan")
    for s, rho in zip(ranked[1:], rhos):
        if np.isnan(rho) and not known:
            return s, f"next best {words.expected_text(s)}"
        if not np.isnan(rho) and rho < NEAR_COPY and rho <= median:
            return s, (f"best {words.expected_text(s)} among the files least correlated with "
                       f"the first (Spearman {rho:.3f}, median {median:.3f}): a hedge against a "
                       f"shake-up")
    if len(ranked) > 1:
        return ranked[1], (f"next best {words.expected_text(ranked[1])}; every other file is a "
                           f"near-copy of the first")
    return None, ""


def _second_caveats(second: dict, first: dict, words: _Reasons, fit: Fit,
                    outlook: Outlook | BootstrapOutlook | None) -> str:
    """What else the user should know of the hedge: its chance of beating the first on
    private, a public score that the CV fit calls luck, and whether it still needs a slot."""
    text = ""
    own = [words.cand_by_sha.own(s) for s in (first, second)]
    if outlook is not None and outlook.simulated \
            and all(c and c["live"] and c["name"] in outlook for c in own):
        p = outlook.p_beats(own[1]["name"], own[0]["name"])
        text += f"; P(it beats the first on private) = {p:.2f}"
        if p < NOT_A_HEDGE:
            text += (" in the simulation: not a hedge (it almost never beats the first), "
                     "only the next best file")
    if fit.n and second.get("public_score") is not None and fit.spread == fit.spread:
        gap = second["public_score"] - fit.predict(second["cv_auc"])
        if abs(gap) > 2 * max(fit.spread, 1e-6):
            text += (f"; its public score is {gap:+.4f} off the CV fit, more than twice the "
                     f"spread: likely public-set luck, trust CV")
    if not second["submitted"]:
        text += _NOT_SCORED
    return text
