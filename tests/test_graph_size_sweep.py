"""Every DALI graph operation that has an independent reference, over image sizes from a few pixels to 2048 x 2048.

DALI's kernels change strategy with size (the CPU slice kernel splits outputs of more than ~16k elements into
blocks, and its strided subscript then returned wrong rows): a test on small images alone proves nothing
about a 256-pixel training window or a 2040-pixel validation image. Each test draws its sizes from a fixed
seed (printed on failure) and always includes the smallest and the largest; odd and even sides both occur.
The quick lane runs a few sizes per operation, the slow lane many more.
"""
from __future__ import annotations

import math
from typing import Callable

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from nvidia.dali import fn, pipeline_def, types

import dali_sr.pipelines.ops as ops
from dali_sr.degrade import kernels
from dali_sr.degrade.bicubic import downscale
from dali_sr.degrade.chain import RESIZE_MODES, Usm
from dali_sr.pipelines import degrade
from test_degrade_ops import run_graph, torch_filter2d
from test_gt_only import basicsr_imresize

LARGEST = 2048
LANES = [pytest.param(3, id="quick"), pytest.param(24, id="many", marks=pytest.mark.slow)]


def sweep(n_random: int, seed: int, low: int = 1, high: int = LARGEST, multiple: int = 1) -> list[tuple[int, int]]:
    """(h, w) sides in [low, high], multiples of `multiple`: the smallest square, the largest square, a thin and a
    flat one, and `n_random` drawn from `seed` (log-uniform, so small and large sides are equally common)."""
    rng = np.random.default_rng(seed)
    lo, hi = -(-low // multiple), high // multiple
    fixed = [(lo, lo), (hi, hi), (lo, hi), (hi, lo)]
    drawn = np.exp(rng.uniform(math.log(lo), math.log(hi + 1), (n_random, 2))).astype(int)
    sides = fixed + [tuple(int(v) for v in np.clip(d, lo, hi)) for d in drawn]
    return [(h * multiple, w * multiple) for h, w in sides]


def smooth_image(h: int, w: int, seed: int, dtype=np.uint8) -> np.ndarray:
    """An HWC RGB image with detail and flat areas (blurred noise), uint8 levels or float32 in [0, 1]."""
    rng = np.random.default_rng(seed)
    x = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 1.5)
    x = (x - x.min()) / max(float(x.max() - x.min()), 1e-6)
    return np.round(x * 255).astype(np.uint8) if dtype == np.uint8 else x.astype(np.float32)


def in_batches(items: list, size: int = 4) -> list[list]:
    """Samples of mixed sizes, a few per DALI batch (bounded memory for the 2048-pixel ones)."""
    return [items[i:i + size] for i in range(0, len(items), size)]


def each_sample(build: Callable, *inputs: list, layouts=None) -> list[list[np.ndarray]]:
    """`run_graph` over `inputs` in batches of mixed sizes; the outputs per sample, in order."""
    outs: list[list[np.ndarray]] = []
    for chunk in zip(*(in_batches(list(x)) for x in inputs)):
        got = run_graph(build, *chunk, layouts=layouts)
        outs = [o + g for o, g in zip(outs, got)] if outs else got
    return outs


# -- MATLAB bicubic (GT-only LQ) ------------------------------------------------------------------------------

