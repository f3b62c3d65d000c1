"""`kf plan`: which candidates to spend today's slots on, and which two to select at the end.

Three views of an unsubmitted candidate, each turned into a rank:

- its CV AUC (the most data behind it);
- how different its predictions are from everything already submitted: 1 - the highest
  Spearman correlation with a submitted file (AUC only sees the order, so rank correlation);
  a near-copy of a submitted file teaches nothing new about the public leaderboard;
- the public score predicted by a least-squares line of public score on CV over past scored
  submissions, with the residual standard deviation as its spread.

The order is by the mean of the three ranks (CV counted twice: it is the least noisy).

Final selections: Kaggle scores the private part of the test set, which the public score
does not see, so the first pick is the best CV; the second is the best CV among files whose
predictions are not near-copies of the first (a hedge), when one exists. When a file's public
score is much better than its CV suggests, the plan says why it still prefers CV.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kfold.kaggle.client import KaggleClient
from kfold.kaggle.compare import read_preds, spearman
from kfold.kaggle.flow import competition_of, is_live, make_client, open_ledger, register_candidates
from kfold.kaggle.quota import Quota, read_quota
from kfold.submission import content_path
from kfold.workspace import Workspace

NEAR_COPY = 0.995  # Spearman above this: too close to hedge with, and of low value to submit


@dataclass(frozen=True)
class Fit:
    n: int
    slope: float
    intercept: float
    spread: float  # residual standard deviation (or of public - cv with < 3 points)

    def predict(self, cv: float) -> float:
        """Predicted public score, kept inside the metric's range [0, 1]."""
        return float(np.clip(self.slope * cv + self.intercept, 0.0, 1.0))

    @property
    def text(self) -> str:
        if self.n == 0:
            return "no scored submissions yet: public score not predicted"
        return (f"public ≈ {self.slope:.3f} × CV {'+' if self.intercept >= 0 else '-'} "
                f"{abs(self.intercept):.4f}  (n={self.n}, spread ±{self.spread:.4f})")


@dataclass
class PlanRow:
    name: str
    path: str
    cv: float | None
    diversity: float | None
    predicted_public: float | None
    rank_cv: float
    rank_div: float
    rank_pub: float
    score: float
    today: bool = False


@dataclass
class Selection:
    name: str
    cv: float | None
    public: float | None
    submitted: bool
    reason: str


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


MIN_POINTS_FOR_SLOPE = 5  # fewer points give wild slopes (3 points once gave 8.6)


def fit_public_vs_cv(cv: np.ndarray, public: np.ndarray) -> Fit:
    """Least squares public = a * cv + b; with fewer than MIN_POINTS_FOR_SLOPE points (or no
    CV spread) only the offset is fitted and a = 1: public is assumed to track CV."""
    cv, public = np.asarray(cv, float), np.asarray(public, float)
    n = len(cv)
    if n == 0:
        return Fit(0, 1.0, 0.0, float("nan"))
    if n < MIN_POINTS_FOR_SLOPE or np.ptp(cv) < 1e-9:
        gap = public - cv
        spread = float(np.std(gap, ddof=1)) if n > 1 else float("nan")
        return Fit(n, 1.0, float(gap.mean()), spread)
    slope, intercept = np.polyfit(cv, public, 1)
    resid = public - (slope * cv + intercept)
    return Fit(n, float(slope), float(intercept), float(np.sqrt((resid ** 2).sum() / (n - 2))))


def _rank(values: list[float | None], higher_better: bool = True) -> np.ndarray:
    """1 = best; missing values rank last."""
    v = np.array([np.nan if x is None else x for x in values], float)
    s = pd.Series(-v if higher_better else v)
    return s.rank(method="average", na_option="bottom").to_numpy()


