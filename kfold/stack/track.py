"""How often a stack's OOF gain over the best single run held on held-out test labels.

Measured by `kf bench --case survival` (kfold.bench.survival: small synthetic contests of
the demo's size, three runs of one signal, fold models on more or less different scales),
binned by the size of the OOF gain, and by `kf bench --case survival-cnn` (kfold.bench.
survival_cnn: the demo's three CNN runs trained on several data seeds, a few contests but
real training). `kf stack` and `kf plan` quote the bin of a stack's gain beside it, with
both records, so a gain is read with its track record, not as a bare p-value. Rerun the
bench cases and update `RECORD` and `CNN_RECORD` when the blenders, the scoring or the
demo's runs change.
"""

from __future__ import annotations

BINS = ((-1.0, 0.0), (0.0, 0.005), (0.005, 0.01), (0.01, 0.02), (0.02, 1.0))

#: (cases, share whose test gain was positive, mean test gain) per bin of BINS, from
#: `kf bench --case survival` (100 contests, seed 0; docs/stack.md, "Track record")
RECORD: tuple[tuple[int, float | None, float | None], ...] = (
    (7, 0.571, -0.0003), (57, 0.439, -0.0003), (13, 0.769, 0.0077), (15, 0.8, 0.0129),
    (8, 1.0, 0.0245),
)


#: (data seed, OOF gain, test gain) of the best stack over the best run, one per data seed,
#: from `kf bench --case survival-cnn` (docs/stack.md, "Track record")
CNN_RECORD: tuple[tuple[int, float, float], ...] = (
    (0, 0.02758, 0.0176), (1, 0.02293, 0.01245), (2, 0.01999, 0.00214), (3, 0.02061, 0.01233),
    (4, 0.00669, 0.03509), (5, 0.02385, 0.00269), (6, 0.01578, -0.00587), (7, 0.0147, 0.01304),
)


def bin_of(gain: float) -> int:
    """Index of the bin of BINS holding `gain` (the last bin for anything above)."""
    for i, (low, high) in enumerate(BINS):
        if low <= gain < high:
            return i
    return 0 if gain < BINS[0][0] else len(BINS) - 1


def bin_label(i: int) -> str:
    """Bin `i` of BINS in words: "below +0.000", "+0.005 to +0.010", "+0.020 and above"."""
    low, high = BINS[i]
    if i == 0:
        return f"below {high:+.3f}"
    return f"{low:+.3f} and above" if i == len(BINS) - 1 else f"{low:+.3f} to {high:+.3f}"


def track_record(gain: float) -> str:
    """How often an OOF gain of this size held on the test labels: in the simulated
    contests, then in the trained-CNN ones."""
    i = bin_of(gain)
    cases, held, mean = RECORD[i]
    simulated = (f"no simulated contest had an OOF gain {bin_label(i)}" if not cases else
                 f"OOF gains {bin_label(i)} held on the test labels in {held:.0%} of {cases} "
                 f"synthetic contests (mean test gain {mean:+.4f}; kf bench --case survival)")
    return f"{simulated}; {cnn_record(i)}"


def cnn_record(i: int) -> str:
    """How many trained-CNN contests had a gain in bin `i`, and how many of those held."""
    test = [t for _, g, t in CNN_RECORD if bin_of(g) == i]
    head = f"of {len(CNN_RECORD)} trained-CNN contests (kf bench --case survival-cnn), "
    if not test:
        return head + "none had a gain this size"
    return head + f"{len(test)} had a gain this size and {sum(t > 0 for t in test)} held"
