"""The track record of OOF gains: every bin measured, a gain read with its bin's record,
and the bench case that measures it."""

import numpy as np
import pytest

from kfold.bench.survival import gains, measure, write_case
from kfold.stack.track import BINS, RECORD, bin_label, bin_of, track_record


def test_bins_cover_every_gain_and_each_has_a_measured_record():
    assert len(RECORD) == len(BINS) and sum(cases for cases, _, _ in RECORD) >= 100
    assert [bin_of(g) for g in (-0.05, 0.0, 0.004, 0.007, 0.015, 0.3, 2.0)] == [0, 1, 1, 2, 3, 4, 4]
    assert all(low < high for low, high in BINS)
    assert (bin_label(0), bin_label(2), bin_label(4)) == (
        "below +0.000", "+0.005 to +0.010", "+0.020 and above")


@pytest.mark.parametrize("gain", [-0.002, 0.003, 0.007, 0.012, 0.05])
def test_a_gain_is_quoted_with_its_bins_share_and_case_count(gain):
    cases, held, _ = RECORD[bin_of(gain)]
    text = track_record(gain)
    assert (f"in {held:.0%} of {cases} synthetic contests" in text if cases
            else "no measured contest" in text)


def test_a_case_holds_its_test_labels_apart_and_measures_both_gains(tmp_path):
    ws, y_test = write_case(tmp_path, np.random.default_rng(0))
    assert len(y_test) == 600 and set(np.unique(y_test)) == {0, 1}
    oof_gain, test_gain = gains(ws, y_test)
    assert -1 < oof_gain < 1 and -1 < test_gain < 1


def test_the_bench_bins_every_case():
    rows = measure(n_cases=2)
    assert [r["cases"] for r in rows] and sum(r["cases"] for r in rows) == 2