def make_plan(ws: Workspace, *, competition: str | None = None, slots_left: int | None = None,
              offline: bool = False, client: KaggleClient | None = None) -> Plan:
    """Today's slots from Kaggle (its list merged, its limits read) or, when it does not
    answer, from the ledger; candidates read from the bytes their sha names (a file rewritten
    since is not mistaken for what was scored)."""
    slug = competition_of(ws, competition)
    idc = ws.config.id_column
    factory = None if offline else ((lambda: client) if client is not None
                                    else (lambda: make_client(ws, slug)))
    with open_ledger(ws) as led:
        register_candidates(ws, led)
        quota, _ = read_quota(ws, led, slug, client_factory=factory, lenient=True)
        subs = [dict(r) for r in led.submissions(slug) if r["status"] != "reserved"]
        cands = [dict(c) for c in led.candidates()]
    left = quota.left if slots_left is None else slots_left
    for c in cands:  # where the exact bytes are now (None: overwritten before kf kept them)
        c["live"] = is_live(ws, c)
        c["path"] = content_path(ws, c["sha256"], c["path"])
        if not c["live"] and c["path"] is not None:
            c["name"] = f"{c['name']} (earlier version, {Path(c['path']).name} in archive/)"
    cand_by_sha = {c["sha256"]: c for c in cands if c["path"] is not None}
    submitted_sha = {s["sha256"] for s in subs if s["sha256"] and s["status"] != "error"}

    scored = [s for s in subs if s["status"] == "complete" and s["public_score"] is not None
              and s["cv_auc"] is not None]
    fit = fit_public_vs_cv(np.array([s["cv_auc"] for s in scored]),
                           np.array([s["public_score"] for s in scored]))

    submitted_preds = []
    for sha in submitted_sha:
        c = cand_by_sha.get(sha)
        p = read_preds(c["path"], idc) if c else None
        if p is not None:
            submitted_preds.append(p)

    pending = [c for c in cands if c["sha256"] not in submitted_sha and c["live"]]
    divs, pubs = [], []
    for c in pending:
        p = read_preds(c["path"], idc)
        corrs = [spearman(p, q) for q in submitted_preds] if p is not None else []
        corrs = [x for x in corrs if not np.isnan(x)]
        divs.append(1.0 - max(corrs) if corrs else (1.0 if p is not None else None))
        pubs.append(fit.predict(c["cv_auc"]) if fit.n and c["cv_auc"] is not None else None)
    cvs = [c["cv_auc"] for c in pending]
    r_cv, r_div, r_pub = _rank(cvs), _rank(divs), _rank(pubs if fit.n else cvs)
    score = (2 * r_cv + r_div + r_pub) / 4
    rows = [PlanRow(c["name"], c["path"], c["cv_auc"], d, p, a, b, e, s)
            for c, d, p, a, b, e, s in zip(pending, divs, pubs, r_cv, r_div, r_pub, score)]
    rows.sort(key=lambda r: (r.score, -(r.cv or -1)))
    for r in rows[:left]:
        r.today = True

    plan = Plan(slug, left, quota.reset_utc, fit, rows, quota=quota)
    plan.final = final_selections(subs, cand_by_sha, idc, fit)
    near = [r.name for r in rows if r.diversity is not None and r.diversity < 1 - NEAR_COPY]
    if near:
        plan.notes.append(f"near-copies of submitted files (low value): {', '.join(near)}")
    if fit.n and fit.n < 3:
        plan.notes.append("fewer than 3 scored submissions: the fit is only an offset")
    return plan


def final_selections(subs: list[dict], cand_by_sha: dict, idc: str, fit: Fit) -> list[Selection]:
    """The two files to select for the private leaderboard: best CV, then a diverse hedge."""
    pool: dict[str, dict] = {}
    for s in subs:
        if s["status"] == "complete" and s["sha256"] and s["cv_auc"] is not None:
            pool.setdefault(s["sha256"], {**s, "submitted": True})
    if len(pool) < 2:  # not enough scored submissions: fall back on candidates
        for sha, c in cand_by_sha.items():
            if sha not in pool and c["cv_auc"] is not None and c["live"]:
                pool[sha] = {"sha256": sha, "cv_auc": c["cv_auc"], "public_score": None,
                             "cand_name": c["name"], "submitted": False}
    ranked = sorted(pool.values(), key=lambda s: -s["cv_auc"])
    if not ranked:
        return []
    by_public = max((s for s in ranked if s["public_score"] is not None),
                    key=lambda s: s["public_score"], default=None)

    def name(s):
        c = cand_by_sha.get(s["sha256"])
        return c["name"] if c else (s.get("cand_name") or s.get("file") or s["sha256"][:10])

    def why_first(s):
        text = f"best CV ({s['cv_auc']:.5f})"
        if by_public is not None and by_public["sha256"] != s["sha256"]:
            text += (f"; {name(by_public)} has the best public score "
                     f"({by_public['public_score']:.5f}) but a lower CV "
                     f"({by_public['cv_auc']:.5f}): the public board scores a small share of "
                     f"the test ids, CV all training ids, so CV is the less noisy guide and "
                     f"the private board follows it more often")
        elif s.get("public_score") is not None:
            text += f" and best public score ({s['public_score']:.5f}): both agree"
        if not s["submitted"]:
            text += "; not scored yet: submit it before the deadline to select it"
        return text

    first = ranked[0]
    out = [Selection(name(first), first["cv_auc"], first.get("public_score"), first["submitted"],
                     why_first(first))]
    first_p = read_preds(cand_by_sha[first["sha256"]]["path"], idc) if first["sha256"] in cand_by_sha else None
    second, why = None, ""
    for s in ranked[1:]:
        c = cand_by_sha.get(s["sha256"])
        p = read_preds(c["path"], idc) if c else None
        rho = spearman(first_p, p) if first_p is not None and p is not None else float("nan")
        if np.isnan(rho) or rho < NEAR_COPY:
            second = s
            why = (f"next best CV ({s['cv_auc']:.5f}) that ranks the test set differently from "
                   f"the first (Spearman {rho:.3f}): a hedge against a shake-up"
                   if not np.isnan(rho) else f"next best CV ({s['cv_auc']:.5f})")
            break
    if second is None and len(ranked) > 1:
        second = ranked[1]
        why = f"next best CV ({second['cv_auc']:.5f}); every other file is a near-copy of the first"
    if second is not None:
        if fit.n and second.get("public_score") is not None and fit.spread == fit.spread:
            gap = second["public_score"] - fit.predict(second["cv_auc"])
            if abs(gap) > 2 * max(fit.spread, 1e-6):
                why += (f"; its public score is {gap:+.4f} off the CV fit, more than twice the "
                        f"spread: likely public-set luck, trust CV")
        if not second["submitted"]:
            why += "; not scored yet: submit it before the deadline to select it"
        out.append(Selection(name(second), second["cv_auc"], second.get("public_score"),
                             second["submitted"], why))
    return out
