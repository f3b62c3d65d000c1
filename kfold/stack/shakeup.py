"""`kf shakeup`: how the runs' public and private scores could scatter on the real test set.

Reads the runs' OOF predictions (same ids, targets and fold split, or the usual refusal),
simulates the competition's public/private split of a test set of the competition's size
drawn from the OOF rows (kfold.stats.shakeup) and summarises it per run; writes a PNG.
The rows are on the fold scale (kfold.stats.foldscale), as every kf command ranks them: a
test image is scored by the mean of all fold models, so no test set mixes their scales.
Runs of another contest than binary AUC are scored with its metric, on the output `kf stack`
scores (the fold scale for rank-based metrics, else as written; `simulate_metric`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kfold import artifacts, atomic
from kfold.artifacts import OofStack
from kfold.competition import resolve_public_fraction, test_size
from kfold.errors import KfError
from kfold.scoring import get_metric
from kfold.stats.foldscale import to_fold_scale
from kfold.stats.shakeup import Shakeup, simulate, simulate_metric
from kfold.workspace import Workspace


@dataclass(frozen=True)
class ShakeupReport:
    sim: Shakeup
    fraction_source: str
    test_rows: int
    test_source: str
    n_splits: int
    notes: list[str] = field(default_factory=list)
    png: Path | None = None
    metric: str = "auc"  # the contest metric's registry name

    @property
    def score_key(self) -> str:
        """The OOF score's key in rows(): `oof_auc` for binary AUC as before, else `oof_score`."""
        return "oof_auc" if self.metric == "auc" else "oof_score"

    def rows(self) -> list[dict]:
        """One dict per run (best OOF score first): public and private score means and 95%
        ranges, P(beats the best run on private), P(best on private), mean |public - private|."""
        s = self.sim
        pub, priv = s.interval("public"), s.interval("private")
        beats, top, gap = s.p_beats(), s.p_private_top(), s.expected_gap()
        out = [{"run": name, self.score_key: float(s.auc[j]),
                "public_mean": float(s.public[:, j].mean()), "public_low": float(pub[j, 0]),
                "public_high": float(pub[j, 1]),
                "private_mean": float(s.private[:, j].mean()), "private_low": float(priv[j, 0]),
                "private_high": float(priv[j, 1]),
                "p_beats_best": None if j == s.best else float(beats[j]),
                "p_private_top": float(top[j]), "expected_gap": float(gap[j])}
               for j, name in enumerate(s.names)]
        return sorted(out, key=lambda r: -s.sign * r[self.score_key])

    def csv_rows(self) -> list[dict]:
        """`rows()`, each followed by the simulation's settings and its rank disagreement
        (a CSV has no room for the summary otherwise)."""
        shared = {k: v for k, v in self.summary().items() if k not in ("runs", "png")}
        return [{**r, **shared} for r in self.rows()]

    def summary(self) -> dict:
        s = self.sim
        return {"runs": len(s.names), "metric": self.metric, "best_run": s.names[s.best],
                "splits": self.n_splits,
                "public_fraction": s.public_fraction, "public_fraction_source": self.fraction_source,
                "test_rows": self.test_rows, "test_rows_source": self.test_source,
                "public_rows": s.n_public, "private_rows": s.n_private,
                "rank_disagreement": s.rank_disagreement(),
                "pair_disagreement": s.pair_disagreement(),
                "top_disagreement": s.top_disagreement(),
                "png": None if self.png is None else str(self.png)}


def shakeup_runs(ws: Workspace, runs: list[str] | None = None, *,
                 public_fraction: float | None = None, n_splits: int = 2000,
                 test_rows: int | None = None, seed: int = 0,
                 png: Path | None | bool = True) -> ShakeupReport:
    """Simulate the public/private shake-up of `runs` (default: every run and stack in oof/
    on the current folds). `png`: True writes oof/shakeup.png, a path writes there, False
    writes none."""
    from kfold.stack.run import resolve_runs

    if png not in (True, False, None):
        atomic.check_output_file("--png", png, ".png")
    fraction, source = resolve_public_fraction(ws, public_fraction)
    runs, notes = resolve_runs(ws, runs, purpose="a shake-up simulation", minimum=1,
                               with_stacks=True)
    stack = artifacts.load_oof_stack(ws, runs)
    if test_rows is not None and test_rows < 2:
        raise KfError(f"--test-rows {test_rows}: a test set needs at least 2 rows")
    rows, rows_source = (test_rows, "--test-rows") if test_rows else \
        test_size(ws, runs, stack.contest.task)
    n_oof = len(stack.rows)
    if rows is None or rows > n_oof:
        if rows is not None:
            notes.append(f"the test set ({rows} rows, {rows_source}) is larger than the "
                         f"{n_oof} OOF rows: simulated on all OOF rows, so the spread "
                         f"shown is a little too narrow")
        rows = n_oof
    settings = dict(public_fraction=fraction, n_splits=n_splits, test_rows=rows, seed=seed)
    sim = _simulate(stack, settings)
    if "assumed" in source:
        notes.append(f"public fraction {fraction} {source}")
    path = None
    if png:
        path = ws.oof_dir / "shakeup.png" if png is True else Path(png)
        plot_shakeup(sim, path, get_metric(stack.contest.metric).title)
    return ShakeupReport(sim, source, rows, rows_source, n_splits, notes, path,
                         stack.contest.metric)


