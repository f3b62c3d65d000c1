"""Model registry in timm's spirit: a name maps to a builder; adding a model is one
decorated function (and its name in kfold.registry_names, which help texts list without
importing torch; a test holds the two equal). Every model takes (N, C, H, W) float input and returns (N,) logits.

Registered names (`simple-cnn`, `vgg16`, `resnet50`, ...) come first; any other name that
timm knows (`resnet18`, `efficientnet_b0`, `convnext_nano.in12k`, ...) is built through
`kfold.nets.zoo` with its normalisation taken from timm's pretrained config. The input size
is the run's (`--image-size`, else kfold.toml's `image_size`), whatever the model.
Builders take `image_size`, `in_chans`, `dropout` and `weights` (none | imagenet | PATH).
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from kfold.errors import KfError


@dataclass(frozen=True)
class ModelInfo:
    """What the trainer and explainer need to know about a registered model.

    `mean`/`std` have one value per input channel (`in_chans` of them).
    """

    name: str
    builder: Callable[..., nn.Module]
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)
    in_chans: int = 1
    # Grad-CAM target layer, chosen per architecture: (model, input side) -> layer.
    target_layer: Callable[[nn.Module, int], nn.Module] | None = None
    timm_name: str | None = None  # the timm architecture(.tag) behind the entry, if any
    pretrained: bool = False  # whether `--weights imagenet` has something to load

    rgb_mean: tuple[float, ...] | None = None  # 3-channel statistics, kept for --in-chans 3
    rgb_std: tuple[float, ...] | None = None

    def with_chans(self, in_chans: int | None, keep_rgb: bool = False) -> ModelInfo:
        """The same model fed `in_chans` channels: 3 repeats the gray channel (per-channel
        statistics), 1 feeds it once (the mean of the per-channel statistics)."""
        rgb_mean = self.rgb_mean or (self.mean if len(self.mean) == 3 else None)
        rgb_std = self.rgb_std or (self.std if len(self.std) == 3 else None)
        if in_chans is None or (in_chans == self.in_chans and not keep_rgb):
            return self
        if in_chans not in (1, 3):
            raise KfError(f"--in-chans must be 1 or 3, got {in_chans}")
        if in_chans == 3:
            mean = rgb_mean or (self.mean[0],) * 3
            std = rgb_std or (self.std[0],) * 3
        else:
            mean = (sum(self.mean) / len(self.mean),)
            std = (sum(self.std) / len(self.std),)
        return dataclasses.replace(self, in_chans=in_chans, mean=tuple(mean), std=tuple(std),
                                   rgb_mean=rgb_mean, rgb_std=rgb_std)


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(*, mean=(0.5,), std=(0.5,), in_chans: int = 1,
                   target_layer: Callable[[nn.Module, int], nn.Module] | None = None,
                   timm_name: str | None = None, pretrained: bool = False):
    """Register `fn` under its name with underscores as dashes (`simple_cnn` -> simple-cnn)."""

    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        name = fn.__name__.replace("_", "-")
        _REGISTRY[name] = ModelInfo(name, fn, tuple(mean), tuple(std), in_chans,
                                    target_layer, timm_name, pretrained)
        return fn

    return wrap


def list_models(pattern: str = "*", *, timm_too: bool = False) -> list[str]:
    """Registered names matching the glob `pattern`; with `timm_too`, timm's names after."""
    _load_families()
    names = sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))
    if timm_too:
        import timm

        names += [n for n in timm.list_models(pattern) if n not in _REGISTRY]
    return names


def model_info(name: str) -> ModelInfo:
    """The registry entry of `name`, or an entry built from timm's config for a timm name."""
    _load_families()
    if name in _REGISTRY:
        return _REGISTRY[name]
    from kfold.nets import zoo

    info = zoo.timm_info(name)
    if info is not None:
        return info
    candidates = list(_REGISTRY) + [n for n in zoo.timm_names() if n not in _REGISTRY]
    close = difflib.get_close_matches(name, candidates, n=4, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise KfError(f"unknown model {name!r}{hint} (registered: {', '.join(sorted(_REGISTRY))}; "
                  "any timm name works too: `kf models PATTERN` lists them)")


def create_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model; keyword arguments set to None are dropped so that an unset
    CLI flag never overrides the model's own default."""
    info = model_info(name)
    return info.builder(**{k: v for k, v in kwargs.items() if v is not None})


def _load_families() -> None:
    # Importing a family module registers its models.
    from kfold.nets import lite0, simple_cnn, zoo  # noqa: F401
