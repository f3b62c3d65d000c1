"""The small CNN of the original Nexperia notebook's layer table.

Three blocks of 5x5 'same' conv (16, 32, 64) + batch-norm + 2x2 max-pool, dropout,
flatten, dense 128 + batch-norm, one output (the logit of "defect").
"""

from __future__ import annotations

import torch
from torch import nn

from kfold.errors import KfError
from kfold.nets import register_model


class SimpleCNN(nn.Module):
    def __init__(self, image_size: int = 64, in_chans: int = 1, dropout: float = 0.3) -> None:
        super().__init__()
        blocks, channels = [], in_chans
        for out in (16, 32, 64):
            blocks += [nn.Conv2d(channels, out, 5, padding=2), nn.BatchNorm2d(out),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            channels = out
        self.features = nn.Sequential(*blocks)
        side = image_size // 8
        self.head = nn.Sequential(
            nn.Dropout(dropout), nn.Flatten(), nn.Linear(64 * side * side, 128),
            nn.BatchNorm1d(128), nn.ReLU(inplace=True), nn.Linear(128, 1),
        )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


@register_model(target_layer=lambda m, size: m.features[-4])
def simple_cnn(image_size: int = 64, in_chans: int = 1, dropout: float = 0.3,
               weights: str = "none") -> nn.Module:
    if image_size < 8:
        raise KfError(f"image size {image_size} px is too small for simple-cnn: "
                      "use --image-size 8 or more")
    if weights == "imagenet":
        raise KfError("simple-cnn has no ImageNet weights; use --weights none or a file")
    model = SimpleCNN(image_size, in_chans, dropout)
    if weights != "none":
        from kfold.nets.weights import load_file_into

        load_file_into(model, weights, name="simple-cnn", in_chans=in_chans,
                       first_conv="features.0")
    return model
