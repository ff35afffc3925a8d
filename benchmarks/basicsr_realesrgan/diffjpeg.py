"""BasicSR's `DiffJPEG(differentiable=False)` (`basicsr/utils/diffjpeg.py`) and the JPEG step of `feed_data`."""
from __future__ import annotations

import functools

import numpy as np
import torch
from torch.nn import functional as F

# The JPEG Annex K tables as printed (row = vertical frequency). DiffJPEG applies them transposed.
_LUMA_TABLE = np.array(
    [[16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55], [14, 13, 16, 24, 40, 57, 69, 56],
     [14, 17, 22, 29, 51, 87, 80, 62], [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
     [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]], dtype=np.float32)
_CHROMA_TABLE = np.full((8, 8), 99, dtype=np.float32)
_CHROMA_TABLE[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]
_RGB_TO_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]],
                       dtype=np.float32)
_YCC_TO_RGB = np.array([[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136], [1.0, 1.772, 0.0]], dtype=np.float32)


def _dct_basis() -> np.ndarray:
    """basis[x, y, u, v] = cos((2x+1) u pi / 16) cos((2y+1) v pi / 16), float32 of float64 products."""
    n = np.arange(8)
    c = np.cos((2 * n[:, None] + 1) * n[None, :] * np.pi / 16)  # c[x, u]
    return (c[:, None, :, None] * c[None, :, None, :]).astype(np.float32)


def quality_to_factor(quality: torch.Tensor) -> torch.Tensor:
    """DiffJPEG's quantisation-table scale: 5000 / q / 100 below 50, (200 - 2 q) / 100 from 50 (0 at q = 100)."""
    return torch.where(quality < 50, 5000.0 / quality, 200.0 - quality * 2) / 100.0


def _to_blocks(plane: torch.Tensor) -> torch.Tensor:
    """(B, H, W) -> (B, H/8 * W/8, 8, 8), blocks in raster order."""
    b, h, w = plane.shape
    return plane.view(b, h // 8, 8, w // 8, 8).permute(0, 1, 3, 2, 4).contiguous().view(b, -1, 8, 8)


def _from_blocks(blocks: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Inverse of `_to_blocks`."""
    b = blocks.shape[0]
    return blocks.view(b, h // 8, w // 8, 8, 8).permute(0, 1, 3, 2, 4).contiguous().view(b, h, w)


class DiffJPEG(torch.nn.Module):
    """BasicSR's `DiffJPEG(differentiable=False)`: JPEG encode + decode of a batch in float tensor arithmetic.

    Zero-pad bottom / right to a multiple of 16; x 255; full-range YCbCr; 2 x 2 average chroma
    subsampling; level shift by 128 and 8 x 8 DCT; divide by the (transposed) Annex K tables times
    the per-sample quality factor, `torch.round`, multiply back; inverse DCT; nearest chroma
    upsampling; RGB; clamp to [0, 255]; / 255; crop. Unlike libjpeg the tables are not rounded
    or clamped, so quality 100 (factor 0) gives NaN, as in BasicSR; Real-ESRGAN draws at most 95.
    """

    def __init__(self):
        super().__init__()
        alpha = np.array([1.0 / np.sqrt(2)] + [1] * 7)
        basis = torch.from_numpy(_dct_basis())
        self.register_buffer("y_table", torch.from_numpy(_LUMA_TABLE.T.copy()))
        self.register_buffer("c_table", torch.from_numpy(_CHROMA_TABLE.T.copy()))
        self.register_buffer("dct_basis", basis)
        self.register_buffer("idct_basis", basis.permute(2, 3, 0, 1).contiguous())
        self.register_buffer("dct_scale", torch.from_numpy(np.outer(alpha, alpha) * 0.25).float())
        self.register_buffer("idct_alpha", torch.from_numpy(np.outer(alpha, alpha)).float())
        self.register_buffer("rgb_to_ycc", torch.from_numpy(_RGB_TO_YCC.T.copy()))
        self.register_buffer("ycc_to_rgb", torch.from_numpy(_YCC_TO_RGB.T.copy()))
        self.register_buffer("ycc_shift", torch.tensor([0.0, 128.0, 128.0]))

    def _roundtrip(self, plane: torch.Tensor, table: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
        """DCT, quantise, dequantise and inverse DCT of one (B, H, W) plane."""
        h, w = plane.shape[1:]
        coeffs = self.dct_scale * torch.tensordot(_to_blocks(plane) - 128, self.dct_basis, dims=2)
        step = table.expand(factor.size(0), 1, 8, 8) * factor
        coeffs = torch.round(coeffs / step) * step
        blocks = 0.25 * torch.tensordot(coeffs * self.idct_alpha, self.idct_basis, dims=2) + 128
        return _from_blocks(blocks, h, w)

    def forward(self, x: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, H, W) RGB in [0, 1]; quality: (B,) float (not modified) -> (B, 3, H, W) in [0, 1]."""
        factor = quality_to_factor(quality).view(-1, 1, 1, 1)
        h, w = x.shape[-2:]
        x = F.pad(x, (0, (16 - w % 16) % 16, 0, (16 - h % 16) % 16), mode="constant", value=0)
        ycc = torch.tensordot((x * 255).permute(0, 2, 3, 1), self.rgb_to_ycc, dims=1) + self.ycc_shift
        y = ycc[..., 0]
        cb, cr = (F.avg_pool2d(ycc[..., i].unsqueeze(1), kernel_size=2, stride=2, count_include_pad=False)
                  .squeeze(1) for i in (1, 2))
        y = self._roundtrip(y, self.y_table, factor)
        cb, cr = (self._roundtrip(p, self.c_table, factor).repeat_interleave(2, 1).repeat_interleave(2, 2)
                  for p in (cb, cr))
        ycc = torch.stack((y, cb, cr), dim=3)
        rgb = torch.tensordot(ycc - self.ycc_shift, self.ycc_to_rgb, dims=1).permute(0, 3, 1, 2)
        return (torch.clamp(rgb, 0, 255) / 255)[:, :, :h, :w]


@functools.lru_cache(maxsize=None)
def _jpeger(device: torch.device) -> DiffJPEG:
    """One `DiffJPEG` per device."""
    return DiffJPEG().to(device)


def jpeg(img: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """The JPEG step of feed_data: `DiffJPEG` of img clamped to [0, 1], per-sample quality (B,)."""
    return _jpeger(img.device)(torch.clamp(img, 0, 1), quality)
