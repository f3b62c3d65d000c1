"""The checkpoint rule: the best validation AUC wins, but a later epoch as good within the
AUC's noise and with a lower validation loss replaces a badly calibrated early one."""

import numpy as np

from kfold.backends.rules import checkpoint_verdict
from kfold.backends.torch.loop import _improved
from kfold.stats import hanley_mcneil_se

N_POS, N_NEG = 120, 280  # a demo fold's validation images


def test_a_higher_auc_is_better_whatever_its_loss():
    assert checkpoint_verdict(0.87, 5.0, 0.86, 0.3, N_POS, N_NEG) == "better"


def test_an_auc_within_one_standard_error_and_a_lower_loss_replaces_the_kept_epoch():
    se = hanley_mcneil_se(0.865, N_POS, N_NEG)
    assert 0.012 < se  # the fold: epoch 0 at 0.865 (loss 2.3) against 0.853 (0.3)
    assert checkpoint_verdict(0.853, 0.3, 0.865, 2.3, N_POS, N_NEG) == "as good, lower loss"
    assert checkpoint_verdict(0.865 - 1.01 * se, 0.3, 0.865, 2.3, N_POS, N_NEG) is None


def test_a_lower_auc_with_a_higher_loss_or_an_undefined_auc_is_not_kept():
    assert checkpoint_verdict(0.86, 2.4, 0.865, 2.3, N_POS, N_NEG) is None
    assert checkpoint_verdict(float("nan"), 0.1, 0.865, 2.3, N_POS, N_NEG) is None


def _epochs(rows, val_y):
    state = {"epoch": 0, "best_auc": -1.0, "best_epoch": -1, "bad_epochs": 0}
    for auc, loss in rows:
        _improved(state, {"auc": auc, "val_loss": loss}, True, val_y)
        state["epoch"] += 1
    return state


def test_torch_keeps_the_calibrated_epoch_and_counts_patience_from_the_best_auc():
    val_y = np.array([1] * N_POS + [0] * N_NEG)
    state = _epochs([(0.865, 2.3), (0.853, 0.9), (0.853, 0.3)], val_y)
    assert state["best_epoch"] == 2 and state["best_auc"] == 0.853
    assert state["top_auc"] == 0.865 and state["bad_epochs"] == 2
    assert _epochs([(0.80, 0.5), (0.84, 0.6), (0.70, 0.2)], val_y)["best_epoch"] == 1
