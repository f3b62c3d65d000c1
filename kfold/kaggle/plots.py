"""`submissions/leaderboard_rank.png`: our public rank and score over time.

Readable whether there is one snapshot or hundreds: the date axis spans the points with a
margin of 5% of their span and at least half an hour (one snapshot once got an axis
spanning years, then one of a day with the points lost in its middle), ticks are concise
dates, ranks are whole numbers (best at the top), and our submissions' public scores are
drawn under the rank with our three best (in the metric's direction) starred and named in the legend by Kaggle ref and
the name they were submitted under (a dotted line on the rank plot when each was
submitted).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from kfold.scoring import Metric, get_metric

BEST_MARKED = 3  # submissions starred: the best public scores
STAR_COLORS = ("tab:orange", "tab:red", "tab:purple")


MIN_MARGIN = timedelta(minutes=30)  # each side of the points on the time axis


def _label(s: dict) -> str:
    """A submission by its Kaggle ref and the name it was submitted under."""
    name = s.get("name") or s.get("file") or ""
    return f"ref {s['ref']} {name}" if s.get("ref") is not None else name


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=None)


def plot_rank_history(history: list[dict], path: Path,
                      submissions: list[dict] | None = None,
                      metric: Metric | None = None) -> Path | None:
    """Rank (top) and public score (bottom) over time; None when we were never ranked.

    `history`: ledger snapshots (utc, our_rank, our_score, n_teams); `submissions`: ledger
    rows (submitted_utc or utc, public_score, ref, name, file); `metric`: the contest's
    (default AUC), whose direction picks the best scores and names the score axis."""
    points = [(_utc(h["utc"]), h["our_rank"], h["our_score"], h["n_teams"])
              for h in history if h["our_rank"] is not None]
    if not points:
        return None
    import matplotlib.dates as mdates
    from matplotlib.ticker import MaxNLocator

    from kfold.plots import plt, save_figure

    metric = metric or get_metric("auc")

    scored = [(_utc(s.get("submitted_utc") or s["utc"]), s["public_score"], _label(s))
              for s in submissions or [] if s.get("public_score") is not None]
    fig, (ax_rank, ax_score) = plt.subplots(2, 1, figsize=(7, 4.8), sharex=True,
                                            gridspec_kw={"height_ratios": [3, 2]})
    dates = [p[0] for p in points]
    ax_rank.plot(dates, [p[1] for p in points], marker="o", drawstyle="steps-post")
    ax_rank.invert_yaxis()
    ax_rank.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    lo, hi = min(p[1] for p in points), max(p[1] for p in points)
    if hi - lo < 4:  # a flat or single-point line: a few ranks of room, not 3.8…4.2,
        teams = max(p[3] or hi for p in points)  # and no rank below the last team
        ax_rank.set_ylim(min(hi + 2, teams + 0.5), max(0.5, lo - 2))
    ax_rank.set_ylabel("public rank")
    ax_rank.set_title(f"our public leaderboard rank (now {points[-1][1]} of {points[-1][3]} "
                      f"teams) and score")

    ax_score.plot(dates, [p[2] for p in points], marker="o", drawstyle="steps-post",
                  label="our leaderboard score")
    if scored:
        ax_score.plot([s[0] for s in scored], [s[1] for s in scored], "x", color="gray",
                      label="each submission's public score")
        best = sorted(scored, key=lambda s: metric.order(s[1]))[:BEST_MARKED]
        for i, (when, score, file), color in zip(range(1, 4), best, STAR_COLORS):
            ax_score.plot([when], [score], "*", ms=15 - 2 * i, color=color,
                          label=f"best {i}: {file} {score:.4f}")
            ax_rank.axvline(when, color=color, lw=0.9, ls=":")
    ax_score.set_ylabel(f"public {metric.label}")
    ax_score.legend(fontsize=7, loc="lower right" if metric.higher_is_better else "upper right")

    every = dates + [s[0] for s in scored]
    start, end = min(every), max(every)
    pad = max((end - start) * 0.05, MIN_MARGIN)
    ax_score.set_xlim(start - pad, end + pad)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax_score.xaxis.set_major_locator(locator)
    ax_score.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax_score.set_xlabel("UTC")
    fig.tight_layout()
    return save_figure(fig, path)
