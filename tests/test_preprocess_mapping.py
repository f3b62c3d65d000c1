"""Boxes into the model's input frame and heatmaps back, exact through crop and resize.
No model: a synthetic image whose defect position is known."""

from __future__ import annotations

import numpy as np
import pytest

from kfold.data.preprocess import (
    Preprocess,
    box_to_input,
    heatmap_to_original,
    input_box_mask,
    point_to_original,
)
from kfold.errors import KfError
from kfold.explain.metrics import localization

H = W = 267
CROP, SIZE = 20, 64
BOX = (180, 60, 209, 89)  # inclusive pixel indices: a 30 x 30 defect


def _chip() -> np.ndarray:
    """Dark chip, one bright square defect at BOX, bright junk in the border band."""
    img = np.full((H, W), 30, np.uint8)
    x1, y1, x2, y2 = BOX
    img[y1:y2 + 1, x1:x2 + 1] = 250
    img[:CROP - 2, :] = 255  # border scratches the crop removes
    img[:, W - 5:] = 255
    return img


def test_identity_when_nothing_is_cropped_or_resized():
    edges = box_to_input([BOX], (H, W), crop=0, size=W)[0]
    assert edges.tolist() == [180, 60, 210, 90]  # inclusive indices -> pixel edges
    mask = input_box_mask(edges, W)
    assert mask.sum() == 30 * 30 and mask[60, 180] and mask[89, 209] and not mask[90, 209]
    heat = np.random.default_rng(0).random((W, W)).astype(np.float32)
    assert np.array_equal(heatmap_to_original(heat, (H, W), 0), heat)


def test_box_lands_where_the_preprocessed_defect_is():
    img = _chip()
    small = Preprocess(crop=CROP).apply(img, SIZE)
    edges = box_to_input([BOX], (H, W), CROP, SIZE)[0]
    # exact arithmetic: (180 - 20) * 64 / 227 etc.
    s = SIZE / (W - 2 * CROP)
    assert np.allclose(edges, [(180 - CROP) * s, (60 - CROP) * s, (210 - CROP) * s, (90 - CROP) * s])
    mask = input_box_mask(edges, SIZE)
    bright = small > 140  # the resized defect (bilinear blurs about one pixel)
    inner = input_box_mask(edges + np.array([1, 1, -1, -1]), SIZE)
    outer = input_box_mask(edges + np.array([-1, -1, 1, 1]), SIZE)
    assert bright[inner].all()  # everything well inside the box is the defect
    assert not bright[~outer].any()  # and nothing outside it (the border junk is cropped)
    assert abs(int(bright.sum()) - int(mask.sum())) <= 2 * (mask.shape[0] // 4)
    # The centre of the defect in the input maps back onto the centre of the box.
    rows, cols = np.nonzero(bright)
    back = point_to_original([[cols.mean() + 0.5, rows.mean() + 0.5]], (H, W), CROP, SIZE)[0]
    assert np.allclose(back, [(180 + 210) / 2, (60 + 90) / 2], atol=0.6)


def test_heatmap_of_the_defect_maps_back_onto_the_box():
    small = Preprocess(crop=CROP).apply(_chip(), SIZE).astype(np.float32) / 255
    small[small < 0.5] = 0  # a "perfect" heatmap: the defect itself
    big = heatmap_to_original(small, (H, W), CROP)
    assert big.shape == (H, W)
    assert not big[:CROP].any() and not big[:, W - CROP:].any()  # the unseen border is zero
    m = localization(big[None], [np.array([BOX])]).iloc[0]
    assert m["hit"] and m["distance"] == 0
    assert m["energy"] > 0.9
    assert m["iou@0.5"] > 0.85


def test_box_mapping_round_trips_through_point_mapping():
    for crop, size in [(0, 32), (20, 64), (7, 300)]:
        edges = box_to_input([BOX], (H, W), crop, size)[0]
        back = point_to_original(edges.reshape(2, 2), (H, W), crop, size).ravel()
        assert np.allclose(back, [180, 60, 210, 90])


def test_non_square_original_and_batches():
    heat = np.zeros((3, SIZE, SIZE), np.float32)
    heat[:, 10, 40] = 1
    big = heatmap_to_original(heat, (200, 300), 10)
    assert big.shape == (3, 200, 300)
    r, c = np.unravel_index(big[0].argmax(), big[0].shape)
    x, y = point_to_original([[40.5, 10.5]], (200, 300), 10, SIZE)[0]
    assert abs(c + 0.5 - x) <= 1 and abs(r + 0.5 - y) <= 1


def test_box_inside_the_cropped_border_comes_out_empty():
    u0, v0, u1, v1 = box_to_input([(0, 0, 10, 10)], (H, W), CROP, SIZE)[0]
    assert u1 <= u0 and v1 <= v0
    assert not input_box_mask([u0, v0, u1, v1], SIZE).any()


def test_crop_that_leaves_nothing_is_an_error():
    with pytest.raises(KfError, match="leaves nothing"):
        box_to_input([BOX], (H, W), 140, SIZE)
    with pytest.raises(KfError, match="leaves nothing"):
        heatmap_to_original(np.zeros((8, 8)), (H, W), 140)
