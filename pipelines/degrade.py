"""DALI graph pieces of the degradation chains: each step applied per sample to float32 HWC RGB in [0, 1].

Every step reads its per-sample values from the source's columns (`dali_sr.degrade.draws`), so one batch
holds as many settings as samples. A step with `prob` < 1, a `one_of`, a resize mode and a noise kind are
DALI conditionals: each branch runs on the samples that take it. The formulas follow BasicSR's torch code
(`filter2D`, `USMSharp`, the `_pt` noise functions, the final clamp and round); where DALI has no exact
equivalent (bicubic with a = -0.75, `area` at non-integer factors, DiffJPEG) the README gives the measured
difference.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from nvidia.dali import fn, types
from nvidia.dali import math as dmath

from dali_sr.degrade import kernels
from dali_sr.degrade.chain import (RESIZE_MODES, Blur, Brightness, Chain, Corrupt, Gray, Jpeg, Noise, OneOf, Quantize,
                                   Resize, Sinc, Step, Usm)

from . import dlas_corrupt, ops

POISSON_LEVELS = 256.0  # BasicSR's 2^ceil(log2(distinct levels)); 256 for any image with more than 128 levels
_GRAY = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale, which BasicSR's gray Poisson noise uses
_AREA, _NEAREST, _LANCZOS = RESIZE_MODES.index("area"), RESIZE_MODES.index("nearest"), RESIZE_MODES.index("lanczos")
_NEAREST_EXACT = RESIZE_MODES.index("nearest-exact")
_MAX_BOX = 64  # the largest whole area factor computed as exact bin means
_NEAREST_NUDGE = 1e-3  # input pixels: above DALI's float32 rounding of positions up to 2048, far below a pixel


def _device(on_gpu: bool) -> str:
    return "gpu" if on_gpu else "cpu"


def to_float(image):
    """uint8 HWC -> float32 in [0, 1], `x.astype(float32) / 255` as BasicSR reads images."""
    return fn.cast(image, dtype=types.FLOAT) / types.Constant(255.0, dtype=types.FLOAT)


def round_levels(x):
    """float32 in [0, 1] -> uint8 levels: `clamp(round(x * 255), 0, 255)` with torch's round (half to even)."""
    y = dmath.clamp(x * 255.0, 0.0, 255.0)
    nearest = fn.cast(y, dtype=types.INT32)  # DALI rounds half away from zero
    tie_to_odd = (fn.cast(nearest, dtype=types.FLOAT) - y == 0.5) & (nearest % 2 == 1)
    return fn.cast(nearest - fn.cast(tie_to_odd, dtype=types.INT32), dtype=types.UINT8)


def correlate(x, kernel):
    """BasicSR's `filter2D`: each channel correlated with the sample's kernel, mirrored borders (torch 'reflect')."""
    return fn.filter(x, kernel, border="reflect_101")


def gaussian_blur(x, size: int, on_gpu: bool):
    """The Gaussian of OpenCV's `getGaussianKernel(size, 0)` as two 1-D passes (it is separable)."""
    g = kernels.gaussian_1d(size).astype(np.float32)
    x = correlate(x, types.Constant(g.reshape(size, 1), device=_device(on_gpu)))
    return correlate(x, types.Constant(g.reshape(1, size), device=_device(on_gpu)))


def usm(x, step: Usm, on_gpu: bool):
    """BasicSR's `USMSharp`: add `weight` x the detail where it exceeds `threshold` levels, with a soft mask."""
    blurred = gaussian_blur(x, step.radius, on_gpu)
    residual = x - blurred
    mask = fn.cast(dmath.abs(residual) * 255.0 > step.threshold, dtype=types.FLOAT)
    soft = gaussian_blur(mask, step.radius, on_gpu)
    sharp = dmath.clamp(x + residual * step.weight, 0.0, 1.0)
    return soft * sharp + (1.0 - soft) * x


def resize(x, size, roi, mode):
    """To `size` (h, w), sampling the input's [0, roi) (roi (h, w)): torch's `F.interpolate` geometry for
    `scale_factor` (roi = size / factor) or `size` (roi = input size). Bilinear and nearest are torch's
    formulas; bicubic is Keys' cubic with a = -0.5 (torch: -0.75); area is `area`.

    Nearest is torch's formula, floor(i * r) for the ratio r = roi / size, as its GPU kernel computes it (its
    CPU kernels copy a side that keeps its length and repeat pixels of a side that doubles). DALI's nearest
    takes the pixel under each output pixel's centre, floor((i + 0.5) * r): the sampled range starts half an
    output pixel earlier, -r / 2, to pick torch's pixels, plus `_NEAREST_NUDGE` so that a position that is a
    whole number (every one at factors 1/2, 1/4) does not fall to the pixel below by DALI's rounding.
    Nearest-exact, torch's floor((i + 0.5) * r), is DALI's nearest with that nudge alone.
    """
    if mode == _AREA:
        return area(x, size, roi)
    if mode == _LANCZOS:
        return lanczos(x, size, roi)
    start = (roi / size * -0.5 + _NEAREST_NUDGE) * fn.cast(mode == _NEAREST, dtype=types.FLOAT) \
        + _NEAREST_NUDGE * fn.cast(mode == _NEAREST_EXACT, dtype=types.FLOAT)
    return fn.resize(x, size=size, roi_start=start, roi_end=roi + start, interp_type=_interp(mode), antialias=False)


