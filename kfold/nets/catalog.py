"""`kf models`: what `kf train --model` accepts, in the order users pick from.

kf's registry comes first (the models kf is tuned and tested with), then the timm models
Kaggle image contests reach for most (`POPULAR`: the usual CNN and ViT baselines), then
timm's other names; each group is sorted by parameter count, smallest first, since on a
small contest the small model is the usual first try. Without a pattern the list stops after
the popular ones (`kf models 'convnext*'` lists a family). Counting builds each model on PyTorch's `meta` device: shapes only,
no memory and no weights, a few milliseconds per model.
"""

from __future__ import annotations

from dataclasses import dataclass

from kfold.errors import check_whole
from kfold.nets import list_models, model_info


@dataclass(frozen=True)
class Entry:
    name: str
    source: str  # "kfold", "timm <arch>" for a registered timm model, or "timm"
    params: int | None  # None when the model cannot be built without its weights
    in_chans: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    pretrained: bool

    @property
    def params_text(self) -> str:
        """1.23M style; "?" when unknown."""
        if self.params is None:
            return "?"
        return f"{self.params / 1e6:.2f}M" if self.params >= 10_000 else f"{self.params:,}"


def param_count(name: str) -> int | None:
    """Parameters of `name` with its default arguments, counted without allocating them."""
    import torch

    info = model_info(name)
    try:
        with torch.device("meta"):
            model = info.builder()
    except Exception:  # noqa: BLE001 - a builder that insists on real weights: no count
        return None
    return sum(p.numel() for p in model.parameters())


# timm models Kaggle image-classification write-ups use most, small to large
POPULAR = (
    "mobilenetv3_small_100", "lcnet_100", "mobilenetv3_large_100", "ghostnet_100",
    "efficientnet_b0", "tf_efficientnet_b0", "rexnet_100", "mixnet_s", "efficientnet_b1",
    "efficientvit_b0", "tiny_vit_5m_224", "mobilevit_s", "efficientnet_b2", "levit_128",
    "efficientnet_b3", "densenet121", "resnet18", "regnety_016", "resnet26d", "resnet34",
    "hrnet_w18", "regnety_032", "vit_small_patch16_224", "deit_small_patch16_224",
    "efficientnetv2_rw_s", "tf_efficientnetv2_s", "resnet50", "resnet50d", "resnext50_32x4d",
    "seresnext50_32x4d", "inception_v3", "convnext_nano", "convnext_tiny",
    "swin_tiny_patch4_window7_224", "coatnet_0_rw_224", "maxvit_tiny_tf_224", "nfnet_l0",
    "xception65", "convnext_small", "resnet101", "wide_resnet50_2", "dm_nfnet_f0",
    "vit_base_patch16_224", "vgg16", "vgg19", "eva02_tiny_patch14_224", "edgenext_small",
)


def catalog(pattern: str = "*", limit: int = 40) -> tuple[list[Entry], int]:
    """Registry entries, then up to `limit` timm names matching `pattern` (a glob): the
    popular ones first, then the others (none for the default "*"); each group by parameter
    count; also how many timm names were left out."""
    check_whole("--limit", limit, 0, 1000)  # each entry builds its model once
    registered = list_models(pattern)
    timm_names = [n for n in list_models(pattern, timm_too=True) if n not in registered]
    popular = [n for n in POPULAR if n in set(timm_names)]
    others = [n for n in timm_names if n not in set(popular)]
    shown = (popular + ([] if pattern == "*" else others))[:limit]
    entries = []
    for name in registered + shown:
        info = model_info(name)
        source = "kfold" if name in registered else (
            "timm, popular" if name in popular else "timm")
        if info.timm_name and name in registered:
            source = f"timm {info.timm_name}"
        entries.append(Entry(name, source, param_count(name), info.in_chans,
                             info.mean, info.std, info.pretrained))
    group = {**dict.fromkeys(others, 2), **dict.fromkeys(popular, 1)}

    def key(e: Entry):
        return (group.get(e.name, 0), e.params is None, e.params or 0, e.name)

    return sorted(entries, key=key), len(timm_names) - len(shown)
