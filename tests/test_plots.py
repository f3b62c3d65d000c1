"""Training curves: whole-number epoch ticks and each fold's best epoch marked."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from kfold import plots


def test_curves_have_integer_epoch_ticks_and_a_star_at_the_best_epoch(tmp_path, monkeypatch):
    h = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [0.7, 0.5, 0.4],
                      "val_loss": [0.6, 0.5, 0.55], "auc": [0.7, 0.9, 0.85]})
    figs = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path, **kw: figs.append(fig) or path)
    plots.plot_training_curves({"fold0": h}, tmp_path / "c.png", "t")
    ax_loss, ax_auc = figs[0].axes
    for ax in (ax_loss, ax_auc):
        ticks = [t for t in ax.get_xticks() if 1 <= t <= 3]
        assert ticks and all(float(t).is_integer() for t in ticks)
    star = next(ln for ln in ax_auc.get_lines() if ln.get_marker() == "*")
    assert list(star.get_xdata()) == [2] and list(star.get_ydata()) == [0.9]
    assert any(list(ln.get_xdata()) == [2, 2] for ln in ax_loss.get_lines())  # the dotted line
    plt.close(figs[0])