def area(x, size, roi):
    """Area downscale of the input's [0, roi) to `size`. At whole factors (roi / size integers up to
    `_MAX_BOX`) the mean of each factor x factor bin, as torch's adaptive average pooling and OpenCV's
    INTER_AREA compute it: a box filter anchored at the bin's first pixel, then every factor-th pixel (DALI's
    nearest, started half a bin early as in `resize`). At other factors DALI's antialiasing linear filter
    (torch and OpenCV: bins with fractional bounds)."""
    factor = roi / size
    fh, fw = factor[0], factor[1]
    whole = (dmath.floor(fh) == fh) & (dmath.floor(fw) == fw) & (fh <= _MAX_BOX) & (fw <= _MAX_BOX)
    if whole:
        box = fn.slice(types.Constant(np.ones((_MAX_BOX, _MAX_BOX), np.float32), device="cpu"),
                       start=types.Constant(np.zeros(2, np.int32), device="cpu"),
                       shape=fn.cast(factor, dtype=types.INT32), axes=[0, 1]) / (fh * fw)
        means = fn.filter(x, box, anchor=[0, 0], border="reflect_101")
        start = factor * -0.5 + _NEAREST_NUDGE
        x = fn.resize(means, size=size, roi_start=start, roi_end=size * factor + start, interp_type=types.INTERP_NN,
                      antialias=False)
    else:
        start = types.Constant(np.zeros(2, np.float32), device="cpu")
        x = fn.resize(x, size=size, roi_start=start, roi_end=roi, interp_type=types.INTERP_LINEAR, antialias=True)
    return x


def lanczos(x, size, roi):
    """Lanczos-3 of the input's [0, roi) to `size`, antialiased (the kernel widened by the factor) when it
    shrinks: DALI's Lanczos resampling. traiNNer-redux's `lanczos` low-passes with that widened kernel, then
    samples by torch's bicubic; the two differ by the measure docs/redux.md gives."""
    start = types.Constant(np.zeros(2, np.float32), device="cpu")
    return fn.resize(x, size=size, roi_start=start, roi_end=roi, interp_type=types.INTERP_LANCZOS3, antialias=True)


def _interp(mode):
    """The DALI interpolation of a per-sample mode index (bilinear, bicubic, nearest or nearest-exact: the input
    pixel under the output pixel's centre, torch's `nearest-exact`)."""
    table = np.full(len(RESIZE_MODES), int(types.INTERP_LINEAR), np.int32)
    table[RESIZE_MODES.index("bicubic")] = int(types.INTERP_CUBIC)
    table[_NEAREST] = int(types.INTERP_NN)
    table[_NEAREST_EXACT] = int(types.INTERP_NN)
    return fn.cast(fn.lookup_table(mode, keys=list(range(len(table))), values=table.tolist(), dtype=types.INT32),
                   dtype=types.INTERP_TYPE)


def add_field(x, field, sigma):
    """`clamp(x + field * sigma / 255, 0, 1)`: BasicSR's Gaussian noise of a given N(0, 1) field (one channel
    is the gray field, the same in every channel)."""
    return dmath.clamp(x + field * sigma / 255.0, 0.0, 1.0)


def gaussian_noise(x, sigma, gray):
    """BasicSR's `add_gaussian_noise_pt` with a fresh N(0, 1) field per sample (one for all channels when gray)."""
    if gray:
        field = fn.random.normal(x[:, :, 0:1])
    else:
        field = fn.random.normal(x)
    return add_field(x, field, sigma)


def gray_plane(x):
    """torchvision's `rgb_to_grayscale` (0.2989 R + 0.587 G + 0.114 B) as an HW1 plane."""
    r, g, b = x[:, :, 0:1], x[:, :, 1:2], x[:, :, 2:3]
    return r * _GRAY[0] + g * _GRAY[1] + b * _GRAY[2]


def _levels(x):
    """`clamp(round(x * 255), 0, 255) / 255` in float32."""
    return to_float(round_levels(x))


def poisson_noise(x, scale, gray):
    """BasicSR's `add_poisson_noise_pt`: Poisson counts of the image rounded to levels (of its gray image when
    gray), at `POISSON_LEVELS` levels, minus that image, times `scale`, added and clamped to [0, 1]."""
    if gray:
        base = _levels(gray_plane(x))
    else:
        base = _levels(x)
    noisy = fn.noise.shot(base, factor=1.0 / POISSON_LEVELS)
    return dmath.clamp(x + (noisy - base) * scale, 0.0, 1.0)


def noise(x, columns: dict[str, Any], step: Noise):
    if columns[f"{step.id}_gaussian"]:
        x = gaussian_noise(x, columns[f"{step.id}_sigma"], columns[f"{step.id}_gray"])
    else:
        x = poisson_noise(x, columns[f"{step.id}_scale"], columns[f"{step.id}_gray"])
    return x


