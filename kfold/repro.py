"""`kf repro`: the original write-up's results table, reproduced on the workspace's data.

Each row is an ordinary k-fold run (`train_run`, named `repro-<row>`, resumable like any
run), the 100% row is `retrain_run` of the fine-tuned run, the stack row is `stack_runs` over
the rows. The table gives the original AUC beside this data's OOF AUC with its DeLong 95%
interval, the test AUC where the workspace holds `data/solution.csv`, and the wall time; the
orderings the original work found are checked from those numbers, never asserted.

The original used ResNet50/VGG16 at full resolution on a GPU; on CPU the pretrained net is
EfficientNet-Lite0 (ImageNet weights bundled offline) at a small input size. `ReproPlan`
holds every size and epoch count; a GPU user raises them.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kfold import artifacts, atomic
from kfold.errors import KfError, check_whole
from kfold.progress import Reporter
from kfold.stats import AucInterval, auc_interval, to_fold_scale
from kfold.train_config import TrainConfig
from kfold.workspace import Workspace

PREFIX = "repro-"


@dataclass(frozen=True)
class ReproPlan:
    """Sizes and epochs of every row: the defaults fit about 20 minutes on 2 CPU cores for
    the demo's data (1,500 images, 5 folds)."""

    small_size: int = 64  # small CNN input side
    small_epochs: int = 12
    model: str = "efficientnet-lite0"  # the pretrained net (any model with ImageNet weights)
    size: int = 64  # pretrained net input side
    head_epochs: int | None = None  # None: the head mode's default
    finetune_epochs: int = 6
    crop: int = 20  # original: ~20 px border of a 267 px photo
    threshold: float = 0.2  # preprocessing I: pixels darker than this set to 0
    binarize: float = 0.5  # preprocessing II: black and white at this level
    n_folds: int | None = None  # None: kfold.toml
    seed: int | None = None
    device: str = "auto"

    def __post_init__(self) -> None:
        """Ranges named as `kf repro` spells its options (TrainConfig would name its own)."""
        for option, value, low, high in (
                ("--small-size", self.small_size, 8, 2048), ("--image-size", self.size, 8, 2048),
                ("--small-epochs", self.small_epochs, 1, 100_000),
                ("--finetune-epochs", self.finetune_epochs, 1, 100_000),
                ("--crop", self.crop, 0, 2048)):
            check_whole(option, value, low, high)
        if self.head_epochs is not None:
            check_whole("--head-epochs", self.head_epochs, 1, 100_000)


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    original: str  # the write-up's AUC, as text ("" when it reported none)
    config: Callable[[ReproPlan], dict] | None = None  # TrainConfig options; None: not a run


def _small(plan: ReproPlan, **prep) -> dict:
    return dict(model="simple-cnn", image_size=plan.small_size, epochs=plan.small_epochs, **prep)


def _pretrained(plan: ReproPlan, **options) -> dict:
    return dict(model=plan.model, image_size=plan.size, crop=plan.crop, **options)


ROWS = (
    Row("raw", "small CNN, raw images", "0.95439", lambda p: _small(p)),
    Row("prep1", "small CNN, preprocessing I (crop, dark pixels to 0)", "0.97593",
        lambda p: _small(p, crop=p.crop, threshold=p.threshold)),
    Row("prep2", "small CNN, preprocessing II (binarised)", "0.75462",
        lambda p: _small(p, crop=p.crop, binarize=p.binarize)),
    Row("random", "pretrained net's architecture, random init, fine-tuned", "",
        lambda p: _pretrained(p, weights="none", epochs=p.finetune_epochs)),
    Row("head", "pretrained net, head only (frozen backbone)", "0.88462 / 0.89869",
        lambda p: _pretrained(p, weights="imagenet", train_mode="head", epochs=p.head_epochs)),
    Row("finetune", "pretrained net, fine-tuned (k-fold models)", "0.986",
        lambda p: _pretrained(p, weights="imagenet", epochs=p.finetune_epochs)),
    Row("full", "pretrained net, fine-tuned, retrained on 100%", "0.99157"),
    Row("stack", "best stack of the rows above", ""),
)


@dataclass
class Result:
    row: Row
    run: str
    oof: AucInterval | None = None
    test_auc: float | None = None
    fold_test_aucs: list[float] = field(default_factory=list)  # each fold model's, alone
    seconds: float = 0.0


@dataclass
class Ordering:
    claim: str
    holds: bool
    numbers: str

    @property
    def text(self) -> str:
        return f"{'✓' if self.holds else '✗'} {self.claim}: {self.numbers}"


@dataclass
class ReproReport:
    results: list[Result]
    orderings: list[Ordering]
    table: Path
    chart: Path
    notes: list[str] = field(default_factory=list)

    def result(self, key: str) -> Result:
        return next(r for r in self.results if r.row.key == key)


