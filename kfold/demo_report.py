"""The demo's results as markdown: `demo.md` in the demo workspace, and the README's demo
table regenerated from it (`kf demo --readme README.md`), so the README says what the
command printed on the commit it documents."""

from __future__ import annotations

from pathlib import Path

from kfold import atomic
from kfold.errors import KfError
from kfold.scoring import get_metric
from kfold.workspace import Workspace

TABLE_FILE = "demo.md"
START, END = "<!-- kf demo table: start -->", "<!-- kf demo table: end -->"


def candidate_rows(ws: Workspace, report) -> list[dict]:
    """Every run and stack of the stack report, best OOF AUC first: OOF AUC (fold-
    normalised) with its DeLong interval, pooled, the paired difference to the best run,
    and the stand-in's public and private AUC of its submission file (data/solution.csv)."""
    from kfold.kaggle.sandbox.scoring import Scorer

    scorer = Scorer.for_workspace(ws)
    solution = scorer.load(ws.data_dir / "solution.csv")
    rows = []
    for s in report.scores:
        content = ws.submission_path(s.name).read_bytes()
        public, private = scorer.score(content, solution)
        rows.append({"name": s.name, "kind": s.kind, "oof_auc": s.oof_auc,
                     "low": s.interval.low, "high": s.interval.high,
                     "pooled": s.pooled_auc, "drift": s.drift, "gain": s.gain,
                     "p": None if s.vs_best is None else s.vs_best.p_value,
                     "public": public, "private": private})
    return rows


def markdown(rows: list[dict], *, seed: int, seconds: dict, explain: str) -> str:
    """The demo table (markdown) and one line on whether the ensemble paid."""
    lines = [f"| kf demo, data seed {seed} | OOF AUC [95% DeLong] | pooled | vs best run "
             f"(p) | stand-in public / private |", "|---|---|---|---|---|"]
    for r in rows:
        name = f"**{r['name']}**" if r is best(rows, "stack") else r["name"]
        vs = "best run" if r["p"] is None and r["kind"] == "run" else (
            f"{r['gain']:+.3f} (p = {r['p']:.2g})" if r["p"] is not None else "")
        lines.append(f"| {name} | {r['oof_auc']:.3f} [{r['low']:.3f}, {r['high']:.3f}] | "
                     f"{r['pooled']:.3f}{' !' if r['drift'] else ''} | {vs} | "
                     f"{r['public']:.3f} / {r['private']:.3f} |")
    single, stack = best(rows, "run"), best(rows, "stack")
    paid = payoff_holds(rows)
    lines += ["", f"Best single run {single['name']}: OOF {single['oof_auc']:.3f}, private "
                  f"{single['private']:.3f}; best stack {stack['name']}: OOF "
                  f"{stack['oof_auc']:.3f}, private {stack['private']:.3f}; the ensemble "
                  f"{'paid on both' if paid else 'did not pay on both'}. {explain}",
              "", "Seconds per step: " + ", ".join(f"{k} {v:g}" for k, v in seconds.items())
              + ". OOF AUC is fold-normalised, pooled mixes the fold models' scales (! = more "
                "than 0.01 lower); docs/stack.md."]
    return "\n".join(lines) + "\n"


def payoff_holds(rows: list[dict], score: str = "oof_auc", metric: str = "auc") -> bool:
    """The best stack beats the best single run on OOF `score` and on the stand-in's private
    ids, in the `metric`'s direction."""
    better = get_metric(metric).better
    single, stack = best(rows, "run", score, metric), best(rows, "stack", score, metric)
    return better(stack[score], single[score]) and better(stack["private"], single["private"])


def best(rows: list[dict], kind: str, score: str = "oof_auc", metric: str = "auc") -> dict:
    """The row of the best run ("run") or stack ("stack") by OOF `score`, in the `metric`'s
    direction."""
    order = get_metric(metric).order
    return min((r for r in rows if r["kind"] == kind), key=lambda r: order(r[score]))


def write_table(ws: Workspace, text: str) -> Path:
    path = ws.root / TABLE_FILE
    atomic.write_text(path, text)
    return path


def check_readme(readme: Path) -> tuple[str, int, int]:
    """The README's text and where its demo table starts and ends; a KfError (before the
    demo trains anything) when it is missing or lacks either marker."""
    readme = Path(readme)
    if not readme.is_file():
        raise KfError(f"--readme {readme}: no such file")
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise KfError(f"--readme {readme}: it has no demo table between the lines {START!r} "
                      f"and {END!r}; add them where the table goes")
    return text, start + len(START), end


def update_readme(readme: Path, table: str) -> None:
    """Replace what stands between the README's demo-table markers with `table`."""
    text, start, end = check_readme(readme)
    atomic.write_text(readme, text[:start] + "\n" + table + text[end:])
