"""Localization metrics on hand-made heatmaps with known answers; box checks; selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kfold.errors import KfError
from kfold.explain import select
from kfold.explain.boxes import boxes_by_id
from kfold.explain.metrics import localization, summarize

BOX = np.array([[10, 20, 19, 29]])  # inclusive: columns 10..19, rows 20..29 (100 pixels)


def _heat(points: dict[tuple[int, int], float], shape=(50, 60)) -> np.ndarray:
    h = np.zeros(shape, np.float32)
    for (x, y), v in points.items():
        h[y, x] = v
    return h


def test_peak_inside_the_box():
    m = localization(_heat({(15, 25): 1.0})[None], [BOX]).iloc[0]
    assert m["hit"] and m["distance"] == 0 and m["energy"] == 1.0
    assert (m["peak_x"], m["peak_y"]) == (15, 25)


def test_peak_on_the_box_edge_is_inside():
    for x, y in [(10, 20), (19, 29), (19, 20)]:
        assert localization(_heat({(x, y): 1.0})[None], [BOX]).iloc[0]["hit"]
    assert not localization(_heat({(20, 29): 1.0})[None], [BOX]).iloc[0]["hit"]


def test_peak_outside_at_a_known_distance():
    # 3 columns right of x_2 = 19 and 4 rows below y_2 = 29: distance 5.
    m = localization(_heat({(22, 33): 1.0, (15, 25): 0.5})[None], [BOX]).iloc[0]
    assert not m["hit"] and m["distance"] == pytest.approx(5.0)
    # straight left of the box
    m = localization(_heat({(4, 22): 1.0})[None], [BOX]).iloc[0]
    assert m["distance"] == pytest.approx(6.0)


def test_half_the_mass_inside():
    m = localization(_heat({(15, 25): 1.0, (40, 5): 1.0})[None], [BOX]).iloc[0]
    assert m["energy"] == pytest.approx(0.5)
    uniform = np.zeros((50, 60), np.float32)
    uniform[20:30, 0:20] = 1.0  # 200 hot pixels, 100 of them in the box
    m = localization(uniform[None], [BOX]).iloc[0]
    assert m["energy"] == pytest.approx(0.5)
    assert m["iou@0.5"] == pytest.approx(100 / 200)


def test_iou_at_thresholds():
    h = np.zeros((50, 60), np.float32)
    h[20:30, 10:20] = 1.0  # the box, exactly
    h[0:10, 40:50] = 0.4  # a weaker blob of the same size elsewhere
    m = localization(h[None], [BOX]).iloc[0]
    assert m["iou@0.5"] == pytest.approx(1.0) and m["iou@0.75"] == pytest.approx(1.0)
    assert m["iou@0.25"] == pytest.approx(0.5)


def test_flat_heatmap_is_a_counted_miss():
    per = localization(np.zeros((2, 50, 60), np.float32), [BOX, BOX])
    assert not per["hit"].any() and per["flat"].all() and per["distance"].isna().all()
    assert (per["energy"] == 0).all() and (per["iou@0.5"] == 0).all()
    s = summarize(per)
    assert s["n"] == 2 and s["flat"] == 2 and s["pointing_game"] == 0 and s["distance_mean"] is None


def test_several_boxes_are_a_union():
    boxes = np.array([[10, 20, 19, 29], [40, 0, 45, 5]])
    m = localization(_heat({(42, 3): 1.0})[None], [boxes]).iloc[0]
    assert m["hit"] and m["distance"] == 0
    m = localization(_heat({(42, 9): 1.0})[None], [boxes]).iloc[0]
    assert m["distance"] == pytest.approx(4.0)  # nearest box, not the first one


def test_summary_means():
    per = localization(np.stack([_heat({(15, 25): 1.0}), _heat({(22, 33): 1.0})]), [BOX, BOX])
    s = summarize(per)
    assert s["pointing_game"] == 0.5 and s["distance_mean"] == pytest.approx(2.5)
    assert s["distance_median"] == pytest.approx(2.5)
    assert summarize(per.head(0))["pointing_game"] is None


# --- boxes: bad coordinates are a counted skip, never a silent wrong number ----------------
def test_bad_boxes_are_counted_not_scored():
    ids = np.array(["a", "b", "c", "d", "e", "f", "g"])
    targets = np.array([1, 1, 1, 1, 0, 1, 1])
    hw = np.full((7, 2), 100)
    boxes = pd.DataFrame({
        "id": ["a", "b", "c", "d", "e", "zz", "f", "g"],
        "x_1": [10, 30, -5, 10, 10, 10, 0, 50],
        "y_1": [10, 30, 10, 10, 10, 10, 0, 50],
        "x_2": [20, 20, 20, 150, 20, 20, 5, 100],
        "y_2": [20, 40, 20, 20, 20, 20, 5, 60],
    })
    valid, skipped = boxes_by_id(boxes, ids, targets, hw, crop=8)
    assert list(valid) == ["a", "g"]
    assert valid["g"].tolist() == [[50, 50, 99, 60]]  # x_2 = W read as the last pixel
    assert skipped == {"inverted": 1, "outside the image": 2, "image labelled good": 1,
                       "unknown id": 1, "inside the cropped border": 1, "clamped": 1}


# --- selection -----------------------------------------------------------------------------
def _oof() -> pd.DataFrame:
    target = [1] * 6 + [0] * 6
    pred = [0.9, 0.8, 0.7, 0.2, 0.1, 0.3, 0.6, 0.95, 0.1, 0.2, 0.3, 0.05]
    return pd.DataFrame({"id": [f"i{k:02d}" for k in range(12)], "target": target,
                         "fold": [k % 2 for k in range(12)], "pred": pred})


def test_choose_mixes_outcomes():
    shown = select.choose(_oof(), 4)
    assert shown["outcome"].tolist() == ["TP", "TP", "FP", "FN"]
    assert shown["id"].tolist() == ["i00", "i01", "i07", "i04"]  # most confident / most missed


def test_choose_fills_from_other_groups():
    shown = select.choose(_oof(), 10)
    assert len(shown) == 10 and shown["id"].is_unique
    assert set(shown["outcome"]) >= {"TP", "FP", "FN"}


def test_unknown_ids_are_an_error():
    with pytest.raises(KfError, match="not training images.*nope"):
        select.by_ids(_oof(), ["i01", "nope"])
    assert select.by_ids(_oof(), ["i03", "i01"])["id"].tolist() == ["i03", "i01"]


def test_chance_level_is_the_box_share():
    m = localization(_heat({(15, 25): 1.0})[None], [BOX]).iloc[0]
    assert m["box_share"] == pytest.approx(100 / 3000)
    assert summarize(localization(np.zeros((1, 50, 60)), [BOX]))["chance"] == pytest.approx(1 / 30)


def test_transformer_tokens_become_a_map():
    import torch

    from kfold.backends.torch.cam import tokens_to_map

    tokens = torch.arange(2 * 17 * 3, dtype=torch.float32).reshape(2, 17, 3)  # cls + 4x4
    grid = tokens_to_map(tokens)
    assert grid.shape == (2, 3, 4, 4)
    assert torch.equal(grid[0, :, 0, 0], tokens[0, 1])  # the class token is dropped
    conv = torch.zeros(2, 3, 4, 4)
    assert tokens_to_map(conv) is conv