def run_repro(ws: Workspace, plan: ReproPlan = ReproPlan(), *,
              reporter: Reporter = Reporter()) -> ReproReport:
    """Train every row (finished folds are kept), retrain, stack; write the table and chart."""
    from kfold.data.prepared import prepare
    from kfold.data.preprocess import Preprocess
    from kfold.data.sources import discover
    from kfold.stack import stack_runs
    from kfold.train.retrain import retrain_run
    from kfold.train.run import plan_run, train_runs

    solution = _solution(ws)
    # every row's checks (options, model, weights, folds) before the first one trains
    dataset = discover(ws)  # the sources, scanned once for every row
    planned = [(row, plan_run(ws, TrainConfig.for_workspace(
        ws, n_folds=plan.n_folds, seed=plan.seed, device=plan.device, **row.config(plan)),
        PREFIX + row.key, dataset=dataset)) for row in ROWS if row.config is not None]
    # and every row's images decoded (into the cache, which the rows then read) so that a
    # crop too large for them stops the reproduction before anything trains
    for run_plan in {p.data_key: p for _, p in planned}.values():
        prepare(ws, Preprocess.of(run_plan.cfg), run_plan.cfg.image_size, reporter=reporter,
                dataset=dataset)
    results: list[Result] = []
    for row, run_plan in planned:
        reporter.log(f"repro: {row.label}")
        meta = train_runs(ws, [run_plan], reporter=reporter)[0]
        # the recorded training time, so that a rerun (which trains nothing) reports it too
        results.append(_scored(ws, row, PREFIX + row.key, meta.seconds, solution))

    finetuned = PREFIX + "finetune"
    reporter.log("repro: the fine-tuned net retrained on 100%")
    retrained = retrain_run(ws, finetuned, reporter).retrain
    full = Result(_row("full"), finetuned, seconds=retrained.seconds or 0.0)
    if solution is not None:
        full.test_auc = _test_aucs(ws.full_test_path(finetuned), solution)["pred"]
    results.append(full)

    reporter.log("repro: stacking the rows")
    started = time.perf_counter()
    report = stack_runs(ws, runs=[r.run for r in results if r.oof is not None])
    best = max((s for s in report.scores if s.kind == "stack"), key=lambda s: s.oof_auc)
    stack = Result(_row("stack"), best.name, interval_of(ws, best.name),
                   seconds=time.perf_counter() - started)
    if solution is not None:
        stack.test_auc = _test_aucs(ws.test_path(best.name), solution)["pred"]
    results.append(stack)

    orderings = check_orderings({r.row.key: r for r in results})
    out = ws.root / "repro"
    table, chart = out / "table.md", out / "auc.png"
    out.mkdir(parents=True, exist_ok=True)
    atomic.write_text(table, render_table(results, orderings, plan))
    plot_results(results, chart)
    return ReproReport(results, orderings, table, chart)


def _row(key: str) -> Row:
    return next(r for r in ROWS if r.key == key)


def _scored(ws: Workspace, row: Row, run: str, seconds: float,
            solution: pd.DataFrame | None) -> Result:
    result = Result(row, run, interval_of(ws, run), seconds=seconds)
    if solution is not None:
        aucs = _test_aucs(ws.test_path(run), solution)
        result.test_auc = aucs.pop("pred")
        result.fold_test_aucs = list(aucs.values())
    return result


def interval_of(ws: Workspace, run: str) -> AucInterval:
    """The OOF AUC of `run` (fold-normalised, as every command ranks) with its DeLong 95%
    interval."""
    oof = artifacts.read_oof(ws.oof_path(run))
    return auc_interval(oof["target"].to_numpy(), to_fold_scale(oof["pred"], oof["fold"]))


def _solution(ws: Workspace) -> pd.DataFrame | None:
    """The held-out test labels (`data/solution.csv`: id, label), when the workspace has them."""
    path = ws.data_dir / "solution.csv"
    if not path.exists():
        return None
    frame = pd.read_csv(path, dtype={"id": str})
    if not {"id", "label"} <= set(frame.columns):
        raise KfError(f"{path} needs columns id and label, has {list(frame.columns)}")
    return frame


def _test_aucs(path: Path, solution: pd.DataFrame) -> dict[str, float]:
    """The test AUC of every prediction column of a test file, read once: `pred` (what was
    submitted) and, for a k-fold run, each fold model alone (`pred_fold<k>`)."""
    from kfold.metrics import auc

    merged = solution.merge(pd.read_parquet(path), on="id", how="inner")
    if len(merged) != len(solution):
        raise KfError(f"{path} predicts {len(merged)} of the {len(solution)} ids in solution.csv")
    y = merged["label"].to_numpy()
    return {c: float(auc(y, merged[c].to_numpy())) for c in merged.columns
            if c == "pred" or c.startswith("pred_fold")}


