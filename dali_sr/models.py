"""The network `dali-sr demo` trains: a tiny x4 super-resolution network."""
from __future__ import annotations

import torch
from torch import nn


class TinySR(nn.Module):
    """A three-layer x4 super-resolution network (conv features + pixel shuffle)."""

    def __init__(self, scale: int = 4, channels: int = 3, features: int = 32):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, features, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(features, features, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(features, channels * scale * scale, 3, padding=1), nn.PixelShuffle(scale))
        self.up = nn.Upsample(scale_factor=scale, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(x) + self.body(x)
