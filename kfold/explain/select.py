"""Which images to show: a mix of true positives, false positives and false negatives from
the run's out-of-fold predictions, or ids the user names."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kfold.errors import KfError

# Share of the grid per outcome; a group with too few images leaves its places to the others.
MIX = (("TP", 0.5), ("FP", 0.25), ("FN", 0.25))


def outcome(target: np.ndarray, pred: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """'TP', 'FP', 'FN' or 'TN' per image at `threshold`."""
    target, positive = np.asarray(target) == 1, np.asarray(pred) >= threshold
    return np.where(target, np.where(positive, "TP", "FN"), np.where(positive, "FP", "TN"))


def choose(oof: pd.DataFrame, n: int, boxed: set[str] = frozenset(),
           threshold: float = 0.5) -> pd.DataFrame:
    """Up to `n` OOF rows with an `outcome` column: about half TP (boxed images and the most
    confident first), a quarter FP (most confident first), a quarter FN (most missed first);
    TN only when the other groups run out. Deterministic."""
    if n < 1:
        raise KfError(f"--n must be at least 1, got {n}")
    df = oof.assign(outcome=outcome(oof["target"], oof["pred"], threshold),
                    boxed=oof["id"].isin(boxed))
    ranked = {
        "TP": df[df.outcome == "TP"].sort_values(["boxed", "pred", "id"], ascending=[False, False, True]),
        "FP": df[df.outcome == "FP"].sort_values(["pred", "id"], ascending=[False, True]),
        "FN": df[df.outcome == "FN"].sort_values(["boxed", "pred", "id"], ascending=[False, True, True]),
        "TN": df[df.outcome == "TN"].sort_values(["pred", "id"], ascending=[True, True]),
    }
    quota = {g: round(n * share) for g, share in MIX}
    quota["TP"] += n - sum(quota.values())
    taken = {g: ranked[g].head(quota[g]) for g, _ in MIX}
    spare = n - sum(len(t) for t in taken.values())
    for g in ("TP", "FN", "FP", "TN"):  # fill places a short group left
        if spare <= 0:
            break
        more = ranked[g].iloc[len(taken.get(g, ())):].head(spare)
        taken[g] = pd.concat([taken.get(g, ranked[g].head(0)), more])
        spare -= len(more)
    order = ["TP", "FP", "FN", "TN"]
    return pd.concat([taken[g] for g in order if g in taken]).reset_index(drop=True)


def by_ids(oof: pd.DataFrame, ids: list[str], threshold: float = 0.5) -> pd.DataFrame:
    """The OOF rows of `ids`, in the order given; unknown ids are an error naming them."""
    ids = list(dict.fromkeys(i.strip() for i in ids if i.strip()))
    if not ids:
        raise KfError("--ids is empty; give training image ids (comma-separated or repeated)")
    known = set(oof["id"])
    missing = [i for i in ids if i not in known]
    if missing:
        raise KfError(f"{len(missing)} id(s) are not training images of this run: "
                      f"{', '.join(missing[:5])}; see oof/<run>.parquet for the ids")
    rows = oof.set_index("id").loc[ids].reset_index()
    return rows.assign(outcome=outcome(rows["target"], rows["pred"], threshold))
