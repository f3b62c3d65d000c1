"""Rules every backend follows, written once: each backend only maps them onto its tensors.

- Test-time augmentation: a level names a list of views; a view mirrors the image left-right
  (or not), then turns it `turns` quarter turns. "d4" is the 8 symmetries of the square.
- Batch augmentation: a level names the random per-image flips applied to a training batch,
  each with probability 1/2; together with the transpose, "d4" reaches all 8 symmetries.
- The checkpoint rule (torch): the kept epoch is the best by validation AUC, except that a
  later epoch whose AUC is within one standard error of the best (Hanley & McNeil) and whose
  validation loss is lower replaces it: one noisy, badly calibrated early epoch no longer
  decides a fold (docs/stack.md, "Checkpoints").
- The collapse rule: an epoch whose validation predictions are one value for every image (the
  original VGG16 fine-tune's "always negative") or whose AUC is no better than chance counts
  as collapsed; `collapse_epochs` such epochs in a row stop the fold and mark it `collapsed`.
- The kept checkpoint: predicting or explaining a tag that was never trained is one error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kfold.errors import KfError

CONSTANT_RANGE = 1e-6  # max - min of the predictions below which they count as one value


@dataclass(frozen=True)
class View:
    """One test-time view: mirror left-right first (when `mirror`), then `turns` x 90 deg."""

    mirror: bool = False
    turns: int = 0


TTA_VIEWS: dict[str, tuple[View, ...]] = {
    "none": (View(),),
    "flip": (View(), View(mirror=True)),
    "d4": tuple(View(m, k) for m in (False, True) for k in range(4)),
}

# Per-image random flips of a training batch, in the order each backend draws them.
AUGMENT_FLIPS: dict[str, tuple[str, ...]] = {
    "none": (),
    "flip": ("mirror", "upside_down"),
    "d4": ("mirror", "upside_down", "transpose"),
}


def view_numpy(images: np.ndarray, view: View) -> np.ndarray:
    """`view` of a stack of images (N, H, W) as a numpy array."""
    x = images[:, :, ::-1] if view.mirror else images
    return np.rot90(x, view.turns, axes=(1, 2))


def collapse_reason(pred_range: float, auc: float, value: float | None = None) -> str | None:
    """Why an epoch's validation predictions count as collapsed, or None. `pred_range` is
    their max - min, `value` one of them (named in the reason when given)."""
    if pred_range < CONSTANT_RANGE:
        return "constant predictions" + ("" if value is None else
                                         f" ({value:.4f} for every image)")
    if np.isfinite(auc) and auc <= 0.5:
        return f"validation AUC {auc:.4f} <= 0.5"
    return None


def collapse_step(count: int, reason: str | None, epoch: int, limit: int) -> tuple[int, str | None]:
    """After (0-based) `epoch`: the number of collapsed epochs in a row, and the verdict
    recorded as the fold's `collapsed` once that number reaches `limit` (else None)."""
    count = count + 1 if reason else 0
    if count < limit:
        return count, None
    return count, f"{reason} in epochs {epoch - limit + 1}-{epoch}"


def checkpoint_verdict(auc: float, loss: float, top_auc: float, kept_loss: float,
                       n_pos: int, n_neg: int) -> str | None:
    """Whether an epoch's model replaces the kept checkpoint: "better" (a higher validation
    AUC than any epoch before: patience starts again), "as good, lower loss" (AUC within one
    standard error of the best, lower validation loss: kept, patience runs on) or None."""
    from kfold.stats import hanley_mcneil_se

    if not np.isfinite(auc):
        return None
    if auc > top_auc:
        return "better"
    noise = hanley_mcneil_se(top_auc, n_pos, n_neg) if n_pos and n_neg else 0.0
    if auc >= top_auc - noise and np.isfinite(loss) and loss < kept_loss:
        return "as good, lower loss"
    return None


def kept_checkpoint(path: Path) -> Path:
    """A tag's kept checkpoint (`Backend.checkpoint_files(tag)[0]` in the run folder), for
    predicting or explaining; one that was never written says how to make it."""
    if not path.exists():
        raise KfError(f"no checkpoint {path}; train the run first with `kf train`")
    return path
