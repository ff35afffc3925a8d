"""The networks `python -m benchmarks.train_demo` trains, as BasicSR defines them: EDSR and RRDBNet."""
from __future__ import annotations

import itertools

import torch
from torch import nn

from dali_sr.errors import ConfigError


class ResidualBlock(nn.Module):
    """BasicSR's `ResidualBlockNoBN`: x + res_scale * conv(relu(conv(x)))."""

    def __init__(self, num_feat: int, res_scale: float):
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.relu = nn.ReLU(inplace=True)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.relu(self.conv1(x))) * self.res_scale


def _upsampler(scale: int, num_feat: int) -> nn.Sequential:
    """BasicSR's `Upsample`: log2(scale) x (conv to 4 x features, PixelShuffle(2)), or one x3 stage."""
    if scale == 3:
        return nn.Sequential(nn.Conv2d(num_feat, 9 * num_feat, 3, padding=1), nn.PixelShuffle(3))
    if scale < 1 or scale & (scale - 1):
        raise ConfigError(f"EDSR upsamples by a power of 2 or by 3, not scale {scale}; use --model tiny")
    stages = scale.bit_length() - 1
    return nn.Sequential(*itertools.chain.from_iterable(
        (nn.Conv2d(num_feat, 4 * num_feat, 3, padding=1), nn.PixelShuffle(2)) for _ in range(stages)))


class EDSR(nn.Module):
    """BasicSR's EDSR (baseline size by default: 64 features, 16 residual blocks; 1,517,571 parameters at x4)."""

    def __init__(self, upscale: int = 4, num_feat: int = 64, num_block: int = 16, res_scale: float = 1.0,
                 img_range: float = 255.0, rgb_mean: tuple[float, float, float] = (0.4488, 0.4371, 0.4040)):
        super().__init__()
        self.img_range = img_range
        self.register_buffer("mean", torch.tensor(rgb_mean).view(1, 3, 1, 1), persistent=False)
        self.conv_first = nn.Conv2d(3, num_feat, 3, padding=1)
        self.body = nn.Sequential(*(ResidualBlock(num_feat, res_scale) for _ in range(num_block)))
        self.conv_after_body = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.upsample = _upsampler(upscale, num_feat)
        self.conv_last = nn.Conv2d(num_feat, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_first((x - self.mean) * self.img_range)
        x = x + self.conv_after_body(self.body(x))
        return self.conv_last(self.upsample(x)) / self.img_range + self.mean


class ResidualDenseBlock(nn.Module):
    """BasicSR's `ResidualDenseBlock`: five densely connected convolutions, the last scaled by 0.2 and added."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(num_feat + i * num_grow_ch, num_grow_ch if i < 4 else num_feat, 3,
                                             padding=1) for i in range(5))
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for conv in self.convs[:4]:
            features.append(self.lrelu(conv(torch.cat(features, 1))))
        return x + self.convs[4](torch.cat(features, 1)) * 0.2


class RRDB(nn.Module):
    """BasicSR's residual-in-residual dense block: three dense blocks, scaled by 0.2 and added."""

    def __init__(self, num_feat: int, num_grow_ch: int):
        super().__init__()
        self.blocks = nn.Sequential(*(ResidualDenseBlock(num_feat, num_grow_ch) for _ in range(3)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.blocks(x) * 0.2


class RRDBNet(nn.Module):
    """BasicSR's `RRDBNet` at x4 (ESRGAN / Real-ESRNet: 64 features, 23 blocks, growth 32; 16,697,987 parameters):
    two nearest-neighbour x2 upsamplings, each followed by a convolution."""

    def __init__(self, num_feat: int = 64, num_block: int = 23, num_grow_ch: int = 32):
        super().__init__()
        self.conv_first = nn.Conv2d(3, num_feat, 3, padding=1)
        self.body = nn.Sequential(*(RRDB(num_feat, num_grow_ch) for _ in range(num_block)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, padding=1)
        self.conv_last = nn.Conv2d(num_feat, 3, 3, padding=1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for conv in (self.conv_up1, self.conv_up2):
            feat = self.lrelu(conv(nn.functional.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))