def jpeg(x, quality):
    """JPEG at the sample's quality, on the image clamped and rounded to levels (DALI's JPEG distortion:
    OpenCV's codec on the CPU, an emulation of it on the GPU)."""
    return to_float(fn.jpeg_compression_distortion(round_levels(x), quality=quality))


def gray(x, step: Gray):
    r, g, b = x[:, :, 0:1], x[:, :, 1:2], x[:, :, 2:3]
    y = r * step.weights[0] + g * step.weights[1] + b * step.weights[2]
    return fn.cat(y, y, y, axis=2)


def quantize(x, divisor):
    """`floor(x * 255 / d) * d / 255` (DL-Art-School's colour quantization)."""
    return dmath.floor(x * 255.0 / divisor) * divisor / 255.0


def _run(x, step: Step, columns: dict[str, Any], cfg: Any, on_gpu: bool):
    col = (lambda name: columns[f"{step.id}_{name}"])
    if isinstance(step, Usm):
        return usm(x, step, on_gpu)
    if isinstance(step, (Blur, Sinc)):
        return correlate(x, col("kernel"))
    if isinstance(step, Resize):
        if step.modes == ("matlab",):
            return ops.bicubic_float(x, cfg.scale, False, on_gpu)
        return resize(x, col("size"), col("roi"), col("mode"))
    if isinstance(step, Noise):
        return noise(x, columns, step)
    if isinstance(step, Jpeg):
        return jpeg(x, col("quality"))
    if isinstance(step, Gray):
        return gray(x, step)
    if isinstance(step, Quantize):
        return quantize(x, col("divisor"))
    if isinstance(step, Brightness):
        return dmath.clamp(x + col("offset"), 0.0, 1.0)
    if isinstance(step, Corrupt):
        return dlas_corrupt.corrupt(x, step, columns)
    raise TypeError(f"no graph for step {step!r}")


def apply_steps(x, steps: tuple[Step, ...], columns: dict[str, Any], cfg: Any, on_gpu: bool):
    """Run `steps` in order on float32 HWC images; each sample runs the steps (and options) its draws chose."""
    for step in steps:
        if isinstance(step, OneOf):
            option = columns[f"{step.id}_option"]
            for i, branch in enumerate(step.options):
                if option == i:
                    x = apply_steps(x, branch, columns, cfg, on_gpu)
        elif step.prob < 1:
            if columns[f"{step.id}_on"]:
                x = _run(x, step, columns, cfg, on_gpu)
        else:
            x = _run(x, step, columns, cfg, on_gpu)
    return x


def degrade(gt_u8, chain: Chain, columns: dict[str, Any], cfg: Any, on_gpu: bool):
    """uint8 HWC GT windows -> the chain's LQ as uint8 levels (BasicSR's final clamp and round)."""
    return round_levels(apply_steps(to_float(gt_u8), chain.steps, columns, cfg, on_gpu))


def pad_window(x, pad):
    """Mirror `pad[0]` rows in at the bottom and `pad[1]` columns at the right (`BORDER_REFLECT_101`); the
    mirrored strips start at row `pad[2]` and column `pad[3]`."""
    if pad[0] > 0:
        strip = fn.slice(x, start=pad[2:3], shape=pad[0:1], axes=[0])
        x = fn.cat(x, fn.flip(strip, horizontal=0, vertical=1), axis=0)
    if pad[1] > 0:
        strip = fn.slice(x, start=pad[3:4], shape=pad[1:2], axes=[1])
        x = fn.cat(x, fn.flip(strip, horizontal=1, vertical=0), axis=1)
    return x


def degraded_pair(gt_u8, out: Any, columns: dict[str, Any], cfg: Any, on_gpu: bool) -> tuple:
    """Flipped uint8 HWC GT windows -> (LQ uint8, GT, sharpened GT patch or None), as Real-ESRGAN's model makes
    them: pad the window, sharpen it (`sharpen_gt`), degrade it, round the LQ to levels, then crop the
    `gt_size` patch and its LQ patch at `crop_anchor` (`final_crop`) and sharpen that GT patch (`gt_usm`).
    GT stays uint8 unless sharpened (float32 in [0, 1])."""
    sharpen = Usm("usm", 1.0)
    if out.final_crop:
        gt_u8 = pad_window(gt_u8, columns["pad"])
    x = to_float(gt_u8)
    gt = gt_u8
    if out.sharpen_gt:
        x = usm(x, sharpen, on_gpu)
        gt = x
    lq = round_levels(apply_steps(x, out.degradation.steps, columns, cfg, on_gpu))
    if out.final_crop:
        patch = cfg.gt_size // cfg.scale
        lq = ops.crop(lq, [patch, patch], columns["crop_anchor"])
        gt = ops.crop(gt, [cfg.gt_size, cfg.gt_size], columns["crop_anchor"] * cfg.scale)
    gt_usm = usm(gt if out.sharpen_gt else to_float(gt), sharpen, on_gpu) if out.gt_usm else None
    return lq, gt, gt_usm
