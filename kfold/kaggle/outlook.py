"""Expected private scores of submission candidates, from the shake-up simulation.

A candidate written by kf (a run or a stack) has OOF predictions under oof/<name>.parquet.
Simulating the competition's public/private split of a test set like the OOF rows gives, per
candidate, the joint spread of its public and private AUC. From it:

- the expected private score without a public score: the simulated private mean;
- with a public score: the private mean given that public score (the linear regression of
  private on public over the simulated splits: a lucky public part leaves a harder private
  part when both come from one test set), and its narrower interval;
- a public score far outside the simulated public spread: more than chance, a hint of a leak
  or of a shift between the training and the test images.

When scored submissions show that the test set sits at another level than CV (the public-vs-
CV fit), that level shift moves the public and the private means alike.

The simulation is of the AUC. A contest scored by another metric is not simulated: each
candidate's expected private score is its CV (moved by the same level shift) with the paired
bootstrap interval of its OOF score (`BootstrapOutlook`); that interval is over all training
rows, so the private part's own spread, on fewer rows, is wider; no P(beats), no public
score judged against a simulated spread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kfold import artifacts
from kfold.errors import KfError
from kfold.metrics import auc
from kfold.scoring import Metric
from kfold.stats.shakeup import Shakeup, simulate
from kfold.workspace import Workspace

FAR_OUTSIDE_Z = 3.0  # |public - simulated mean| beyond this many simulated SDs: not chance
SPLITS = 1000


@dataclass(frozen=True)
class Expectation:
    """A candidate's simulated outlook (AUC on the test set's parts)."""

    private: float  # expected private AUC (given its public score, when known)
    low: float  # 95% range of the private AUC
    high: float
    public_mean: float  # what its CV predicts for the public part
    public_sd: float
    public_z: float | None = None  # how far its observed public score is, in public SDs
    simulated: bool = True  # False: the CV's bootstrap interval, no shake-up simulation

    @property
    def far_outside(self) -> bool:
        return self.public_z is not None and abs(self.public_z) > FAR_OUTSIDE_Z


@dataclass(frozen=True)
class Outlook:
    sim: Shakeup
    simulated = True

    def __contains__(self, name: str) -> bool:
        return name in self.sim.names

    def expect(self, name: str, public: float | None = None, shift: float = 0.0) -> Expectation:
        """Expected private AUC of `name`; `public`: its observed public score; `shift`: the
        level of the test set against CV that scored submissions show (added to both parts,
        each split's AUC kept inside [0, 1]: a shift never carries a range past a perfect
        score)."""
        j = self.sim.names.index(name)
        pub = np.clip(self.sim.public[:, j] + shift, 0.0, 1.0)
        priv = np.clip(self.sim.private[:, j] + shift, 0.0, 1.0)
        sd_pub, sd_priv = float(pub.std()), float(priv.std())
        if public is None:
            lo, hi = np.percentile(priv, [2.5, 97.5])
            return Expectation(float(priv.mean()), float(lo), float(hi), float(pub.mean()), sd_pub)
        z = (public - pub.mean()) / sd_pub if sd_pub > 0 else 0.0
        if abs(z) > FAR_OUTSIDE_Z or sd_pub == 0:  # not chance: do not read luck into it
            lo, hi = np.percentile(priv, [2.5, 97.5])
            return Expectation(float(priv.mean()), float(lo), float(hi), float(pub.mean()),
                               sd_pub, float(z))
        rho = float(np.corrcoef(pub, priv)[0, 1]) if sd_priv > 0 else 0.0
        mean = priv.mean() + rho * sd_priv / sd_pub * (public - pub.mean())
        half = 1.959963984540054 * sd_priv * np.sqrt(max(1 - rho * rho, 0.0))
        return Expectation(float(min(mean, 1.0)), float(max(mean - half, 0.0)),
                           float(min(mean + half, 1.0)), float(pub.mean()), sd_pub, float(z))

    def p_beats(self, name: str, other: str) -> float:
        """P(name's private AUC > other's) over the simulated splits (ties: one half)."""
        return float(self.sim.p_beats(self.sim.names.index(other))[self.sim.names.index(name)])


@dataclass(frozen=True)
class BootstrapOutlook:
    """A contest not scored by AUC: each candidate's OOF score and its paired bootstrap
    interval (kfold.intervals), in place of a simulation."""

    scores: dict  # name -> kfold.intervals.Interval
    simulated = False

    def __contains__(self, name: str) -> bool:
        return name in self.scores

    def expect(self, name: str, public: float | None = None, shift: float = 0.0) -> Expectation:
        """The CV and its interval, moved by `shift`; a public score changes nothing (no
        simulation relates the two parts)."""
        iv = self.scores[name]
        return Expectation(iv.score + shift, iv.low + shift, iv.high + shift, iv.score + shift,
                           (iv.high - iv.low) / 3.92, simulated=False)


def candidate_outlook(ws: Workspace, candidates: dict[str, float | None],
                      metric: Metric | None = None,
                      n_splits: int = SPLITS) -> tuple[Outlook | BootstrapOutlook | None,
                                                       list[str]]:
    """Simulate every candidate (name -> CV AUC) whose OOF predictions are in oof/ and match
    its CV AUC (the file was made from them; fold-normalised, or pooled for a file written
    before kfold ranked by it), on the fold scale as `kf shakeup`; notes say who was left
    out and why. Any other `metric`: `bootstrap_outlook`."""
    if metric is not None and metric.name != "auc":
        return bootstrap_outlook(ws, candidates, metric)
    from kfold.competition import resolve_public_fraction, test_size

    notes, usable = [], []
    folds = artifacts.read_folds(ws.folds_path) if ws.folds_path.exists() else None
    for name, cv in candidates.items():
        try:
            path = ws.oof_path(name)
        except KfError:  # a file name that cannot be a run's: no OOF predictions
            continue
        if not path.exists():
            continue
        try:
            oof = artifacts.read_oof(path)
        except KfError as exc:
            notes.append(f"{name}: OOF file unreadable, ranked by CV only ({exc})")
            continue
        if cv is None:  # not written by kf, or edited since: oof/<name> did not make it
            notes.append(f"{name}: no CV known for this file (written or edited outside kf); "
                         f"not simulated from oof/{name}.parquet")
            continue
        from kfold.stats import fold_scores

        scores = fold_scores(oof["target"], oof["pred"], oof["fold"], metric=auc)
        if min(abs(scores.normalised - cv), abs(scores.pooled - cv)) > 1e-4:  # pooled: older
            notes.append(f"{name}: oof/{name}.parquet no longer matches the file's CV "
                         f"({cv:.5f}); ranked by CV only")
            continue
        if folds is not None and artifacts.folds_fingerprint(oof) != artifacts.folds_fingerprint(folds):
            notes.append(f"{name}: trained on another fold split than folds.csv; ranked by CV only")
            continue
        usable.append(name)
    if not usable:
        return None, notes
    try:
        aligned = artifacts.load_aligned_oof(ws, usable)
    except KfError as exc:
        return None, [*notes, f"no shake-up simulation: {exc}"]
    try:
        fraction, _ = resolve_public_fraction(ws)
        rows, _ = test_size(ws, usable)
    except KfError as exc:
        return None, [*notes, f"no shake-up simulation: {exc}"]
    rows = min(rows or len(aligned), len(aligned))
    from kfold.stats import to_fold_scale

    on_scale = np.column_stack([to_fold_scale(aligned[n], aligned["fold"]) for n in usable])
    sim = simulate(aligned["target"].to_numpy(), on_scale, usable,
                   public_fraction=fraction, n_splits=n_splits, test_rows=rows, seed=0)
    return Outlook(sim), notes


def bootstrap_outlook(ws: Workspace, candidates: dict[str, float | None],
                      metric: Metric) -> tuple[BootstrapOutlook | None, list[str]]:
    """Every candidate whose OOF predictions are in oof/ and score its CV (as every kf
    command scores them: a rank-based metric on the fold scale): its paired bootstrap
    interval; the notes say plainly what is not simulated and who was left out."""
    from kfold.intervals import Scoring, intervals, read_rows, scoring_of

    notes = [f"no shake-up simulation for {metric.title} (it simulates AUC): expected private "
             f"scores are CV moved by the public-vs-CV level, each with the paired bootstrap "
             f"95% interval of its OOF {metric.title} (all training rows; the private part is "
             f"fewer rows and varies more); P(hedge beats the first) is not simulated"]
    found = {}
    for name, cv in candidates.items():
        try:
            path = ws.oof_path(name)
        except KfError:  # a file name that cannot be a run's: no OOF predictions
            continue
        if not path.exists() or cv is None:
            continue
        try:
            rows = read_rows(ws, name, Scoring(scoring_of(ws, name).task, metric))
        except KfError as exc:
            notes.append(f"{name}: OOF file unreadable, ranked by CV only ({exc})")
            continue
        if abs(metric.score(rows.y, rows.output) - cv) > 1e-4:
            notes.append(f"{name}: oof/{name}.parquet no longer matches the file's CV "
                         f"({cv:.5f}); ranked by CV only")
            continue
        found[name] = intervals({name: rows}, metric)[name]
    return (BootstrapOutlook(found) if found else None), notes
