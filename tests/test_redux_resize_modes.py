"""The graph operations traiNNer-redux's degradation adds: `nearest-exact` (torch's formula, pixel for pixel),
`lanczos` (against its formula: Lanczos-3 low-pass when shrinking, then torch's bicubic) and OpenCV's fixed
Gaussian taps of the small USM radii."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dali_sr.degrade import kernels
from dali_sr.degrade.chain import RESIZE_MODES, Usm
from dali_sr.pipelines import degrade
from test_degrade_ops import images, run_graph, torch_usm


def _nchw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]


def _resize(imgs, sizes, mode):
    """dali_sr's resize of each image to its size, sampling the whole input (torch's `size=` geometry)."""
    out, = run_graph(degrade.resize, imgs, [np.array(s, np.float32) for s in sizes],
                     [np.array(i.shape[:2], np.float32) for i in imgs],
                     [np.array(RESIZE_MODES.index(mode), np.int32)] * len(imgs))
    return out


@pytest.mark.parametrize("factor", [0.25, 0.37, 0.5, 0.8, 1.0, 1.31, 2.0, 3.0])
def test_nearest_exact_is_torchs_pixel_for_pixel(factor):
    """Each output pixel is the input pixel torch's `nearest-exact` picks, floor((i + 0.5) * in / out), but where
    that position is within 2 % of a pixel of a whole number: there torch's float32 product and DALI's float
    positions may each land on either side (torch itself takes 12 at 9.5 x 96 / 76 but 59 at 47.5 x 96 / 76,
    both exactly whole), so either neighbour is accepted."""
    imgs = [(np.arange(h, dtype=np.float32)[:, None] * 4096 + np.arange(w, dtype=np.float32)[None, :])[:, :, None]
            .repeat(3, 2) for h, w in ((37, 45), (96, 96), (29, 64))]
    sizes = [(max(1, int(i.shape[0] * factor)), max(1, int(i.shape[1] * factor))) for i in imgs]
    for img, size, got in zip(imgs, sizes, _resize(imgs, sizes, "nearest-exact")):
        ref = F.interpolate(_nchw(img), size=size, mode="nearest-exact")[0].numpy().transpose(1, 2, 0)
        assert got.shape == ref.shape
        code, want = got[:, :, 0].astype(np.int64), ref[:, :, 0].astype(np.int64)
        for axis, (picked, wanted) in enumerate(((code[:, 0] // 4096, want[:, 0] // 4096),
                                                 (code[0, :] % 4096, want[0, :] % 4096))):
            exact = (np.arange(len(picked)) + 0.5) * img.shape[axis] / size[axis]
            near_whole = np.abs(exact - np.round(exact)) < 0.02
            ok = (picked == wanted) | (near_whole & (np.abs(picked - wanted) == 1))
            assert ok.all(), (img.shape, size, axis, np.flatnonzero(~ok)[:5])
            assert (picked == wanted)[~near_whole].all()


def _lanczos_taps(ratio: float, a: int = 3) -> torch.Tensor:
    """traiNNer-redux's low-pass taps: the Lanczos-a window stretched by 1 / ratio, normalized."""
    n = math.ceil(a / ratio + 1)
    x = torch.arange(-n + 1, n, dtype=torch.float64) * ratio
    taps = torch.where(x == 0, torch.ones_like(x), torch.sinc(x) * torch.sinc(x / a)) * (x.abs() < a)
    return (taps / taps.sum()).float()


def redux_lanczos(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Their `lanczos`: per shrinking axis a mirrored-border low-pass, then torch's bicubic to `size`."""
    x = _nchw(img).reshape(3, 1, *img.shape[:2])
    for axis, out in ((0, size[0]), (1, size[1])):
        n = x.shape[2 + axis]
        if out < n:
            taps = _lanczos_taps(out / n)
            pad = (taps.numel() - 1) // 2
            x = F.pad(x, (0, 0, pad, pad) if axis == 0 else (pad, pad, 0, 0), mode="reflect")
            x = F.conv2d(x, taps[None, None, :, None] if axis == 0 else taps[None, None, None, :])
    x = x.reshape(1, 3, *img.shape[:2])
    return F.interpolate(x, size, mode="bicubic", align_corners=False).clamp(0, 1)[0].numpy().transpose(1, 2, 0)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


@pytest.mark.parametrize("factor", [0.4, 0.5, 0.75, 1.25])
def test_lanczos_is_close_to_their_formula(factor):
    """DALI's antialiased Lanczos-3 against their low-pass + bicubic: above 45 dB on smooth images (measured
    47.4-51.5 dB over these factors and sizes)."""
    imgs = images(3, ((64, 64), (80, 48), (57, 71)))
    sizes = [(round(i.shape[0] * factor), round(i.shape[1] * factor)) for i in imgs]
    for img, size, got in zip(imgs, sizes, _resize(imgs, sizes, "lanczos")):
        ref = redux_lanczos(img, size)
        assert got.shape == ref.shape
        assert psnr(np.clip(got, 0, 1), ref) > 45, (factor, img.shape, psnr(np.clip(got, 0, 1), ref))


@pytest.mark.parametrize("size", [1, 3, 5, 7, 9, 25])
def test_small_gaussians_are_opencvs_fixed_taps(size):
    np.testing.assert_allclose(kernels.gaussian_1d(size), cv2.getGaussianKernel(size, 0).ravel(), rtol=1e-12)


@pytest.mark.parametrize("radius", [3, 5, 7])
def test_usm_of_a_small_radius_is_usmsharps(radius):
    imgs = images()
    out, = run_graph(lambda x: degrade.usm(x, Usm("u", 1.0, radius=radius), on_gpu=False), imgs)
    for img, got in zip(imgs, out):
        ref = torch_usm(img, radius=radius)
        assert np.abs(got - ref).max() < 1e-4
        assert np.mean(np.abs(got - ref) < 1e-6) > 0.999
