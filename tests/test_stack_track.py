"""The track record of OOF gains: every bin measured, a gain read with its bin's record,
and the bench case that measures it."""

import numpy as np
import pytest

from kfold.bench.survival import gains, measure, write_case
from kfold.stack import track
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
            else "no simulated contest" in text)


def test_the_trained_cnn_record_is_measured_and_quoted_by_bin(monkeypatch):
    assert len(track.CNN_RECORD) >= 3 and len({seed for seed, _, _ in track.CNN_RECORD}) == len(
        track.CNN_RECORD)
    monkeypatch.setattr(track, "CNN_RECORD", ((0, 0.025, 0.01), (1, 0.03, -0.002),
                                              (2, 0.001, 0.004)))
    assert track_record(0.04).endswith(
        "of 3 trained-CNN contests (kf bench --case survival-cnn), 2 had a gain this size and "
        "1 held")
    assert track_record(0.007).endswith("none had a gain this size")


def test_a_case_holds_its_test_labels_apart_and_measures_both_gains(tmp_path):
    ws, y_test = write_case(tmp_path, np.random.default_rng(0))
    assert len(y_test) == 600 and set(np.unique(y_test)) == {0, 1}
    gain = gains(ws, y_test)
    assert gain.run.startswith("run") and gain.stack.startswith("stack-")
    assert -1 < gain.oof < 1 and -1 < gain.test < 1


def test_the_bench_bins_every_case():
    rows = measure(n_cases=2)
    assert [r["cases"] for r in rows] and sum(r["cases"] for r in rows) == 2


def test_the_cnn_case_trains_the_demos_runs_and_resumes(tmp_path, monkeypatch):
    from dataclasses import replace

    from kfold import demo
    from kfold.bench.survival_cnn import train_case

    small = replace(demo.SIMPLE_CNN, image_size=32, batch_size=16)  # the demo's runs, shrunk
    runs = tuple((name, replace(small, model_seed=k)) for k, (name, _) in enumerate(demo.RUNS))
    monkeypatch.setattr(demo, "RUNS", runs)
    first = train_case(tmp_path, seed=3, n_train=60, n_test=30, epochs=1)
    assert first["data_seed"] == 3 and first["held"] == (first["test_gain"] > 0)
    assert first["best_run"] in dict(runs) and first["best_stack"].startswith("stack-")
    assert sorted(p.parent.name for p in (tmp_path / "models").glob("*/run.json")) == sorted(
        dict(runs))
    weights = sorted((tmp_path / "models").rglob("*.pt"))
    stamps = [p.stat().st_mtime_ns for p in weights]
    assert train_case(tmp_path, seed=3, n_train=60, n_test=30, epochs=1) == first
    assert [p.stat().st_mtime_ns for p in weights] == stamps  # nothing trained twice
