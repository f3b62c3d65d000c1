"""The rank history plot reads right for one snapshot and for many."""

from __future__ import annotations

from datetime import datetime, timedelta

import matplotlib.pyplot as plt
import pytest

from kfold import plots
from kfold.kaggle.plots import plot_rank_history

T0 = datetime(2026, 11, 30, 12, 0)


def _snap(t, rank, score):
    return {"utc": t.isoformat() + "+00:00", "our_rank": rank, "our_score": score, "n_teams": 13}


@pytest.fixture
def figures(monkeypatch):
    figs = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path, **kw: figs.append(fig) or path)
    yield figs
    for f in figs:
        plt.close(f)


def _span_days(ax) -> float:
    lo, hi = ax.get_xlim()
    return hi - lo  # matplotlib dates are in days


def test_one_snapshot_gets_an_hour_wide_axis_and_whole_ranks(figures, tmp_path):
    subs = [{"utc": T0.isoformat(), "public_score": 0.91, "ref": 7, "name": "a", "file": "a.csv"}]
    assert plot_rank_history([_snap(T0, 4, 0.91)], tmp_path / "r.png", subs) is not None
    ax_rank, ax_score = figures[0].axes
    assert _span_days(ax_score) * 24 == pytest.approx(1.0)  # not years, not a day
    ticks = [t for t in ax_rank.get_yticks() if ax_rank.get_ylim()[1] <= t <= ax_rank.get_ylim()[0]]
    assert len(ticks) >= 3 and all(float(t).is_integer() for t in ticks)
    star = next(ln for ln in ax_score.get_lines() if ln.get_marker() == "*")
    assert list(star.get_ydata()) == [0.91]
    assert ax_score.get_legend_handles_labels()[1][-1] == "best 1: ref 7 a 0.9100"


def test_many_snapshots_span_their_dates_and_star_our_best_submissions(figures, tmp_path):
    snaps = [_snap(T0 + timedelta(days=d), 10 - d, 0.8 + d / 100) for d in range(8)]
    subs = [{"utc": (T0 + timedelta(days=d)).isoformat(), "public_score": 0.8 + d / 100,
             "file": f"s{d}.csv"} for d in range(8)]
    plot_rank_history(snaps, tmp_path / "r.png", subs)
    ax_rank, ax_score = figures[0].axes
    assert 7 < _span_days(ax_score) < 9
    stars = [ln for ln in ax_score.get_lines() if ln.get_marker() == "*"]
    assert [ln.get_xdata()[0] for ln in stars] == [T0 + timedelta(days=d) for d in (7, 6, 5)]
    assert [ln.get_label().split()[2] for ln in stars] == ["s7.csv", "s6.csv", "s5.csv"]
    marked = [ln for ln in ax_rank.get_lines() if ln.get_linestyle() == ":"]
    assert len(marked) == 3  # when each was submitted, on the rank plot too
    assert ax_rank.yaxis_inverted()


def test_last_place_draws_no_rank_below_the_last_team(figures, tmp_path):
    plot_rank_history([_snap(T0, 13, 0.5)], tmp_path / "r.png")
    low, high = figures[0].axes[0].get_ylim()
    assert low == 13.5 and high < 13


def test_never_ranked_draws_nothing(tmp_path):
    assert plot_rank_history([{"utc": T0.isoformat(), "our_rank": None, "our_score": None,
                               "n_teams": 3}], tmp_path / "r.png") is None
