"""The model's output per task (`kfold.backends.Head`): its width, its loss, how logits become
predictions (an epoch's validation predictions are scored in kfold.backends.validation).

- binary: one logit, BCE (`pos_weight`), sigmoid;
- multiclass: one logit per class, cross-entropy (class indices, or soft targets when the
  recipe mixed or smoothed them), softmax: each row sums to 1;
- multilabel: one logit per label, BCE per label, sigmoid per label;
- regression: one output, MSE or smooth L1 (`regression_loss`), the value itself.

Every loss takes per-image weights `w` (taught folds) as `loss(logits, y, w)`.
"""

from __future__ import annotations

import torch
from torch import nn

from kfold.backends import Head


def widen(model: nn.Module, width: int) -> nn.Module:
    """`model` with `width` outputs: the last linear layer of its `head` replaced (a one-
    output model's `squeeze(1)` leaves a (N, width) output alone)."""
    if width == 1:
        return model
    linears = [(name, m) for name, m in model.head.named_modules() if isinstance(m, nn.Linear)]
    name, last = linears[-1]
    parent = model.head.get_submodule(name.rpartition(".")[0]) if "." in name else model.head
    setattr(parent, name.rpartition(".")[2],
            nn.Linear(last.in_features, width).to(last.weight.device, last.weight.dtype))
    return model


def activate(logits: torch.Tensor, kind: str) -> torch.Tensor:
    """Predictions from logits: probabilities (per class or label), or the value itself."""
    if kind == "multiclass":
        return torch.softmax(logits, dim=1)
    return logits if kind == "regression" else torch.sigmoid(logits)


def loss_fn(head: Head, pos_weight: torch.Tensor | None = None, regression_loss: str = "mse"):
    """The task's training loss as `loss(logits, y, w=None)` (module docstring)."""
    def weighted(per_image: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
        return per_image.mean() if w is None else (per_image * w).mean()

    def loss(logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None = None):
        if head.kind == "multiclass":
            target = y if y.ndim == 2 else y.long()
            return weighted(nn.functional.cross_entropy(logits, target, reduction="none"), w)
        if head.kind == "regression":
            fn = nn.functional.smooth_l1_loss if regression_loss == "smooth-l1" \
                else nn.functional.mse_loss
            return weighted(fn(logits, y, reduction="none"), w)
        per = nn.functional.binary_cross_entropy_with_logits(
            logits, y, reduction="none", pos_weight=pos_weight)
        return weighted(per.mean(1) if per.ndim == 2 else per, w)
    return loss
