"""Summaries of trained runs: per-run fold tables and the all-runs comparison."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kfold import artifacts, views
from kfold.record import RunRecord
from kfold.scoring import Metric, get_metric
from kfold.stats.bootstrap import N_BOOT
from kfold.stats.foldscale import DRIFT_GAP
from kfold.views import Col, Table
from kfold.workspace import Workspace


def render_run(meta: RunRecord) -> Table:
    """Per-fold table of one run with its OOF AUC."""
    cols = [Col(c, right=True) for c in ("fold", "best epoch", "epochs", "val AUC", "accuracy",
                                         "precision", "recall", "tp", "fp", "tn", "fn",
                                         "seconds")]
    rows = [[r.fold, r.best_epoch, r.epochs_run, f"{r.auc:.4f}", *map(_shown, (
             r.accuracy, r.precision, r.recall, r.tp, r.fp, r.tn, r.fn)), f"{r.seconds:.1f}"]
            for r in meta.folds]
    name = get_metric(meta.metric).title
    cols[3] = Col(f"val {name}", right=True)
    caption = (f"OOF {name} {meta.oof_auc:.4f}   fold mean {meta.fold_auc_mean:.4f} "
               f"± {meta.fold_auc_std:.4f}")
    return views.table(f"{meta.name}  ({meta.model}, {meta.backend})", cols, rows,
                       caption=caption)


def _shown(value: float | int | None) -> str:
    """A confusion number as the fold table shows it (- where the task has none)."""
    if value is None:
        return "-"
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def runs_summary(ws: Workspace, sort: str = "oof", competition: str | None = None) -> list[dict]:
    """One row per run and per stack: its contest metric and OOF score in `oof_auc` (the key
    kept from before tasks; a binary AUC fold-normalised, read from its OOF file, like kf
    stack's, with the pooled AUC and the drift flag; any other metric as run.json records
    it), fold scores, mean ± std, epochs, time, its settings, the best public score of a submission to `competition` (default: kfold.toml's)
    derived from it; sorted by `sort` (oof: best first; time: newest first; name)."""
    check_sort(sort)
    rows = []
    for name in artifacts.list_runs(ws):
        meta = artifacts.read_run(ws, name)
        fold_aucs = meta.fold_aucs
        rows.append({
            "run": name, "model": meta.model, "backend": meta.backend,
            "size": meta.config.image_size, "metric": meta.metric,
            **(oof_scores(ws, name, meta.oof_auc, meta.oof_auc_pooled) if _is_auc(meta)
               else {"oof_auc": meta.oof_auc, "pooled": meta.oof_auc_pooled, "drift": None}),
            "fold_aucs": fold_aucs, "mean": float(np.mean(fold_aucs)),
            "std": float(np.std(fold_aucs)),
            "epochs": sum(r.epochs_run for r in meta.folds),
            "seconds": meta.seconds,
            "full": ws.full_test_path(name).exists(),
            "explain": meta.explain,
            "config": meta.config.to_dict(), "created": meta.created_utc or "",
            "note": meta.note, "tags": meta.tags, "git": _short_commit(meta.git_commit),
        })
    rows = sort_rows(rows + stack_rows(ws), "oof")
    add_uncertainty(ws, rows)
    public = best_public(ws, competition)
    for r in rows:
        r["best_public"] = public.get(r["run"])
    return sort_rows(rows, sort)


def _is_auc(meta: RunRecord) -> bool:
    """A binary run scored by AUC: its OOF file is fold-normalised and has DeLong intervals
    (other metrics show the score run.json records)."""
    return meta.task == "binary" and meta.metric == "auc"


def _better_first(r: dict) -> float:
    """Sort key: the best score first in the direction of the row's metric."""
    return -r["oof_auc"] if get_metric(r.get("metric", "auc")).higher_is_better \
        else r["oof_auc"]


def oof_scores(ws: Workspace, name: str, oof_auc: float | None = None,
               pooled: float | None = None) -> dict:
    """oof_auc (fold-normalised), pooled and drift of a run's OOF file; the recorded values
    when the file is gone."""
    from kfold.metrics import auc
    from kfold.stats import fold_scores

    path = ws.oof_path(name)
    if not path.exists():
        return {"oof_auc": oof_auc, "pooled": pooled, "drift": None}
    oof = artifacts.read_oof(path)
    s = fold_scores(oof["target"], oof["pred"], oof["fold"], metric=auc)  # NaN: one class
    return {"oof_auc": s.normalised, "pooled": s.pooled, "drift": s.drift}


def add_uncertainty(ws: Workspace, rows: list[dict]) -> None:
    """Give each row (best OOF score first) its 95% interval and, when it scored the same
    images as the best run of its metric, the paired difference to it: interval, within
    noise, and DeLong's p-value for AUC (kfold.intervals: DeLong on the fold scale for a
    binary AUC, a paired bootstrap for any other metric).

    Fields: oof_auc_low/high, vs_best, vs_best_low/high, vs_best_p, within_noise (None when
    the run's OOF file is gone or holds other ids or targets than the best run's)."""
    from kfold.intervals import intervals, read_rows, scoring_of

    by_name = {r["run"]: r for r in rows}
    for r in rows:
        r.update(dict.fromkeys(("oof_auc_low", "oof_auc_high", "vs_best", "vs_best_low",
                                "vs_best_high", "vs_best_p", "within_noise")))
    for metric in dict.fromkeys(r.get("metric", "auc") for r in rows):
        found = {}
        for r in rows:
            if r.get("metric", "auc") == metric:
                oof = read_rows(ws, r["run"], scoring_of(ws, r["run"], r.get("inputs")))
                if oof is not None:
                    found[r["run"]] = oof
        for name, iv in intervals(found, get_metric(metric)).items():
            by_name[name].update(
                oof_auc_low=iv.low, oof_auc_high=iv.high, vs_best=iv.vs_best,
                vs_best_low=iv.vs_best_low, vs_best_high=iv.vs_best_high,
                vs_best_p=iv.vs_best_p, within_noise=iv.within_noise)


def render_runs(rows: list[dict], width: int | None = 160) -> Table:
    """The comparison table laid out to fit `width` columns (a terminal's; None: every
    column at full width, for piped output). After the fixed columns, the settings that
    differ between the listed runs (model, backend and size have their own; the backend is
    shown only when the runs use more than one): a column each while that fits, else one
    `settings that differ` column of key=value pairs; still too wide, columns are left out
    by `DROP_ORDER` (the caption names them) rather than squeezed to nothing. Columns nobody
    has a value for (public, pointing, 100%) are left out; notes, tags and git commits have
    their own table (`render_run_notes`)."""
    columns, settings = _run_columns(rows)
    merged = _merged_settings(rows, settings)
    layouts = [(columns + settings, ())] + ([(columns + [merged], ())] if settings else [])
    kept = columns + ([merged] if settings else [])
    for name in ("settings that differ", *DROP_ORDER):
        if any(c.col.name == name for c in kept):
            kept = [c for c in kept if c.col.name != name]
            layouts.append((kept, (*layouts[-1][1], name)))
    shown, dropped = next((layout for layout in layouts
                           if width is None or _width(layout[0]) <= width), layouts[-1])
    return views.table("runs", [c.col for c in shown],
                       [[c.cells[i] for c in shown] for i in range(len(rows))],
                       caption=_runs_caption(shown, dropped, width, _metric_of(rows)))


@dataclass(frozen=True)
class _Column:
    col: Col
    cells: list[str]
    fold_at: int | None = None  # a folding column: the width it is counted at to fit


# the columns left out, first to last, when the table is wider than the terminal
DROP_ORDER = ("time s", "epochs", "p", "pointing", "100%", "fold mean\n± std", "pooled", "px",
              "vs best\n±95%", "public")


def _run_columns(rows: list[dict]) -> tuple[list[_Column], list[_Column]]:
    """The table's columns, those of settings apart; optional ones only when some run has a
    value there."""
    backends = len({r["backend"] for r in rows if not r.get("stack")})
    fixed = {"px": [r["size"] for r in rows], _score_header(rows): [_auc_text(r) for r in rows],
             "pooled": [_pooled(r) if r.get("metric", "auc") == "auc" else "" for r in rows],
             "vs best\n±95%": [_vs_best(r) for r in rows],
             "p": ["" if r.get("vs_best_p") is None else f"{r['vs_best_p']:.2g}" for r in rows],
             "public": ["" if r.get("best_public") is None else f"{r['best_public']:.4f}"
                        for r in rows],
             "fold mean\n± std": [f"{r['mean']:.4f}±{r['std']:.4f}" for r in rows],
             "pointing": [_pointing(r["explain"]) for r in rows],
             "epochs": [r["epochs"] for r in rows],
             "time s": ["" if r["seconds"] is None else f"{r['seconds']:.0f}" for r in rows],
             "100%": ["yes" if r["full"] else "" for r in rows]}
    optional = {"pooled", "p", "public", "pointing", "100%"}
    columns = [_Column(Col("run", no_wrap=True), [r["run"] for r in rows]),
               _Column(Col("model", fold=True, min_width=12),
                       [_model_text(r, backends > 1) for r in rows], fold_at=12)]
    columns += [_Column(Col(name, right=True, no_wrap=True), [views.cell_text(v) for v in cells])
                for name, cells in fixed.items() if name not in optional or any(cells)]
    keys = [k for k in differing_settings(rows) if k not in _OWN_COLUMNS]
    settings = [_Column(Col(_SETTING_HEADERS.get(k, k), fold=True), [
        "" if r.get("stack") else _setting((r.get("config") or {}).get(k)) for r in rows])
        for k in keys]
    return columns, settings


def _merged_settings(rows: list[dict], settings: list[_Column]) -> _Column:
    """The settings that differ as one column of key=value pairs."""
    cells = ["  ".join(f"{c.col.name}={c.cells[i]}" for c in settings)
             if not rows[i].get("stack") else "" for i in range(len(rows))]
    return _Column(Col("settings that differ", fold=True, min_width=14), cells, fold_at=24)


def _runs_caption(shown: list[_Column], dropped: tuple[str, ...], width: int | None,
                  metric: Metric | None) -> str:
    names = {c.col.name for c in shown}
    left_out = [d.replace("\n", " ") for d in dropped if d not in names]
    title = metric.title if metric else "score"
    return (_score_caption(metric)
            + (f"pooled: all OOF rows as written, ! when it is more than {DRIFT_GAP:g} lower "
               "(fold models on different scales); " if "pooled" in names else "")
            + ("public: the best public score of a submission made from the run (its own, a "
               "stack or a retrain); " if "public" in names else "")
            + ("pointing: share of boxed defects where the Grad-CAM peak is in the box, chance "
               "level in brackets (kf explain); " if "pointing" in names else "")
            + ("after 'time s': only the settings that differ; "
               if any(c.col.fold and c.col.name != "model" for c in shown) else "")
            + (f"left out to fit {width} columns: {', '.join(left_out)}; a wider terminal "
               f"or --format json shows them; " if left_out else "")
            + f"per-fold {title}: --format json")


def _score_caption(metric: Metric | None) -> str:
    """What the score and vs-best columns hold, in the runs' metric and its direction."""
    if metric is None:
        return ("OOF: each run in its own contest metric, intervals and differences within "
                "runs of the same metric; ")
    if metric.name == "auc":
        return ("OOF AUC: fold-normalised (each fold model's predictions as quantiles of its "
                "own fold; docs/stack.md), the one every kf command ranks by; "
                "±95%: DeLong interval half-width; vs best: OOF AUC minus the best run's, "
                "DeLong's paired test (same images), ≈: within noise (its interval holds 0); ")
    better = "higher" if metric.higher_is_better else "lower"
    grades = (" of the grades cut by thresholds cross-fitted over the folds"
              if metric.name == "qwk" else "")
    return (f"OOF {metric.title} ({better} is better){grades}, the one every kf command "
            f"ranks by; ±95%: paired bootstrap interval half-width ({N_BOOT} resamples of "
            f"the OOF rows); vs best: OOF {metric.title} minus the best run's on the same "
            "resampled rows (same images), ≈: within noise (its interval holds 0); ")


def _metric_of(rows: list[dict]) -> Metric | None:
    """The contest metric every listed row shares (AUC for none); None when they differ."""
    names = {r.get("metric", "auc") for r in rows} or {"auc"}
    return get_metric(names.pop()) if len(names) == 1 else None


def _score_header(rows: list[dict]) -> str:
    """The score column's header: the contest metric the runs share, with its direction
    ("OOF log loss ↓"), AUC's as before tasks, "OOF score" when the runs' metrics differ."""
    metric = _metric_of(rows)
    if metric is None:
        return "OOF score\n±95%"
    return "OOF AUC\n±95%" if metric.name == "auc" else f"OOF {metric.label}\n±95%"


def render_run_notes(rows: list[dict]) -> Table | None:
    """Beside the comparison table: each run's --note, --tag and the git commit of the code
    it was trained with; None when no listed run has any."""
    extra = [k for k in ("note", "tags", "git") if any(r.get(k) for r in rows)]
    if not extra:
        return None
    cols = [Col("run", no_wrap=True)] + [Col(k, fold=True) for k in extra]
    return views.table("run notes", cols, [[r["run"], *(_extra(r.get(k)) for k in extra)]
                                           for r in rows if any(r.get(k) for k in extra)])


def _model_text(r: dict, with_backend: bool) -> str:
    """The model ('simple-cnn', with '(keras)' when the runs use several backends), or
    'stack: mean of 2 runs' for a stack."""
    if r.get("stack"):
        return f"{r['model']} {r['backend']}".strip()
    return f"{r['model']} ({r['backend']})" if with_backend else r["model"]


# settings whose key reads like a fixed column's header
_SETTING_HEADERS = {"epochs": "max epochs"}


def _width(columns: list[_Column]) -> int:
    """A table's natural width: each column's widest line (a folding one counted at its fold
    width) plus rich's borders and padding."""
    widest = []
    for c in columns:
        w = max([len(line) for line in c.col.name.split("\n")] + [len(str(x)) for x in c.cells])
        widest.append(min(w, max(c.fold_at, len(c.col.name))) if c.fold_at else w)
    return sum(widest) + 3 * len(widest) + 1


# every key of a runs_summary row (stacks leave some out): the CSV header of an empty list
RUN_FIELDS = ("run", "model", "backend", "size", "metric", "oof_auc", "pooled", "drift", "fold_aucs",
              "mean", "std",
              "epochs", "seconds", "full", "explain", "config", "created", "note", "tags",
              "git", "stack", "inputs", "oof_auc_low", "oof_auc_high", "vs_best", "vs_best_low",
              "vs_best_high", "vs_best_p", "within_noise", "best_public")
_OWN_COLUMNS = {"model", "backend", "image_size"}


def _short_commit(commit: str | None) -> str:
    if not commit:
        return ""
    sha, _, dirty = commit.partition("+")
    return sha[:10] + ("+" + dirty if dirty else "")


def _setting(value) -> str:
    return "" if value is None else (json_key(value) if isinstance(value, dict | list)
                                     else str(value))


def _extra(value) -> str:
    if not value:
        return ""
    return " ".join(value) if isinstance(value, list) else str(value)


def _auc_text(r: dict) -> str:
    if r.get("oof_auc_low") is None:
        return f"{r['oof_auc']:.4f}"
    half = (r["oof_auc_high"] - r["oof_auc_low"]) / 2
    return f"{r['oof_auc']:.4f} ±{half:.4f}"


def _pooled(r: dict) -> str:
    if r.get("pooled") is None:
        return ""
    return f"{r['pooled']:.4f}" + (" !" if r.get("drift") else "")


def _vs_best(r: dict) -> str:
    if r.get("vs_best") is None:
        return ""
    half = (r["vs_best_high"] - r["vs_best_low"]) / 2
    return f"{r['vs_best']:+.4f} ±{half:.4f}" + (" ≈" if r["within_noise"] else "")


def _pointing(explain: dict | None) -> str:
    if not explain or explain.get("pointing_game") is None:
        return ""
    chance = explain.get("chance")
    return f"{explain['pointing_game']:.3f}" + (f" ({chance:.3f})" if chance is not None else "")


# --- comparing experiments: stacks as rows, settings that differ, public scores -------------
SORTS = ("oof", "time", "name")
# settings every run has but that say nothing about the experiment
_NOT_SETTINGS = {"name", "workers", "device", "num_workers", "progress"}


def stack_rows(ws: Workspace) -> list[dict]:
    """`kf stack`'s blends as rows like a run's: the OOF score over the same images in the
    metric of its input runs, per-fold scores from the fold column, the blender and its
    inputs from the submission's sidecar."""
    from kfold.intervals import fold_scores, read_rows, scoring_of
    from kfold.stack.run import STACK_PREFIX
    from kfold.submission import read_sidecar

    rows = []
    for path in sorted(ws.oof_dir.glob(f"{STACK_PREFIX}*.parquet")):
        name = path.name.removesuffix(".parquet")
        if name.endswith(".test"):
            continue
        side = read_sidecar(ws.submission_path(name)) or {}
        lineage = side.get("lineage") or {}
        inputs = lineage.get("runs") or []
        scoring = scoring_of(ws, name, inputs)
        oof = read_rows(ws, name, scoring)
        per_fold = fold_scores(oof, scoring.metric)
        scores = oof_scores(ws, name) if scoring.uses_delong else {
            "oof_auc": scoring.metric.score(oof.y, oof.output), "pooled": None, "drift": None}
        rows.append({
            "run": name, "model": f"stack: {lineage.get('blender', name[len(STACK_PREFIX):])}",
            "backend": f"of {len(inputs)} runs" if inputs else "", "size": None,
            "metric": scoring.metric.name, **scores, "fold_aucs": per_fold,
            "mean": float(np.mean(per_fold)), "std": float(np.std(per_fold)),
            "epochs": None, "seconds": None,
            "full": lineage.get("test_predictions") == "full", "explain": None,
            "config": {"blender": lineage.get("blender"), "inputs": "+".join(inputs)},
            "inputs": inputs, "created": side.get("created_utc") or "", "stack": True,
        })
    return rows


def best_public(ws: Workspace, competition: str | None = None) -> dict[str, float]:
    """For every run and stack name: the best public score (in the contest metric's
    direction) of any scored submission derived from it (its own file, a stack or retrain that used it), from the ledger. A submission of
    an earlier version of a name made from other inputs (a stack rerun on other runs) is not
    the current one's: it counts for its input runs only."""
    import json

    if not ws.ledger_path.exists():
        return {}
    from kfold.kaggle.ledger import Ledger
    from kfold.submission import contest_metric, read_sidecar

    metric = contest_metric(ws)
    out: dict[str, float] = {}
    with Ledger(ws.ledger_path, read_only=True) as led:
        rows = led.submissions(competition or ws.config.competition)
    current: dict[str, dict | None] = {}  # each name's sidecar lineage, read once
    for r in rows:
        if r["status"] != "complete" or r["public_score"] is None:
            continue
        lineage = json.loads(r["lineage"] or "null") or {}
        names = set(lineage.get("runs") or [])
        own = r["name"]
        if own and own not in current:  # a website file's name may hold any character
            path = ws.submissions_dir / f"{own}.csv"
            current[own] = ((read_sidecar(path) or {}).get("lineage")
                            if path.parent == ws.submissions_dir else None)
        if own and (not current[own] or _inputs(current[own]) == _inputs(lineage)):
            names.add(own)
        for name in names:
            if name not in out or metric.better(r["public_score"], out[name]):
                out[name] = r["public_score"]
    return out


def _inputs(lineage: dict) -> list[str]:
    return sorted(lineage.get("runs") or [])


def differing_settings(rows: list[dict]) -> list[str]:
    """The settings whose values are not the same in every listed row that has settings
    (only those are worth a column)."""
    configs = [r["config"] for r in rows if r.get("config") and not r.get("stack")]
    keys = sorted({k for c in configs for k in c} - _NOT_SETTINGS)
    return [k for k in keys
            if len({json_key(c.get(k)) for c in configs}) > 1]


def json_key(value) -> str:
    import json

    return json.dumps(value, sort_keys=True, default=str)


def check_sort(by: str) -> None:
    if by not in SORTS:
        from kfold.errors import KfError

        raise KfError(f"--sort {by!r}: choose one of {', '.join(SORTS)}")


def sort_rows(rows: list[dict], by: str) -> list[dict]:
    """oof: best OOF AUC first; time: newest first; name: alphabetical."""
    check_sort(by)
    if by == "oof":
        return sorted(rows, key=_better_first)
    if by == "time":
        return sorted(rows, key=lambda r: r.get("created") or "", reverse=True)
    return sorted(rows, key=lambda r: r["run"])


def plot_cv_vs_public(ws: Workspace, path=None, competition: str | None = None):
    """submissions/cv_vs_public.png: each scored submission to `competition` (default:
    kfold.toml's) as its CV against its public score in the contest's metric, labelled with
    its Kaggle ref and the name it was submitted under, with the y = x line; None when
    nothing is scored yet."""
    from kfold.kaggle.ledger import Ledger
    from kfold.submission import contest_metric

    if not ws.ledger_path.exists():
        return None
    with Ledger(ws.ledger_path, read_only=True) as led:
        pts = [(r["cv_auc"], r["public_score"], f"ref {r['ref']} {r['name'] or r['file'] or '?'}")
               for r in led.submissions(competition or ws.config.competition)
               if r["status"] == "complete" and r["public_score"] is not None
               and r["cv_auc"] is not None]
    if not pts:
        return None
    from kfold.plots import plt, save_figure

    fig, ax = plt.subplots(figsize=(5.5, 5))
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    ax.scatter(xs, ys, zorder=3)
    for x, y, label in pts:
        ax.annotate(label, (x, y), fontsize=7, xytext=(4, 3), textcoords="offset points")
    lo, hi = min(xs + ys), max(xs + ys)
    pad = max((hi - lo) * 0.1, 0.005)
    metric = contest_metric(ws)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], ":", color="gray", label="public = CV")
    ax.set(xlim=(lo - pad, hi + pad), ylim=(lo - pad, hi + pad),
           xlabel=f"CV (OOF) {metric.label}", ylabel=f"public leaderboard {metric.label}",
           title=f"CV vs public, {len(pts)} submission(s)")
    ax.legend(fontsize=7, loc="lower right" if metric.higher_is_better else "upper left")
    return save_figure(fig, path or ws.submissions_dir / "cv_vs_public.png")
