"""Rich tables for the Kaggle commands; shared by the CLI and the demo."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from kfold import views
from kfold.kaggle.flow import LeaderboardView, SubmissionsView, SubmitResult
from kfold.kaggle.planner import Plan
from kfold.scoring import Metric, get_metric
from kfold.views import Col


def _f(x, digits: int = 5) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _labelled(label: str, style: str, message: str) -> Text:
    return Text(f"{label}: ", style=style) + Text(message)


def print_submit(console: Console, r: SubmitResult) -> None:
    for w in r.warnings:
        console.print(_labelled("warning", "yellow", w), highlight=False)
    if r.quota is not None:  # a dry run
        console.print(Text(f"dry run: {r.file.name} ({_cv(r)}, sha256 {r.sha256[:12]}) "
                           f"is valid and would use 1 slot; nothing was uploaded"), highlight=False)
        console.print(Text(r.quota.text()), highlight=False)
        return
    line = Text("submitted ") + Text(r.file.name, style="bold")
    line += Text(f" (ref {r.ref}, {_cv(r)}): {r.status}")
    if r.public_score is not None:
        line += Text(f", public {_f(r.public_score)}")
    console.print(line, highlight=False)
    if r.archive is not None:
        console.print(Text(f"the uploaded bytes are kept in {r.archive}"), highlight=False)
    if r.left_today is not None:
        console.print(f"{r.left_today} submission(s) left today", highlight=False)


def _cv(r: SubmitResult) -> str:
    """The file's CV named by its metric: "CV log loss 0.41230" (AUC's as "CV 0.91230")."""
    name = "" if r.metric == "auc" else f" {get_metric(r.metric).title}"
    return f"CV{name} {_f(r.cv_auc)}"


def print_submissions(console: Console, v: SubmissionsView) -> None:
    scores = _score_headers(v.metric)
    cols = [Col(c, right=c in ("ref", *scores))
            for c in ("date (UTC)", "ref", "submitted as", "file", "message", *scores,
                      "status", "scored bytes")]
    rows = [[r["utc"][:16].replace("T", " "), r["ref"], r["name"] or "-", r["file"] or "-",
             r["message"] or "",
             _f(r["cv_auc"]), _f(r["public_score"]), _f(r["private_score"]),
             r["status"] + (" (web)" if r["source"] == "remote" else ""), r["bytes_at"] or "-"]
            for r in v.rows]
    console.print(views.table(f"submissions to {v.competition}", cols, rows))
    console.print(Text(v.quota.text()), highlight=False)
    if v.quota.added:
        console.print(f"{v.quota.added} submission(s) made outside kf were added to the ledger")


def print_leaderboard(console: Console, v: LeaderboardView) -> None:
    cols = [Col("rank", right=True), Col("team"), Col(v.metric.label, right=True),
            Col("date (UTC)")]
    rows = [[r.rank, r.team_name, _f(r.score), r.date.strftime("%Y-%m-%d %H:%M") if r.date else "-"]
            for r in v.top]
    styles = ["bold green" if v.our_team and r.team_name == v.our_team else None for r in v.top]
    console.print(views.table(
        f"{v.competition} public leaderboard (top {len(v.top)} of {v.n_teams})", cols, rows,
        styles=styles))
    if v.our_rank is None:
        console.print(f"our team ({v.our_team or 'unknown'}) is not on the leaderboard yet")
    else:
        console.print(f"our rank: {v.our_rank}/{v.n_teams}, score {_f(v.our_score)}"
                      + (f"; rank over time: {v.png}" if v.png else ""), highlight=False)


def print_plan(console: Console, p: Plan) -> None:
    if p.quota is not None:
        console.print(Text(p.quota.text()), highlight=False)
    console.print(f"scores: {p.metric.title}, {'higher' if p.metric.higher_is_better else 'lower'}"
                  f" is better; fit of public score on CV: {p.fit.text}", highlight=False)
    cols = [Col(c, right=c != "candidate", no_wrap=c != "candidate")
            for c in ("#", "candidate", f"CV {p.metric.label}", "exp. private [95%]",
                      "diversity", "pred. public [95%]", "today")]
    rows = [[i, r.name, _f(r.cv), _range(r.expected_private, r.private_low, r.private_high),
             _f(r.diversity, 4), _range(r.predicted_public, r.public_low, r.public_high),
             "submit" if r.today else ""] for i, r in enumerate(p.rows, 1)]
    console.print(views.table(
        f"plan: {p.slots_left} slot(s) left today (reset {p.reset_utc:%H:%M} UTC)", cols, rows))
    if not p.rows:
        console.print("no unsubmitted candidates under submissions/")
    for n in p.notes:
        console.print(Text(f"note: {n}"), highlight=False)
    if p.final:
        cols = [Col(c, fold=True) for c in ("pick", "file", *_score_headers(p.metric)[:2],
                                            "exp. private", "why")]
        rows = [[i, s.label, _f(s.cv), _f(s.public), _f(s.expected_private, 4), s.reason]
                for i, s in enumerate(p.final, 1)]
        console.print(views.table("final selections (private leaderboard)", cols, rows))


def plan_records(p: Plan) -> dict:
    """The plan as plain data for --format json."""
    fit = p.fit
    slope, offset = fit.slope_interval(), fit.offset_interval()
    rows = plan_rows(p)
    return {
        "competition": p.competition, "metric": p.metric.name,
        "higher_is_better": p.metric.higher_is_better, "slots_left": p.slots_left, "reset_utc": p.reset_utc,
        "quota": p.quota.text() if p.quota is not None else None,  # where slots_left came from
        "fit": {"n": fit.n, "slope": fit.slope, "intercept": fit.intercept, "spread": fit.spread,
                "slope_low": slope[0] if slope else None,
                "slope_high": slope[1] if slope else None,
                "offset_low": offset[0] if offset else None,
                "offset_high": offset[1] if offset else None, "text": fit.text},
        "candidates": [r for r in rows if r["section"] == "candidate"],
        "final": [r for r in rows if r["section"] == "final"], "notes": p.notes,
    }


PLAN_FIELDS = ("section", "rank", "name", "cv", "expected_private", "private_low",
               "private_high", "diversity", "predicted_public", "public_low", "public_high",
               "submit_today", "path", "public", "submitted", "ref", "reason")


def plan_rows(p: Plan) -> list[dict]:
    """One flat dict per candidate, then one per final pick (section says which): --format csv."""
    rows = [{"section": "candidate", "rank": i, "name": r.name, "cv": r.cv,
             "expected_private": r.expected_private, "private_low": r.private_low,
             "private_high": r.private_high, "diversity": r.diversity,
             "predicted_public": r.predicted_public, "public_low": r.public_low,
             "public_high": r.public_high, "submit_today": r.today, "path": r.path}
            for i, r in enumerate(p.rows, 1)]
    rows += [{"section": "final", "rank": i, "name": s.name, "cv": s.cv, "public": s.public,
              "expected_private": s.expected_private, "submitted": s.submitted,
              "ref": s.ref, "reason": s.reason} for i, s in enumerate(p.final, 1)]
    return rows


def _score_headers(metric: Metric) -> tuple[str, str, str]:
    """CV, public and private score columns, the CV's named with the metric's direction."""
    return f"CV {metric.label}", "public", "private"


def _range(value: float | None, low: float | None, high: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if low is None else f"{value:.4f} [{low:.4f}, {high:.4f}]"
