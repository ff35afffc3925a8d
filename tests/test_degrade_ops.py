"""The DALI pieces of degradation chains, each run on the CPU on given inputs and compared with an independent
reference of BasicSR's formula (torch / OpenCV / NumPy), exactly where the arithmetic is the same."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from nvidia.dali import fn, pipeline_def, types

from dali_sr.degrade import kernels
from dali_sr.degrade.chain import RESIZE_MODES, Usm
from dali_sr.pipelines import degrade

RNG = np.random.default_rng(7)


def run_graph(build, *inputs: list, layouts=None) -> list[list[np.ndarray]]:
    """Feed the per-sample `inputs` (one list per input) through `build(*nodes)` on the CPU; outputs per sample."""
    n = len(inputs[0])
    layouts = layouts or ["HWC"] + [""] * (len(inputs) - 1)

    @pipeline_def(batch_size=n, num_threads=2, device_id=None, enable_conditionals=True, seed=3)
    def pipe():
        nodes = fn.external_source(lambda: [list(x) for x in inputs], num_outputs=len(inputs), batch=True,
                                   layout=layouts)
        out = build(*nodes)
        return out if isinstance(out, tuple) else (out,)

    p = pipe()
    p.build()
    return [[np.array(t) for t in o] for o in p.run()]


def images(n: int = 3, shapes=((37, 45), (40, 40), (29, 51))) -> list[np.ndarray]:
    """Smooth-ish random float32 RGB images in [0, 1] (blurred noise, so filters and masks see detail and flats)."""
    out = []
    for h, w in shapes[:n]:
        x = cv2.GaussianBlur(RNG.random((h, w, 3)).astype(np.float32), (0, 0), 1.5)
        out.append(np.clip((x - x.min()) / (x.max() - x.min()), 0, 1).astype(np.float32))
    return out


def torch_nchw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]


def torch_filter2d(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """BasicSR's `filter2D`: reflect padding by k // 2, then a grouped conv2d (correlation) per channel."""
    k = kernel.shape[-1]
    x = F.pad(torch_nchw(img), (k // 2,) * 4, mode="reflect")
    w = torch.from_numpy(kernel)[None, None].repeat(3, 1, 1, 1)
    return F.conv2d(x, w, groups=3)[0].numpy().transpose(1, 2, 0)


def torch_usm(img: np.ndarray, weight: float = 0.5, radius: int = 51, threshold: float = 10) -> np.ndarray:
    """BasicSR's `USMSharp.forward` with its 2-D kernel `outer(getGaussianKernel(radius, 0))`."""
    g = cv2.getGaussianKernel(radius, 0)
    kernel = np.dot(g, g.T).astype(np.float32)
    blur = torch_filter2d(img, kernel)
    residual = img - blur
    mask = (np.abs(residual) * 255 > threshold).astype(np.float32)
    soft = torch_filter2d(mask, kernel)
    sharp = np.clip(img + weight * residual, 0, 1)
    return soft * sharp + (1 - soft) * img


def test_correlate_with_a_sample_kernel_is_basicsrs_filter2d():
    imgs = images()
    ks = [kernels.gaussian(7, 1.2, 2.5, 0.6), kernels.sinc(21, math.pi / 3), kernels.plateau(13, 2.0, 1.0, -1.0, 1.5)]
    out, = run_graph(degrade.correlate, imgs, ks)
    for img, k, got in zip(imgs, ks, out):
        np.testing.assert_allclose(got, torch_filter2d(img, k), atol=1e-6)


def test_usm_is_basicsrs_usmsharp():
    imgs = images()
    out, = run_graph(lambda x: degrade.usm(x, Usm("u", 1.0), False), imgs)
    for img, got in zip(imgs, out):
        ref = torch_usm(img)
        # the Gaussian runs as two 1-D passes (BasicSR: one 2-D pass): sums differ in the last bits, and a mask
        # value may flip where |residual| sits on the threshold
        assert np.abs(got - ref).max() < 1e-4
        assert np.mean(np.abs(got - ref) < 1e-6) > 0.999


def test_opencv_gaussian_taps():
    for size in (11, 21, 51):
        np.testing.assert_allclose(kernels.gaussian_1d(size), cv2.getGaussianKernel(size, 0).ravel(), rtol=1e-12)


@pytest.mark.parametrize("factor", [0.37, 0.5, 1.0, 1.31, 2.0])
def test_bilinear_resize_by_a_factor_is_torchs_interpolate(factor):
    imgs = images()
    sizes = [np.array([math.floor(i.shape[0] * factor), math.floor(i.shape[1] * factor)], np.float32) for i in imgs]
    rois = [s / factor for s in sizes]
    modes = [np.array(RESIZE_MODES.index("bilinear"), np.int32)] * len(imgs)
    out, = run_graph(degrade.resize, imgs, sizes, rois, modes)
    for img, got in zip(imgs, out):
        ref = F.interpolate(torch_nchw(img), scale_factor=factor, mode="bilinear")[0].numpy().transpose(1, 2, 0)
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, atol=1e-5)


def test_bilinear_resize_to_a_size_is_torchs_interpolate():
    imgs = images()
    sizes = [np.array([17, 23], np.float32), np.array([40, 61], np.float32), np.array([9, 9], np.float32)]
    rois = [np.array(i.shape[:2], np.float32) for i in imgs]
    modes = [np.array(RESIZE_MODES.index("bilinear"), np.int32)] * 3
    out, = run_graph(degrade.resize, imgs, sizes, rois, modes)
    for img, size, got in zip(imgs, sizes, out):
        ref = F.interpolate(torch_nchw(img), size=tuple(int(v) for v in size), mode="bilinear")[0]
        np.testing.assert_allclose(got, ref.numpy().transpose(1, 2, 0), atol=1e-5)


def test_gaussian_noise_of_a_given_field():
    imgs = images()
    fields = [RNG.standard_normal(i.shape).astype(np.float32) for i in imgs]
    gray = [RNG.standard_normal(i.shape[:2] + (1,)).astype(np.float32) for i in imgs]
    sigmas = [np.array(s, np.float32) for s in (1.0, 17.3, 30.0)]
    color, grey = run_graph(lambda x, f, g, s: (degrade.add_field(x, f, s), degrade.add_field(x, g, s)),
                            imgs, fields, gray, sigmas, layouts=["HWC", "HWC", "HWC", ""])
    for img, f, g, s, got_c, got_g in zip(imgs, fields, gray, sigmas, color, grey):
        t = torch_nchw(img)
        ref_c = torch.clamp(t + torch_nchw(f) * torch.tensor(s) / 255., 0, 1)  # add_gaussian_noise_pt, clip
        ref_g = torch.clamp(t + torch_nchw(np.repeat(g, 3, 2)) * torch.tensor(s) / 255., 0, 1)
        np.testing.assert_array_equal(got_c, ref_c[0].numpy().transpose(1, 2, 0))
        np.testing.assert_array_equal(got_g, ref_g[0].numpy().transpose(1, 2, 0))


def test_gray_plane_is_torchvisions_rgb_to_grayscale():
    imgs = images()
    out, = run_graph(degrade.gray_plane, imgs)
    for img, got in zip(imgs, out):
        r, g, b = (torch.from_numpy(np.ascontiguousarray(img[:, :, c])) for c in range(3))
        ref = (0.2989 * r + 0.587 * g + 0.114 * b).numpy()  # torchvision's _rgb_to_grayscale
        np.testing.assert_array_equal(got[:, :, 0], ref)


def test_round_levels_is_torchs_clamp_round_including_ties():
    ties = np.array([0.5, 1.5, 2.5, 3.5, 254.5, 255.5, -0.5, 300.0], np.float32) / np.float32(255)
    ties = ties * np.float32(255) / np.float32(255)  # a value whose x * 255 is exactly k + 0.5 in float32
    exact = (np.arange(0, 256, dtype=np.float32) + np.float32(0.5))
    candidates = exact / np.float32(255)
    on_tie = candidates[(candidates * np.float32(255)) == exact]
    imgs = [np.concatenate([on_tie, ties, RNG.random(200).astype(np.float32) * 1.2 - 0.1]).reshape(1, -1, 1)
            .repeat(3, 2).astype(np.float32)]
    assert len(on_tie) > 10  # the test does exercise ties
    out, = run_graph(degrade.round_levels, imgs)
    ref = torch.clamp((torch.from_numpy(imgs[0]) * 255.0).round(), 0, 255).numpy().astype(np.uint8)
    np.testing.assert_array_equal(out[0], ref)


def test_pad_window_mirrors_as_opencvs_reflect_101():
    imgs = [RNG.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in ((30, 40), (40, 26), (40, 40))]
    window = 40
    pads = [np.array([window - i.shape[0], window - i.shape[1], 2 * i.shape[0] - window - 1,
                      2 * i.shape[1] - window - 1], np.int32) for i in imgs]
    out, = run_graph(degrade.pad_window, imgs, pads)
    for img, got in zip(imgs, out):
        ref = cv2.copyMakeBorder(img, 0, window - img.shape[0], 0, window - img.shape[1], cv2.BORDER_REFLECT_101)
        np.testing.assert_array_equal(got, ref)


def test_quantize_is_dl_art_schools_formula():
    imgs = images()
    divisors = [np.array(d, np.float32) for d in (4, 8, 32)]
    out, = run_graph(degrade.quantize, imgs, divisors)
    for img, d, got in zip(imgs, divisors, out):
        np.testing.assert_allclose(got, np.floor(img * 255 / d) * d / 255, atol=1e-6)


def test_poisson_noise_has_the_variance_of_its_counts():
    flat = [np.full((200, 200, 3), v, np.float32) for v in (0.2, 0.5, 0.8)]
    scales = [np.array(s, np.float32) for s in (1.0, 2.0, 0.5)]
    gray = [np.array(False)] * 3
    out, = run_graph(degrade.poisson_noise, flat, scales, gray, layouts=["HWC", "", ""])
    for img, s, got in zip(flat, scales, out):
        base = np.round(img[0, 0, 0] * 255) / 255
        noise = (got - img) / s  # no clamping at these levels and scales
        counts = noise * degrade.POISSON_LEVELS + base * degrade.POISSON_LEVELS
        np.testing.assert_allclose(counts, np.round(counts), atol=1e-2)  # whole Poisson counts
        assert abs(noise.mean()) < 3 * math.sqrt(base / degrade.POISSON_LEVELS / noise.size)
        assert noise.var() == pytest.approx(base / degrade.POISSON_LEVELS, rel=0.03)


def test_gray_gaussian_noise_is_one_field_in_every_channel():
    imgs = [np.full((64, 64, 3), 0.5, np.float32)] * 2
    sigmas = [np.array(10.0, np.float32)] * 2
    gray = [np.array(True), np.array(False)]
    out, = run_graph(degrade.gaussian_noise, imgs, sigmas, gray, layouts=["HWC", "", ""])
    g, c = out
    assert (g[:, :, 0] == g[:, :, 1]).all() and (g[:, :, 1] == g[:, :, 2]).all()
    assert not (c[:, :, 0] == c[:, :, 1]).all()
    for x in (g, c):
        assert (x - 0.5).std() * 255 == pytest.approx(10.0, rel=0.05)
