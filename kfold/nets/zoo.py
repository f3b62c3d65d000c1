"""Transfer-learning models from timm: `vgg16`, `resnet50`, and any timm name.

Each is a timm backbone without its ImageNet classifier plus a new head (dropout, one
linear unit: the defect logit) -- the original work's `include_top=False` + new top.
VGG16 keeps only its convolutions (global average pool -> 512 -> 1), as Keras'
`VGG16(include_top=False, pooling="avg")`; its two 4096-wide dense layers (120M
parameters) are dropped. Other models keep timm's own pooling (`forward_head(pre_logits=True)`).

Grayscale: the default feeds one channel and lets timm adapt the first conv
(`in_chans=1`: the pretrained RGB kernels summed); `--in-chans 3` repeats the gray channel
instead. See docs/models.md for the measurement behind the default.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn

from kfold.errors import KfError
from kfold.nets import _REGISTRY, ModelInfo, register_model
from kfold.nets import weights as W

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Grayscale default (measured, docs/models.md): one input channel, first conv adapted.
GRAY_IN_CHANS = 1


class TimmNet(nn.Module):
    """A timm backbone (`num_classes=0`) and a new one-logit head."""

    def __init__(self, backbone: nn.Module, dropout: float = 0.3, pool_head: bool = False):
        super().__init__()
        self.backbone, self.pool_head = backbone, pool_head
        width = backbone.num_features if pool_head else getattr(
            backbone, "head_hidden_size", backbone.num_features)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, 1))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone.forward_features(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        z = x.mean((-2, -1)) if self.pool_head else self.backbone.forward_head(x, pre_logits=True)
        return self.head(z).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


MIN_CAM_SIDE = 4  # a stage whose map is 1x1 or 2x2 at the input size gives a flat heatmap


def timm_target_layer(model: nn.Module, image_size: int) -> nn.Module:
    """Grad-CAM layer of any timm backbone: its deepest feature stage (`feature_info`) whose
    map is still at least MIN_CAM_SIDE pixels wide at `image_size` (resnet at 224 px:
    layer4[-1]; at 32 px: layer2[-1]), the last block of it when it is a sequence."""
    backbone = model.backbone
    info = getattr(backbone, "feature_info", None)
    if info:
        wide = [f for f in info if image_size // f["reduction"] >= MIN_CAM_SIDE] or [info[0]]
        layer = backbone.get_submodule(wide[-1]["module"])
    else:  # no feature_info: the last module with parameters before the head
        layer = [m for m in backbone.modules() if isinstance(m, nn.Conv2d)][-1]
    if isinstance(layer, nn.Sequential) and len(layer):
        layer = layer[-1]
    return layer


def build_timm(timm_name: str, *, image_size: int = 224, in_chans: int = GRAY_IN_CHANS,
               dropout: float = 0.3, weights: str = "none", pool_head: bool = False,
               drop_prefixes: tuple[str, ...] = (), name: str | None = None,
               filter_fn: Callable | None = None, **timm_kwargs) -> TimmNet:
    """`filter_fn` renames a weights file's keys to timm's (default: the architecture's
    own checkpoint filter)."""
    import timm

    name = name or timm_name
    kwargs = {"num_classes": 0, "in_chans": in_chans}
    cfg = timm.models.get_pretrained_cfg(timm_name, allow_unregistered=True)
    if cfg is not None and getattr(cfg, "fixed_input_size", False):
        kwargs["img_size"] = image_size  # ViT-style: position embeddings sized to the input
    if weights == "imagenet":  # the download must fit the full architecture
        backbone = W.download_imagenet(timm_name, **kwargs)
    else:
        backbone = timm.create_model(timm_name, pretrained=False, **kwargs, **timm_kwargs)
    _check_size(backbone, name, image_size)
    if pool_head and hasattr(backbone, "pre_logits"):
        backbone.pre_logits = nn.Identity()
    if W.is_file_weights(weights):
        classifier = (cfg.classifier if cfg is not None and cfg.classifier else "fc")
        classifier = (classifier,) if isinstance(classifier, str) else tuple(classifier)
        W.load_file_into(
            backbone, weights, name=name, in_chans=in_chans,
            first_conv=(cfg.first_conv if cfg is not None else None),
            drop_prefixes=tuple(f"{c}." for c in classifier) + drop_prefixes,
            filter_fn=filter_fn or W.filter_fn_of(backbone),
        )
    return TimmNet(backbone, dropout, pool_head)


def _check_size(backbone: nn.Module, name: str, image_size: int) -> None:
    info = getattr(backbone, "feature_info", None)
    stride = info[-1].get("reduction") if info else None
    if stride and image_size < stride:
        raise KfError(f"image size {image_size} px is too small for {name}: its feature maps "
                      f"shrink {stride}x; use --image-size {stride} or more")


# --- the registry entries ------------------------------------------------------------------
_IMAGENET = {"mean": IMAGENET_MEAN, "std": IMAGENET_STD, "in_chans": 3,
             "target_layer": timm_target_layer, "pretrained": True}


@register_model(timm_name="vgg16.tv_in1k", **_IMAGENET)
def vgg16(image_size: int = 224, in_chans: int = GRAY_IN_CHANS, dropout: float = 0.3,
          weights: str = "none") -> nn.Module:
    """VGG16 convolutions (torchvision's ImageNet weights) + GAP + one logit."""
    return build_timm("vgg16.tv_in1k", image_size=image_size, in_chans=in_chans,
                      dropout=dropout, weights=weights, pool_head=True,
                      drop_prefixes=("pre_logits.",), name="vgg16",
                      mlp_ratio=1 / 4096)  # the dense layers are dropped: build them tiny


@register_model(timm_name="resnet50.tv_in1k", **_IMAGENET)
def resnet50(image_size: int = 224, in_chans: int = GRAY_IN_CHANS, dropout: float = 0.3,
             weights: str = "none") -> nn.Module:
    """ResNet50 (torchvision's original ImageNet weights, like keras.applications) + one
    logit. `resnet50.a1_in1k` (timm's stronger recipe) works by its timm name."""
    return build_timm("resnet50.tv_in1k", image_size=image_size, in_chans=in_chans,
                      dropout=dropout, weights=weights, name="resnet50")


# Registered entries keep 3-channel ImageNet statistics; the gray default is applied here.
for _name in ("vgg16", "resnet50"):
    _REGISTRY[_name] = _REGISTRY[_name].with_chans(GRAY_IN_CHANS, keep_rgb=True)


@functools.cache
def timm_names() -> list[str]:
    import timm

    return timm.list_models()


def timm_info(name: str) -> ModelInfo | None:
    """A registry entry for any timm name (`resnet18`, `convnext_nano.in12k_ft_in1k`), with its
    normalisation from timm's pretrained config; None if timm lacks it."""
    import timm

    if not timm.is_model(name):
        return None
    cfg = timm.models.get_pretrained_cfg(name, allow_unregistered=True)
    mean = tuple(cfg.mean) if cfg is not None and cfg.mean else IMAGENET_MEAN
    std = tuple(cfg.std) if cfg is not None and cfg.std else IMAGENET_STD
    has_weights = cfg is not None and bool(cfg.hf_hub_id or cfg.url or cfg.file)
    info = ModelInfo(name, functools.partial(build_timm, name), mean, std, len(mean),
                     timm_target_layer, name, has_weights)
    return info.with_chans(GRAY_IN_CHANS, keep_rgb=True)
