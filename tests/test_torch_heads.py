"""The torch head of each task: width, loss, activation, label smoothing and the collapse
measure (kfold.backends.torch.heads, recipe)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from kfold.backends import Head
from kfold.backends.rules import collapse_reason
from kfold.backends.torch.heads import activate, loss_fn, widen
from kfold.backends.torch.recipe import make_recipe
from kfold.backends.validation import collapse_range
from kfold.nets import create_model
from kfold.train_config import TrainConfig

MULTICLASS = Head("multiclass", 3, "logloss")


def test_a_widened_model_has_one_output_per_class():
    model = widen(create_model("simple-cnn", image_size=16), 6).eval()
    assert model(torch.zeros(2, 1, 16, 16)).shape == (2, 6)
    one = create_model("simple-cnn", image_size=16).eval()
    assert widen(one, 1)(torch.zeros(2, 1, 16, 16)).shape == (2,)


def test_each_task_has_its_loss():
    logits = torch.tensor([[2.0, 0.1, -1.0], [0.0, 1.0, 0.5]])
    y = torch.tensor([0.0, 2.0])
    assert loss_fn(MULTICLASS)(logits, y) == pytest.approx(
        nn.functional.cross_entropy(logits, y.long()).item())
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    assert loss_fn(Head("multilabel", 3, "auc-columns"))(logits, labels) == pytest.approx(
        nn.functional.binary_cross_entropy_with_logits(logits, labels).item())
    value, target = torch.tensor([0.0, 4.0]), torch.tensor([0.5, 0.0])
    head = Head("regression", 1, "rmse")
    assert loss_fn(head)(value, target) == pytest.approx(8.125)
    assert loss_fn(head, regression_loss="smooth-l1")(value, target) == pytest.approx(
        (0.125 + 3.5) / 2)


def test_weights_scale_each_image_loss():
    logits, y = torch.tensor([[2.0, 0.0], [0.0, 2.0]]), torch.tensor([0.0, 0.0])
    head = Head("multiclass", 2, "logloss")
    per = nn.functional.cross_entropy(logits, y.long(), reduction="none")
    assert loss_fn(head)(logits, y, torch.tensor([1.0, 0.0])) == pytest.approx(per[0].item() / 2)


def test_class_probabilities_sum_to_one_and_values_stay_values():
    logits = torch.tensor([[2.0, 0.1, -1.0], [0.0, 1.0, 0.5]])
    np.testing.assert_allclose(activate(logits, "multiclass").sum(1), 1.0, rtol=1e-6)
    assert torch.equal(activate(logits[:, 0], "regression"), logits[:, 0])
    assert ((activate(logits, "multilabel") > 0) & (activate(logits, "multilabel") < 1)).all()


def test_multiclass_label_smoothing_spreads_s_over_the_classes():
    recipe = make_recipe(TrainConfig(label_smoothing=0.3), nn.Linear(1, 1), MULTICLASS)
    _, target = recipe.inputs(torch.zeros(2, 1), torch.tensor([0.0, 2.0]))
    np.testing.assert_allclose(target, [[0.8, 0.1, 0.1], [0.1, 0.1, 0.8]], rtol=1e-6)
    assert loss_fn(MULTICLASS)(torch.zeros(2, 3), target) == pytest.approx(np.log(3))


def test_a_regression_target_is_never_smoothed():
    recipe = make_recipe(TrainConfig(label_smoothing=0.3), nn.Linear(1, 1),
                         Head("regression", 1, "rmse"))
    y = torch.tensor([3.0, 7.5])
    assert torch.equal(recipe.inputs(torch.zeros(2, 1), y)[1], y)


def test_a_model_that_says_one_class_for_everything_collapses():
    one_class = np.array([[0.5, 0.3, 0.2], [0.6, 0.1, 0.3], [0.4, 0.35, 0.25]])
    assert collapse_range(MULTICLASS, one_class) == 0.0
    assert collapse_reason(collapse_range(MULTICLASS, one_class), np.nan).startswith("constant")
    varied = one_class.copy()
    varied[2] = [0.1, 0.8, 0.1]
    assert collapse_range(MULTICLASS, varied) > 0.5


def test_mixup_mixes_multiclass_targets_into_rows_that_sum_to_one():
    np.random.seed(0)
    recipe = make_recipe(TrainConfig(mixup=1.0), nn.Linear(1, 1), MULTICLASS)
    x, target = recipe.inputs(torch.rand(4, 1, 8, 8), torch.tensor([0.0, 1.0, 2.0, 0.0]))
    assert x.shape == (4, 1, 8, 8) and target.shape == (4, 3)
    np.testing.assert_allclose(target.sum(1), 1.0, rtol=1e-6)
    assert loss_fn(MULTICLASS)(torch.zeros(4, 3), target) == pytest.approx(np.log(3))