def _simulate(stack: OofStack, settings: dict) -> Shakeup:
    """Binary AUC: the fast U-statistic simulation on the fold scale, as before tasks; any
    other contest: its metric on each run's output as `kf stack` scores it, the splits
    stratified by class (binary, multi-class)."""
    folds = stack.rows["fold"].to_numpy()
    if stack.contest.binary_auc:
        on_scale = np.column_stack([to_fold_scale(stack.preds[:, j, 0], folds)
                                    for j in range(len(stack.runs))])
        return simulate(stack.rows["target"].to_numpy(), on_scale, stack.runs, **settings)
    from kfold.stack.inputs import targets_of
    from kfold.stack.task_run import scored_output

    metric = get_metric(stack.contest.metric, stack.contest.task)
    outputs = [scored_output(metric, stack.preds[:, j, :], folds)
               for j in range(len(stack.runs))]
    y = targets_of(stack)
    strata = y if stack.contest.task in ("binary", "multiclass") else None
    return simulate_metric(y, outputs, stack.runs, metric, **settings, strata=strata)


def shakeup_table(report: ShakeupReport):
    """The per-run table `kf shakeup` prints."""
    from kfold import views
    from kfold.views import Col

    s = report.summary()
    key = report.score_key
    cols = [Col("run", no_wrap=True)] + [Col(c, right=True, no_wrap=True) for c in (
        f"OOF {get_metric(report.metric).label}", "public mean [95%]", "private mean [95%]",
        "P(beats best)", "P(best private)", "E|pub-priv|")]
    rows = [[r["run"], f"{r[key]:.4f}",
             f"{r['public_mean']:.4f} [{r['public_low']:.4f}, {r['public_high']:.4f}]",
             f"{r['private_mean']:.4f} [{r['private_low']:.4f}, {r['private_high']:.4f}]",
             "best" if r["p_beats_best"] is None else f"{r['p_beats_best']:.3f}",
             f"{r['p_private_top']:.3f}", f"{r['expected_gap']:.4f}"] for r in report.rows()]
    return views.table(
        f"shake-up: {s['splits']} simulated splits of {s['test_rows']} test rows "
        f"({s['public_rows']} public, {s['private_rows']} private; fraction "
        f"{s['public_fraction']:.3g} from {s['public_fraction_source']})", cols, rows,
        caption=f"public ranking of the runs differs from the private one in "
                f"{s['rank_disagreement']:.1%} of splits ({s['pair_disagreement']:.1%} of run "
                f"pairs swap places); the public leader is not a private leader in "
                f"{s['top_disagreement']:.1%}")


def plot_shakeup(sim: Shakeup, path: Path, title: str = "AUC") -> Path:
    """Per run: the 95% range of simulated public (thin) and private (thick) scores of the
    metric called `title`, their means, and the OOF score; runs ordered best OOF score
    first, top to bottom; on the right, P(the run beats the best run on private)."""
    from kfold.plots import plt, save_figure

    order = np.argsort(-sim.sign * sim.auc)
    pub, priv = sim.interval("public"), sim.interval("private")
    beats = sim.p_beats()
    fig, ax = plt.subplots(figsize=(9, 1.9 + 0.45 * len(order)))
    right = ax.get_yaxis_transform()  # x in axes fractions, y in data units
    for row, j in enumerate(order):
        y = len(order) - 1 - row
        ax.plot(pub[j], [y + 0.12] * 2, color="tab:orange", lw=1.5,
                label="public 95%" if row == 0 else None)
        ax.plot(priv[j], [y - 0.12] * 2, color="tab:blue", lw=4,
                label="private 95%" if row == 0 else None)
        ax.plot(sim.public[:, j].mean(), y + 0.12, "|", color="tab:orange", ms=10)
        ax.plot(sim.private[:, j].mean(), y - 0.12, "|", color="tab:blue", ms=12)
        ax.plot(sim.auc[j], y, "kD", ms=4, label=f"OOF {title}" if row == 0 else None)
        ax.text(1.02, y, "best" if j == sim.best else f"{beats[j]:.2f}", transform=right,
                va="center", fontsize=9)
    ax.text(1.02, len(order) - 0.4, "P(beats best\non private)", transform=right,
            va="bottom", fontsize=8)
    ax.set_yticks(range(len(order)), [sim.names[j] for j in order][::-1])
    ax.set_ylim(-0.6, len(order) - 0.4)
    ax.set_xlabel(title)
    ax.set_title(f"Simulated shake-up: {len(sim.public)} splits, public {sim.n_public} / "
                 f"private {sim.n_private} rows", fontsize=10)
    fig.legend(loc="lower center", ncol=3, fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout(rect=(0, 0.5 / fig.get_figheight(), 1, 1))
    return save_figure(fig, path)
