"""The torch operations of `feed_data` (`basicsr/utils/img_process_util.py`, the `_pt` noise functions)."""
from __future__ import annotations

from typing import Optional, Union

import cv2
import numpy as np
import torch
from torch.nn import functional as F

def filter2D(img: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """BasicSR's `filter2D`: correlate (B, C, H, W) with one (1, k, k) or per-sample (B, k, k) odd kernels.

    Reflect padding of k // 2 (the edge sample not repeated), one grouped `conv2d`. The padded
    image is reshaped rather than viewed: DiffJPEG's output is channels-last, which `F.pad` keeps.
    """
    k = kernel.size(-1)
    if k % 2 != 1:
        raise ValueError(f"filter2D needs an odd kernel size, got {k}")
    b, c, h, w = img.size()
    img = F.pad(img, (k // 2, k // 2, k // 2, k // 2), mode="reflect")
    ph, pw = img.size()[-2:]
    if kernel.size(0) == 1:
        return F.conv2d(img.reshape(b * c, 1, ph, pw), kernel.view(1, 1, k, k)).view(b, c, h, w)
    weight = kernel.view(b, 1, k, k).repeat(1, c, 1, 1).view(b * c, 1, k, k)
    return F.conv2d(img.reshape(1, b * c, ph, pw), weight, groups=b * c).view(b, c, h, w)


class USMSharp(torch.nn.Module):
    """BasicSR's `USMSharp`: unsharp masking, blurring with `cv2.getGaussianKernel(radius made odd, sigma)`."""

    def __init__(self, radius: int = 50, sigma: float = 0):
        super().__init__()
        if radius % 2 == 0:
            radius += 1
        g = cv2.getGaussianKernel(radius, sigma)
        self.register_buffer("kernel", torch.from_numpy(np.dot(g, g.transpose())).float().unsqueeze(0))

    def forward(self, img: torch.Tensor, weight: float = 0.5, threshold: float = 10) -> torch.Tensor:
        """img + weight * (img - blur), clipped to [0, 1], blended in where the softened |residual| mask is on."""
        blur = filter2D(img, self.kernel)
        residual = img - blur
        mask = (torch.abs(residual) * 255 > threshold).float()
        soft_mask = filter2D(mask, self.kernel)
        sharp = torch.clip(img + weight * residual, 0, 1)
        return soft_mask * sharp + (1 - soft_mask) * img


def interpolate(img: torch.Tensor, size: Optional[tuple[int, int]] = None, scale_factor: Optional[float] = None,
                *, mode: str) -> torch.Tensor:
    """`F.interpolate` as BasicSR calls it: 'area', 'bilinear' or 'bicubic', default align_corners."""
    return F.interpolate(img, size=size, scale_factor=scale_factor, mode=mode)


def round_to_levels(img: torch.Tensor) -> torch.Tensor:
    """Clamp to [0, 1] on the 1/255 grid: clamp(round(img * 255), 0, 255) / 255."""
    return torch.clamp((img * 255.0).round(), 0, 255) / 255.0


def _clip_round(out: torch.Tensor, clip: bool, rounds: bool) -> torch.Tensor:
    """The clip / rounds tail of BasicSR's `add_*_noise_pt`."""
    if clip and rounds:
        return round_to_levels(out)
    if clip:
        return torch.clamp(out, 0, 1)
    if rounds:
        return (out * 255.0).round() / 255.0
    return out


def _per_sample(value: Union[float, torch.Tensor], b: int) -> Union[float, torch.Tensor]:
    """A number as is, a (B,) tensor as (B, 1, 1, 1)."""
    return value if isinstance(value, (int, float)) else value.view(b, 1, 1, 1)


def _uses_gray(gray_noise: Union[float, torch.Tensor]) -> bool:
    """Whether any sample asks for gray noise (a device sync for a tensor, as in BasicSR)."""
    return gray_noise > 0 if isinstance(gray_noise, (int, float)) else bool(torch.sum(gray_noise) > 0)


def rgb_to_grayscale(img: torch.Tensor) -> torch.Tensor:
    """torchvision's `rgb_to_grayscale(num_output_channels=1)`: 0.2989 R + 0.587 G + 0.114 B, (..., 1, H, W)."""
    r, g, b = img.unbind(dim=-3)
    return (0.2989 * r + 0.587 * g + 0.114 * b).to(img.dtype).unsqueeze(dim=-3)


def _gaussian_noise(img: torch.Tensor, sigma: Union[float, torch.Tensor], gray_noise: Union[float, torch.Tensor],
                    generator: Optional[torch.Generator]) -> torch.Tensor:
    """BasicSR's `generate_gaussian_noise_pt`: colour noise, blended with one gray field where gray_noise is 1.

    As in BasicSR, the gray field is a single (H, W) draw shared by the batch, scaled per sample.
    """
    b, _, h, w = img.size()
    sigma, gray_noise = _per_sample(sigma, b), _per_sample(gray_noise, b)
    gray = _uses_gray(gray_noise)
    if gray:
        noise_gray = torch.randn(h, w, dtype=img.dtype, device=img.device, generator=generator) * sigma / 255.0
    noise = torch.randn(*img.size(), dtype=img.dtype, device=img.device, generator=generator) * sigma / 255.0
    if gray:
        noise = noise * (1 - gray_noise) + noise_gray * gray_noise
    return noise


def add_gaussian_noise_pt(img: torch.Tensor, sigma: Union[float, torch.Tensor], gray_noise: Union[float, torch.Tensor],
                          clip: bool = True, rounds: bool = False,
                          generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """BasicSR's `add_gaussian_noise_pt`: img + N(0, sigma / 255) per sample (sigma on the 0..255 scale)."""
    return _clip_round(img + _gaussian_noise(img, sigma, gray_noise, generator), clip, rounds)


def _poisson_noise_of(img: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
    """Poisson(img * vals) / vals - img on the 1/255 grid, vals = the next power of 2 of each sample's level count."""
    img = round_to_levels(img)
    counts = [len(torch.unique(img[i])) for i in range(img.size(0))]
    vals = img.new_tensor([2 ** np.ceil(np.log2(n)) for n in counts]).view(-1, 1, 1, 1)
    return torch.poisson(img * vals, generator=generator) / vals - img


def _poisson_noise(img: torch.Tensor, scale: Union[float, torch.Tensor], gray_noise: Union[float, torch.Tensor],
                   generator: Optional[torch.Generator]) -> torch.Tensor:
    """BasicSR's `generate_poisson_noise_pt`: per-channel shot noise, blended with luma shot noise, times scale."""
    b, _, h, w = img.size()
    gray_noise = _per_sample(gray_noise, b)
    gray = _uses_gray(gray_noise)
    if gray:
        noise_gray = _poisson_noise_of(rgb_to_grayscale(img), generator).expand(b, 3, h, w)
    noise = _poisson_noise_of(img, generator)
    if gray:
        noise = noise * (1 - gray_noise) + noise_gray * gray_noise
    return noise * _per_sample(scale, b)


def add_poisson_noise_pt(img: torch.Tensor, scale: Union[float, torch.Tensor], gray_noise: Union[float, torch.Tensor],
                         clip: bool = True, rounds: bool = False,
                         generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """BasicSR's `add_poisson_noise_pt`: img + scale * (shot noise of img on the 1/255 grid)."""
    return _clip_round(img + _poisson_noise(img, scale, gray_noise, generator), clip, rounds)
