"""Model registry in timm's spirit: a name maps to a builder; adding a model is one
decorated function. Every model takes (N, C, H, W) float input and returns (N,) logits.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass
from typing import Callable

from torch import nn

from kfold.errors import KfError


@dataclass(frozen=True)
class ModelInfo:
    """What the trainer and explainer need to know about a registered model."""

    name: str
    builder: Callable[..., nn.Module]
    default_size: int
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)
    in_chans: int = 1
    # Grad-CAM target layer, chosen per architecture.
    target_layer: Callable[[nn.Module], nn.Module] | None = None


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(*, default_size: int, mean=(0.5,), std=(0.5,), in_chans: int = 1,
                   target_layer: Callable[[nn.Module], nn.Module] | None = None):
    """Register `fn` under its name with underscores as dashes (`simple_cnn` -> simple-cnn)."""

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        name = fn.__name__.replace("_", "-")
        _REGISTRY[name] = ModelInfo(name, fn, default_size, tuple(mean), tuple(std), in_chans,
                                    target_layer)
        return fn

    return wrap


def list_models(pattern: str = "*") -> list[str]:
    _load_families()
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def model_info(name: str) -> ModelInfo:
    _load_families()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KfError(f"unknown model {name!r}{hint} (known: {', '.join(sorted(_REGISTRY))})")
    return _REGISTRY[name]


def create_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model; keyword arguments set to None are dropped so that an unset
    CLI flag never overrides the model's own default."""
    info = model_info(name)
    return info.builder(**{k: v for k, v in kwargs.items() if v is not None})


def _load_families() -> None:
    # Importing a family module registers its models.
    from kfold.nets import simple_cnn  # noqa: F401
