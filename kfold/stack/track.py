"""How often a stack's OOF gain over the best single run held on held-out test labels.

Measured by `kf bench --case survival` (kfold.bench.survival: small synthetic contests of
the demo's size, three runs of one signal, fold models on more or less different scales),
binned by the size of the OOF gain. `kf stack` and `kf plan` quote the bin of a stack's
gain beside it, so a gain is read with its track record, not as a bare p-value. Rerun the
bench case and update `RECORD` when the blenders or the scoring change.
"""

from __future__ import annotations

BINS = ((-1.0, 0.0), (0.0, 0.005), (0.005, 0.01), (0.01, 0.02), (0.02, 1.0))

#: (cases, share whose test gain was positive, mean test gain) per bin of BINS, from
#: `kf bench --case survival` (100 contests, seed 0; docs/stack.md, "Track record")
RECORD: tuple[tuple[int, float | None, float | None], ...] = (
    (7, 0.571, -0.0003), (57, 0.439, -0.0003), (13, 0.769, 0.0077), (15, 0.8, 0.0129),
    (8, 1.0, 0.0245),
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
    """One phrase: how often an OOF gain of this size held on the test labels."""
    i = bin_of(gain)
    cases, held, mean = RECORD[i]
    if not cases:
        return f"no measured contest had an OOF gain {bin_label(i)}"
    return (f"OOF gains {bin_label(i)} held on the test labels in {held:.0%} of {cases} "
            f"synthetic contests (mean test gain {mean:+.4f}; kf bench --case survival)")
