"""Rich tables for the Kaggle commands; shared by the CLI and the demo."""

from __future__ import annotations

from datetime import datetime, timezone

from rich.console import Console
from rich.table import Table

from kfold.kaggle.flow import LeaderboardView, SubmissionsView, SubmitResult
from kfold.kaggle.planner import Plan


def _f(x, digits: int = 5) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _until(reset: datetime) -> str:
    secs = int((reset - datetime.now(timezone.utc)).total_seconds())
    h, rem = divmod(max(secs, 0), 3600)
    return f"{h}h{rem // 60:02d}m"


def print_submit(console: Console, r: SubmitResult) -> None:
    for w in r.warnings:
        console.print(f"[yellow]warning:[/] {w}", highlight=False)
    line = f"submitted [bold]{r.file.name}[/] (ref {r.ref}, CV {_f(r.cv_auc)}): {r.status}"
    if r.public_score is not None:
        line += f", public {_f(r.public_score)}"
    console.print(line, highlight=False)
    if r.left_today is not None:
        console.print(f"{r.left_today} submission(s) left today", highlight=False)


def print_submissions(console: Console, v: SubmissionsView) -> None:
    t = Table(title=f"submissions to {v.competition}")
    for col in ("date (UTC)", "file", "message", "CV", "public", "private", "status"):
        t.add_column(col, justify="right" if col in ("CV", "public", "private") else "left")
    for r in v.rows:
        status = r["status"] + (" (web)" if r["source"] == "remote" else "")
        t.add_row(r["utc"][:16].replace("T", " "), r["file"] or "-", r["message"] or "",
                  _f(r["cv_auc"]), _f(r["public_score"]), _f(r["private_score"]), status)
    console.print(t)
    if v.offline_reason:
        console.print(f"[yellow]offline:[/] {v.offline_reason}; showing the ledger only",
                      highlight=False)
    api = "" if v.api_allowed is None else f", Kaggle allows {v.api_allowed} more"
    console.print(
        f"{v.left_today} submission(s) left today ({v.used_today}/{v.daily_limit} used{api}); "
        f"quota resets at {v.reset_utc:%Y-%m-%d %H:%M} UTC (in {_until(v.reset_utc)})",
        highlight=False)
    if v.added:
        console.print(f"{v.added} submission(s) made outside kf were added to the ledger")


def print_leaderboard(console: Console, v: LeaderboardView) -> None:
    t = Table(title=f"{v.competition} public leaderboard (top {len(v.top)} of {v.n_teams})")
    for col in ("rank", "team", "score", "date (UTC)"):
        t.add_column(col, justify="right" if col in ("rank", "score") else "left")
    for r in v.top:
        style = "bold green" if v.our_team and r.team_name == v.our_team else None
        t.add_row(str(r.rank), r.team_name, _f(r.score),
                  r.date.strftime("%Y-%m-%d %H:%M") if r.date else "-", style=style)
    console.print(t)
    if v.our_rank is None:
        console.print(f"our team ({v.our_team or 'unknown'}) is not on the leaderboard yet")
    else:
        console.print(f"our rank: {v.our_rank}/{v.n_teams}, score {_f(v.our_score)}"
                      + (f"; rank over time: {v.png}" if v.png else ""), highlight=False)


def print_plan(console: Console, p: Plan) -> None:
    console.print(f"fit of public score on CV: {p.fit.text}", highlight=False)
    t = Table(title=f"plan: {p.slots_left} slot(s) left today (reset {p.reset_utc:%H:%M} UTC)")
    for col in ("#", "candidate", "CV", "diversity", "pred. public", "today"):
        t.add_column(col, justify="left" if col == "candidate" else "right")
    for i, r in enumerate(p.rows, 1):
        pub = "-" if r.predicted_public is None else (
            f"{r.predicted_public:.4f} ± {p.fit.spread:.4f}" if p.fit.spread == p.fit.spread
            else f"{r.predicted_public:.4f}")
        t.add_row(str(i), r.name, _f(r.cv), _f(r.diversity, 4), pub, "submit" if r.today else "")
    console.print(t)
    if not p.rows:
        console.print("no unsubmitted candidates under submissions/")
    for n in p.notes:
        console.print(f"note: {n}", highlight=False)
    if p.final:
        t = Table(title="final selections (private leaderboard)")
        for col in ("pick", "file", "CV", "public", "why"):
            t.add_column(col, overflow="fold")
        for i, s in enumerate(p.final, 1):
            t.add_row(str(i), s.name, _f(s.cv), _f(s.public), s.reason)
        console.print(t)