# --- the original orderings ---------------------------------------------------------------
def check_orderings(by_key: dict[str, Result]) -> list[Ordering]:
    """The original work's orderings, each decided from this run's numbers."""
    def oof(key: str) -> float:
        return by_key[key].oof.auc

    raw, one, two = oof("raw"), oof("prep1"), oof("prep2")
    fine, head, rand = oof("finetune"), oof("head"), oof("random")
    singles = [k for k, r in by_key.items() if r.oof is not None and k != "stack"]
    best = max(singles, key=oof)
    out = [
        Ordering("preprocessing I ≥ raw > preprocessing II (OOF AUC)",
                 one >= raw > two, f"{one:.4f} ≥ {raw:.4f} > {two:.4f}"),
        Ordering("fine-tuned > head only > random init (OOF AUC)",
                 fine > head > rand, f"{fine:.4f} > {head:.4f} > {rand:.4f}"),
    ]
    full, fine = by_key["full"].test_auc, by_key["finetune"]
    if full is not None and fine.fold_test_aucs:
        # The original compared one model on 80% with one on 100%: a fold model alone.
        single = float(np.mean(fine.fold_test_aucs))
        each = ", ".join(f"{a:.4f}" for a in fine.fold_test_aucs)
        out.append(Ordering("100% retrain ≥ a fold model alone (test AUC, solution.csv; mean "
                            "of the fold models' AUCs)", full >= single,
                            f"{full:.4f} ≥ {single:.4f} (fold models: {each})"))
    if full is not None and fine.test_auc is not None:
        out.append(Ordering("100% retrain ≥ the fold models averaged (test AUC; not in the "
                            "original)", full >= fine.test_auc,
                            f"{full:.4f} ≥ {fine.test_auc:.4f}"))
    stack = oof("stack")
    out.append(Ordering(f"best stack ≥ best single run ({by_key[best].run}) (OOF AUC)",
                        stack >= oof(best), f"{stack:.4f} ≥ {oof(best):.4f}"))
    return out


# --- output ---------------------------------------------------------------------------------
def render_table(results: list[Result], orderings: list[Ordering], plan: ReproPlan) -> str:
    lines = [
        "# The original results, reproduced on this workspace's data", "",
        f"Small CNN {plan.small_size} px, {plan.small_epochs} epochs; pretrained net "
        f"{plan.model} {plan.size} px (head {plan.head_epochs or 'default'} epochs, fine-tune "
        f"{plan.finetune_epochs}); crop {plan.crop}, threshold {plan.threshold}, binarise at "
        f"{plan.binarize}. OOF AUC with its DeLong 95% interval; test AUC against "
        "data/solution.csv where present. Original: ResNet50 / VGG16 on the real photos.", "",
        "| row | run | original AUC | OOF AUC [95% interval] | test AUC | training (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        oof = r.oof.text if r.oof is not None else "— (no OOF: one model on 100%)"
        test = f"{r.test_auc:.4f}" if r.test_auc is not None else "—"
        lines.append(f"| {r.row.label} | {r.run} | {r.row.original or '—'} | {oof} | {test} "
                     f"| {r.seconds:.0f} |")
    lines += ["", f"Total: {sum(r.seconds for r in results):.0f} s of training (fold and retrain "
              "times from run.json; decoding not included).", "", "## Orderings", ""]
    lines += [f"- {o.text}" for o in orderings]
    return "\n".join(lines) + "\n"


def plot_results(results: list[Result], path: Path) -> None:
    """Bars: this data's OOF AUC (95% interval) beside the original AUC where there is one."""
    from kfold.plots import plt, save_figure

    shown = [r for r in results if r.oof is not None or r.test_auc is not None]
    ours = [r.oof.auc if r.oof is not None else r.test_auc for r in shown]
    err = np.array([[r.oof.auc - r.oof.low, r.oof.high - r.oof.auc] if r.oof is not None
                    else [0.0, 0.0] for r in shown]).T
    original = [float(r.row.original.split(" / ")[0]) if r.row.original else np.nan
                for r in shown]
    x = np.arange(len(shown))
    fig, ax = plt.subplots(figsize=(10, 4.5))
    ax.bar(x - 0.2, original, 0.4, label="original (real photos)", color="#bbbbbb")
    ax.bar(x + 0.2, ours, 0.4, yerr=err, capsize=3, color="#3a78b5",
           label="this data: OOF AUC, 95% interval (100% row: test AUC)")
    ax.set_xticks(x, [r.row.key for r in shown])
    ax.set_ylim(0.4, 1.0)
    ax.set_ylabel("ROC AUC")
    ax.axhline(0.5, color="k", lw=0.5)
    ax.legend(loc="lower right")
    save_figure(fig, path)


def with_overrides(plan: ReproPlan, **options) -> ReproPlan:
    """The plan with the options given (None values keep the plan's)."""
    return dataclasses.replace(plan, **{k: v for k, v in options.items() if v is not None})
