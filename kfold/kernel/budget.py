"""The runtime of a kernel on a hidden test set, and which fold models fit a time budget.

A dry run measures the seconds each fold model spends on the local test images, the decoding,
and the rest (kernel start, wheel install, imports: the overhead, paid once). The runtime on N
images is `overhead + N * (decode + the chosen models) / images`. Under a budget kf keeps the
best fold model (by its fold's validation score: the highest, or the lowest of a loss such
as log loss or RMSE) of every run the target needs, then adds the
others best first while they fit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from kfold.errors import KfError
from kfold.runfiles import fold_of
from kfold.scoring import get_metric

DRY_RUN = "kf-dry-run.json"  # the last dry run's timings, in the kernel's folder


@dataclass(frozen=True)
class Costs:
    images: int
    overhead_seconds: float
    decode_seconds: float
    model_seconds: dict[str, float]  # "<run>/<tag>" -> seconds on `images` images

    @classmethod
    def from_timing(cls, timing: dict, wall_seconds: float) -> Costs:
        """From the notebook's kf-timing.json and the wall time of the whole notebook."""
        work = timing["decode_seconds"] + sum(timing["models"].values())
        return cls(timing["images"], max(wall_seconds - work, 0.0), timing["decode_seconds"],
                   dict(timing["models"]))

    def per_image_seconds(self, models: list[str] | None) -> float:
        chosen = self.model_seconds if models is None else {m: self.model_seconds[m]
                                                            for m in models}
        return (self.decode_seconds + sum(chosen.values())) / max(self.images, 1)

    def estimate(self, n: int, models: list[str] | None) -> float:
        return self.overhead_seconds + n * self.per_image_seconds(models)


def fold_models(manifest: dict, target: str, tags: dict[str, list[str]] | None) -> list[str]:
    """`<run>/<tag>` of every fold model `target` uses (all packaged ones unless `tags`)."""
    return [f"{run}/{tag}" for run in manifest["targets"][target]["runs"]
            for tag in (tags or {}).get(run, manifest["runs"][run]["tags"])]


def keep_within(manifest: dict, target: str, costs: Costs, n: int, allowed: float,
                tags: dict[str, list[str]] | None = None, *,
                strict: bool = True) -> dict[str, list[str]]:
    """The fold models to keep (per run) so that `n` images take at most `allowed` seconds.

    Every run keeps its best fold model; if even that is over, `strict` raises, else that
    minimum is returned (for naming what to drop)."""
    models = fold_models(manifest, target, tags)
    unknown = [m for m in models if m not in costs.model_seconds]
    if unknown:
        raise KfError(f"the last dry run did not time {unknown[0]}; run `kf kernel test` "
                      "with the kernel's current fold models first")
    sign = 1.0 if get_metric(manifest.get("metric", "auc")).higher_is_better else -1.0
    ranked = sorted(models, key=lambda m: -sign * _fold_score(manifest, m))
    kept = list({m.split("/")[0]: m for m in reversed(ranked)}.values())  # best of each run
    if costs.estimate(n, kept) > allowed:
        if strict:
            raise KfError(f"even one fold model per run needs {costs.estimate(n, kept):.0f} s "
                          f"for {n} images, over the {allowed:.0f} s allowed; raise --budget "
                          "or package fewer runs")
        return _by_run(kept)
    for m in ranked:
        if m not in kept and costs.estimate(n, [*kept, m]) <= allowed:
            kept.append(m)
    return _by_run(kept)


def _fold_score(manifest: dict, model: str) -> float:
    """The fold model's validation score (its run's `fold_auc`, the contest metric's); inf
    for a 100%-retrain model, which has none and is its run's only model."""
    run, tag = model.split("/")
    scores = manifest["runs"][run]["fold_auc"]
    fold = fold_of(tag)
    return float(scores[fold]) if fold is not None and scores else float("inf")


def _by_run(models: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for run, tag in sorted((m.split("/") for m in models), key=lambda p: (p[0], len(p[1]), p[1])):
        out.setdefault(run, []).append(tag)
    return out


def read_costs(kernel: Path) -> Costs:
    """The costs the last `kf kernel test` of this kernel measured."""
    path = kernel / DRY_RUN
    try:
        raw = json.loads(path.read_text("utf-8"))
        return Costs.from_timing(raw["timing"], raw["wall_seconds"])
    except FileNotFoundError:
        raise KfError(f"--budget needs the timings of a dry run ({path} missing); run "
                      "`kf kernel test` first") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KfError(f"{path} is damaged ({exc}); run `kf kernel test` again") from None