@pytest.mark.parametrize("lane", LANES)
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_of_images_of_every_size_equals_numpy_and_basicsr(lane, scale):
    seed = 100 + scale
    sizes = sweep(lane, seed, low=scale, multiple=scale)
    images = [smooth_image(h, w, seed + k) for k, (h, w) in enumerate(sizes)]
    out, = each_sample(lambda x: ops.bicubic_float(x, scale, False, False), images)
    for (h, w), img, got in zip(sizes, images, out):
        assert got.shape == (h // scale, w // scale, 3), f"seed {seed}, {h}x{w}"
        ref = downscale(img, scale)
        assert np.abs(got - ref).max() <= 2e-4, f"seed {seed}, {h}x{w}: {np.abs(got - ref).max()} levels from NumPy"
        # BasicSR's formula mirrors once, MATLAB (and NumPy, DALI) as often as the support needs: they agree from
        # sides of 4 x scale; it gathers taps x image floats, so the largest images are checked against NumPy only
        if min(h, w) >= 4 * scale and h * w <= 1 << 20:
            assert np.abs(got / 255 - basicsr_imresize(img / 255.0, scale)).max() <= 1e-6, f"seed {seed}, {h}x{w}"


@pytest.mark.parametrize("lane", LANES)
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_of_clips_of_every_size_equals_numpy(lane, scale):
    seed = 200 + scale
    sizes = sweep(lane, seed, low=scale, high=1024, multiple=scale)
    clips = [np.stack([smooth_image(h, w, seed + 7 * k + f) for f in range(1 + k % 3)]) for k, (h, w) in
             enumerate(sizes)]
    out, = each_sample(lambda x: ops.bicubic_float(x, scale, True, False), clips, layouts=["FHWC"])
    for (h, w), clip, got in zip(sizes, clips, out):
        assert got.shape == (len(clip), h // scale, w // scale, 3), f"seed {seed}, {h}x{w}"
        for frame, got_frame in zip(clip, got):
            assert np.abs(got_frame - downscale(frame, scale)).max() <= 2e-4, f"seed {seed}, {h}x{w}"


@pytest.mark.parametrize("longest", [pytest.param(LARGEST, id="quick"),
                                     pytest.param(16384, id="many", marks=pytest.mark.slow)])
@pytest.mark.parametrize("step", [2, 3, 4])
def test_every_nth_keeps_the_right_rows_and_columns_of_every_multiple(step, longest):
    """The relative shapes of `every_nth`'s reshape and slice are floats: exact for every side it may meet."""
    lines = [np.arange(step * k * 3, dtype=np.float32).reshape(step * k, 1, 3) for k in range(1, longest // step + 1)]
    for chunk in in_batches(lines, 1400):
        rows, columns = run_graph(lambda x: (ops.every_nth(x, 0, step, 3),
                                             ops.every_nth(fn.transpose(x, perm=[1, 0, 2]), 1, step, 3)), chunk)
        for line, r, c in zip(chunk, rows, columns):
            np.testing.assert_array_equal(r, line[::step], err_msg=f"{len(line)} rows, every {step}")
            np.testing.assert_array_equal(c, line.transpose(1, 0, 2)[:, ::step], err_msg=f"{len(line)} columns")


@pytest.mark.gpu
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_on_the_gpu_of_every_size_equals_numpy(scale):
    seed = 150 + scale
    sizes = sweep(6, seed, low=scale, multiple=scale)
    images = [smooth_image(h, w, seed + k) for k, (h, w) in enumerate(sizes)]
    clip = np.stack([smooth_image(192, 256, seed + f) for f in range(3)])

    @pipeline_def(batch_size=len(images), num_threads=2, device_id=0)
    def pipe():
        x = fn.external_source(lambda: images, batch=True, layout="HWC").gpu()
        f = fn.external_source(lambda: [clip] * len(images), batch=True, layout="FHWC").gpu()
        return ops.bicubic_float(x, scale, False, True), ops.bicubic_float(f, scale, True, True)

    p = pipe()
    p.build()
    single, frames = (o.as_cpu() for o in p.run())
    for k, ((h, w), img) in enumerate(zip(sizes, images)):
        assert np.abs(np.array(single[k]) - downscale(img, scale)).max() <= 2e-4, f"seed {seed}, {h}x{w} on the GPU"
    for frame, got in zip(clip, np.array(frames[0])):
        assert np.abs(got - downscale(frame, scale)).max() <= 2e-4, f"seed {seed}, clip frame on the GPU"


# -- windows and flips -------------------------------------------------------------------------------------------

def _windows(sizes: list[tuple[int, int]], seed: int) -> tuple[list, list]:
    """A random window (anchor (x, y), shape (w, h)) inside each size, from a single pixel to the whole image."""
    rng = np.random.default_rng(seed)
    anchors, shapes = [], []
    for h, w in sizes:
        wh = np.array([rng.integers(1, w + 1), rng.integers(1, h + 1)])
        xy = np.array([rng.integers(0, w - wh[0] + 1), rng.integers(0, h - wh[1] + 1)])
        anchors.append(xy.astype(np.int32))
        shapes.append(wh.astype(np.int32))
    return anchors, shapes


@pytest.mark.parametrize("lane", LANES)
def test_crops_of_every_size_are_numpy_slices(lane):
    seed = 300
    sizes = sweep(lane * 2, seed)
    images = [smooth_image(h, w, seed + k) for k, (h, w) in enumerate(sizes)]
    anchors, shapes = _windows(sizes, seed)
    out, = each_sample(ops.crop, images, shapes, anchors, layouts=["HWC", "", ""])
    for img, (x, y), (w, h), got in zip(images, anchors, shapes, out):
        np.testing.assert_array_equal(got, img[y:y + h, x:x + w], err_msg=f"seed {seed}, {img.shape}")


@pytest.mark.parametrize("lane", LANES)
@pytest.mark.parametrize("codec", ["png", "jpeg"])
def test_roi_decodes_of_every_size_are_windows_of_the_whole_decode(lane, codec):
    seed = 400
    sizes = sweep(lane, seed)
    images = [smooth_image(h, w, seed + k) for k, (h, w) in enumerate(sizes)]
    ext, params = (".png", [cv2.IMWRITE_PNG_COMPRESSION, 1]) if codec == "png" else (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90])
    encoded = [cv2.imencode(ext, img[:, :, ::-1], params)[1] for img in images]
    anchors, shapes = _windows(sizes, seed)

    def build(data, shape, anchor):
        return ops.decode_crop(data, shape, anchor), ops.decode(data, False, 0.0)

    windows, whole = each_sample(build, encoded, shapes, anchors, layouts=["", "", ""])
    for img, (x, y), (w, h), got, full in zip(images, anchors, shapes, windows, whole):
        where = f"seed {seed}, {img.shape}, window {w}x{h} at ({x}, {y})"
        if codec == "png":
            np.testing.assert_array_equal(got, img[y:y + h, x:x + w], err_msg=where)
        else:  # a JPEG window decodes from its own MCUs: within a level of the whole decode's window
            assert np.abs(got.astype(int) - full[y:y + h, x:x + w]).max() <= 1, where


@pytest.mark.parametrize("lane", LANES)
@pytest.mark.parametrize("frames", [False, True])
def test_flips_and_transposes_of_every_size_are_numpys(lane, frames):
    seed = 500 + frames
    sizes = sweep(lane * 2, seed, high=LARGEST if not frames else 1024)
    rng = np.random.default_rng(seed)
    images = [smooth_image(h, w, seed + k) for k, (h, w) in enumerate(sizes)]
    if frames:
        images = [np.stack([img, img[::-1, ::-1].copy()]) for img in images]
    flags = [rng.integers(0, 2, 3).astype(np.int32) for _ in sizes]

    def build(x, f):
        x = ops.flip(x, f[0], f[1])
        if fn.cast(f[2], dtype=types.BOOL):
            x = ops.transpose_hw(x, frames)
        return x

    out, = each_sample(build, images, flags, layouts=["FHWC" if frames else "HWC", ""])
    for img, f, got in zip(images, flags, out):
        want = img[..., ::-1, :] if f[0] else img
        want = want[..., ::-1, :, :] if f[1] else want
        want = np.swapaxes(want, -3, -2) if f[2] else want
        np.testing.assert_array_equal(got, want, err_msg=f"seed {seed}, {img.shape}, flags {f}")


@pytest.mark.parametrize("lane", LANES)
def test_reflect_101_padding_of_every_size_is_opencvs(lane):
    seed = 600
    rng = np.random.default_rng(seed)
    sizes = sweep(lane, seed, low=2, high=1024)
    images = [smooth_image(h, w, seed + k) for k, (h, w) in enumerate(sizes)]
    windows = [max(h, w) + int(rng.integers(0, min(h, w))) for h, w in sizes]
    pads = [np.array([s - i.shape[0], s - i.shape[1], 2 * i.shape[0] - s - 1, 2 * i.shape[1] - s - 1], np.int32)
            for i, s in zip(images, windows)]
    ok = [p[2] >= 0 and p[3] >= 0 for p in pads]  # reflect-101 needs the pad shorter than the side
    images, pads, windows = ([x for x, keep in zip(v, ok) if keep] for v in (images, pads, windows))
    out, = each_sample(degrade.pad_window, images, pads)
    for img, s, got in zip(images, windows, out):
        ref = cv2.copyMakeBorder(img, 0, s - img.shape[0], 0, s - img.shape[1], cv2.BORDER_REFLECT_101)
        np.testing.assert_array_equal(got, ref, err_msg=f"seed {seed}, {img.shape} -> {s}")


# -- degradation steps -------------------------------------------------------------------------------------------

def _torch_nchw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]


def _factors_and_sizes(images: list[np.ndarray], rng: np.random.Generator) -> tuple[list, list, list]:
    """Per image a factor (halving, quartering, doubling, a copy on a side, or drawn), the output size torch's
    `scale_factor` gives, and the range it samples (size / factor)."""
    factors = []
    for img in images:
        copy = (img.shape[0] + 0.5) / img.shape[0]  # floor(h * f) == h: torch copies that side
        f = min(float(rng.choice([0.25, 0.5, 2.0, copy, rng.uniform(0.2, 2.0)])), LARGEST / max(img.shape[:2]))
        factors.append(max(f, 1.0001 / min(img.shape[:2])))  # at least one output pixel per side
    sizes = [np.array([math.floor(i.shape[0] * f), math.floor(i.shape[1] * f)], np.float32)
             for i, f in zip(images, factors)]
    return factors, sizes, [s / f for s, f in zip(sizes, factors)]


def torch_source_positions(n_out: int, n_in: int, factor: float) -> np.ndarray:
    """Where torch's `F.interpolate(scale_factor=factor)` samples a side (its GPU kernels' formula): output i at
    input position (i + 0.5) * r - 0.5 for r = 1 / factor in float32."""
    r = np.float32(1.0 / factor)
    return (np.arange(n_out, dtype=np.float32) + np.float32(0.5)) * r - np.float32(0.5)


def torch_bilinear(img: np.ndarray, factor: float) -> np.ndarray:
    """torch's bilinear `F.interpolate(scale_factor=factor)` of an HWC image by its formula: positions clamped at 0,
    the two neighbours (the last one repeated at the end) weighted by distance, one side after the other."""
    out = img.astype(np.float64)
    for axis in (0, 1):
        n_in = out.shape[axis]
        src = np.maximum(torch_source_positions(math.floor(n_in * factor), n_in, factor), 0).astype(np.float64)
        i0 = np.floor(src).astype(int)
        i1 = np.minimum(i0 + 1, n_in - 1)
        w = (src - i0).reshape([-1 if a == axis else 1 for a in range(out.ndim)])
        out = np.take(out, i0, axis=axis) * (1 - w) + np.take(out, i1, axis=axis) * w
    return out


def torch_nearest_picks(n_out: int, n_in: int, factor: float) -> np.ndarray:
    """The input index torch's `nearest` takes for each output index (its GPU kernels' formula): floor(i * r),
    r = 1 / factor in float32, at most the last index."""
    return np.minimum(np.floor(np.arange(n_out, dtype=np.float32) * np.float32(1.0 / factor)), n_in - 1).astype(int)


@pytest.mark.parametrize("lane", LANES)
def test_bilinear_resizes_of_every_size_are_torchs_formula(lane):
    seed = 700
    rng = np.random.default_rng(seed)
    images = [smooth_image(h, w, seed + k, np.float32) for k, (h, w) in enumerate(sweep(lane * 2, seed, high=1024))]
    factors, sizes, rois = _factors_and_sizes(images, rng)
    modes = [np.array(RESIZE_MODES.index("bilinear"), np.int32)] * len(images)
    out, = each_sample(degrade.resize, images, sizes, rois, modes)
    for img, f, got in zip(images, factors, out):
        ref = torch_bilinear(img, f)
        assert got.shape == ref.shape, f"seed {seed}, {img.shape} x {f}"
        # positions are float32 sums in DALI and products in torch: near 2048 pixels a sample may move by
        # 1.2e-4 pixels, so values may differ by that much times the image's slope (< 1 per pixel)
        assert np.abs(got - ref).max() <= 1e-4, f"seed {seed}, {img.shape} x {f}: {np.abs(got - ref).max()}"


def _picked(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) picked by a resize of a position-coded image: the source row of each output row (first
    column) and the source column of each output column (first row)."""
    code = values[:, :, 0].astype(np.int64)
    return code[:, 0] // 4096, code[0, :] % 4096


@pytest.mark.parametrize("lane", LANES)
def test_nearest_resizes_of_every_size_pick_torchs_pixels(lane):
    """Each output pixel is the input pixel torch's `nearest` picks, but where i / f lies less than 2 % of a pixel
    below a whole number: DALI's positions carry errors of up to ~1.5 % of a pixel (measured over 4000 pixels),
    so it may pick the next pixel there. Whole positions (every one at factors 2, 1/2, 1/4) are exact."""
    seed = 710
    rng = np.random.default_rng(seed)
    images = [(np.arange(h, dtype=np.float32)[:, None] * 4096 + np.arange(w, dtype=np.float32)[None, :])[:, :, None]
              .repeat(3, 2) for h, w in sweep(lane * 2, seed)]
    factors, sizes, rois = _factors_and_sizes(images, rng)
    modes = [np.array(RESIZE_MODES.index("nearest"), np.int32)] * len(images)
    out, = each_sample(degrade.resize, images, sizes, rois, modes)
    for img, f, got in zip(images, factors, out):
        assert got.shape[:2] == (math.floor(img.shape[0] * f), math.floor(img.shape[1] * f))
        for axis, picked in enumerate(_picked(got)):
            want = torch_nearest_picks(len(picked), img.shape[axis], f)
            exact = np.arange(len(picked)) / f
            below_whole = (np.ceil(exact) - exact < 0.02) & (exact != np.ceil(exact))
            ok = (picked == want) | (below_whole & (picked == want + 1))
            assert ok.all(), f"seed {seed}, {img.shape} x {f}, axis {axis}: outputs {np.flatnonzero(~ok)[:5]}"


def test_nearest_is_torchs_interpolate_where_its_kernels_agree():
    """On sides that neither keep their length nor double, torch's CPU kernel computes the same formula."""
    images = [np.arange(h * w * 3, dtype=np.float32).reshape(h, w, 3) for h, w in ((37, 45), (300, 500), (64, 64))]
    for f in (0.37, 0.5, 1.7):
        sizes = [np.array([math.floor(i.shape[0] * f), math.floor(i.shape[1] * f)], np.float32) for i in images]
        modes = [np.array(RESIZE_MODES.index("nearest"), np.int32)] * len(images)
        out, = run_graph(degrade.resize, images, sizes, [s / f for s in sizes], modes)
        for img, got in zip(images, out):
            ref = F.interpolate(_torch_nchw(img), scale_factor=f, mode="nearest")[0].numpy().transpose(1, 2, 0)
            np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("lane", LANES)
def test_blur_of_every_size_is_basicsrs_filter2d(lane):
    seed = 800
    sizes = sweep(lane, seed, low=1, high=1024)
    images = [smooth_image(h, w, seed + k, np.float32) for k, (h, w) in enumerate(sizes)]
    ks = [kernels.gaussian(2 * (k % 10) + 3, 1.0 + k % 3, 2.0, 0.3 * k) for k in range(len(images))]
    keep = [min(i.shape[:2]) > k.shape[0] // 2 for i, k in zip(images, ks)]  # reflect padding needs the side
    images, ks = ([x for x, k in zip(v, keep) if k] for v in (images, ks))
    out, = each_sample(degrade.correlate, images, ks)
    for img, k, got in zip(images, ks, out):
        assert np.abs(got - torch_filter2d(img, k)).max() <= 1e-5, f"seed {seed}, {img.shape}, kernel {k.shape}"


def separable_usm_reference(img: np.ndarray, radius: int = 51, weight: float = 0.5,
                            threshold: float = 10) -> tuple[np.ndarray, np.ndarray]:
    """BasicSR's `USMSharp` in float64 (its Gaussian is separable: two 1-D passes, reflect-101 borders), and where
    float32 arithmetic may settle its mask the other way: the pixels within the blur's reach of a value whose
    |residual| x 255 lies within 1e-3 of the threshold."""
    g = cv2.getGaussianKernel(radius, 0)
    x = img.astype(np.float64)
    residual = x - cv2.sepFilter2D(x, cv2.CV_64F, g, g, borderType=cv2.BORDER_REFLECT_101)
    mask = (np.abs(residual) * 255 > threshold).astype(np.float64)
    soft = cv2.sepFilter2D(mask, cv2.CV_64F, g, g, borderType=cv2.BORDER_REFLECT_101)
    on_threshold = (np.abs(np.abs(residual) * 255 - threshold) < 1e-3).astype(np.uint8)
    unsettled = cv2.dilate(on_threshold, np.ones((radius, radius), np.uint8), borderType=cv2.BORDER_REFLECT_101) > 0
    return soft * np.clip(x + weight * residual, 0, 1) + (1 - soft) * x, unsettled


@pytest.mark.parametrize("lane", LANES)
def test_usm_of_every_size_is_basicsrs_usmsharp(lane):
    seed = 900
    sizes = sweep(lane, seed, low=26, high=LARGEST)
    images = [smooth_image(h, w, seed + k, np.float32) for k, (h, w) in enumerate(sizes)]
    out, = each_sample(lambda x: degrade.usm(x, Usm("u", 1.0), False), images)
    for img, got in zip(images, out):
        ref, unsettled = separable_usm_reference(img)
        diff = np.abs(got - ref)
        assert diff[~unsettled].max(initial=0) <= 1e-6, f"seed {seed}, {img.shape}: {diff[~unsettled].max()}"
        assert diff.max() < 1e-3, f"seed {seed}, {img.shape}: {diff.max()} where the mask is unsettled"


@pytest.mark.parametrize("lane", LANES)
def test_jpeg_round_trips_of_every_size_are_opencvs(lane):
    seed = 1000
    rng = np.random.default_rng(seed)
    sizes = sweep(lane, seed, high=LARGEST)
    images = [smooth_image(h, w, seed + k) for k, (h, w) in enumerate(sizes)]
    qualities = [np.array(rng.integers(10, 96), np.int32) for _ in sizes]
    out, = each_sample(lambda x, q: fn.jpeg_compression_distortion(x, quality=q), images, qualities)
    for img, q, got in zip(images, qualities, out):
        ref = cv2.imdecode(cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(q)])[1],
                           cv2.IMREAD_COLOR)[:, :, ::-1]
        np.testing.assert_array_equal(got, ref, err_msg=f"seed {seed}, {img.shape}, quality {int(q)}")


@pytest.mark.parametrize("lane", LANES)
def test_float_outputs_of_every_size_are_basicsrs(lane):
    """uint8 HWC -> float CHW in [0, 1], and BT.601 Y, bit for bit as BasicSR computes them."""
    seed = 1100
    sizes = sweep(lane, seed)
    images = [smooth_image(h, w, seed + k) for k, (h, w) in enumerate(sizes)]
    rgb, y = each_sample(lambda x: (ops.to_output(x, None, None, False, False, False),
                                    ops.to_output(x, None, None, True, False, False)), images)
    for img, got_rgb, got_y in zip(images, rgb, y):
        x = img.astype(np.float32) / 255.0
        np.testing.assert_array_equal(got_rgb, x.transpose(2, 0, 1), err_msg=f"seed {seed}, {img.shape}")
        ref_y = (np.dot(x[:, :, ::-1].astype(np.float64), [24.966, 128.553, 65.481]) + 16.0) / 255.0
        np.testing.assert_array_equal(got_y[0], ref_y.astype(np.float32), err_msg=f"seed {seed}, {img.shape}")


def test_the_sweep_covers_small_large_odd_and_even_sides():
    sizes = sweep(3, 0)
    sides = [s for hw in sizes for s in hw]
    assert min(sides) == 1 and max(sides) == LARGEST
    assert {s % 2 for s in sides} == {0, 1}
    assert all(h % 3 == 0 and w % 3 == 0 and 3 <= min(h, w) and max(h, w) <= LARGEST
               for h, w in sweep(5, 1, low=3, multiple=3))
