"""DALI graph of a `dlas` step: DL-Art-School's corruptions per sample on float32 HWC RGB images.

Each slot runs the operation its `op` column names (a DALI conditional per operation the slot can take)
with its drawn values, then every resampling is undone by a linear resize (OpenCV's INTER_LINEAR), in the order they ran. The
formulas are DL-Art-School's (NumPy / OpenCV / PIL / kornia); where DALI computes them differently the
function says so.
"""
from __future__ import annotations

from typing import Any

from nvidia.dali import fn, types
from nvidia.dali import math as dmath

from dali_sr.degrade.chain import Corrupt
from dali_sr.degrade.dlas_draws import slot_noise
from dali_sr.degrade.dlas_names import NAMES, OPS, only_op, ops_of

from . import degrade

_GRAY = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale weights, which its colour jitter blends with


def _planes(x) -> tuple:
    return x[:, :, 0:1], x[:, :, 1:2], x[:, :, 2:3]


def greyscale(x):
    """`np.tile(img.mean(axis=2), 3)`: the channel mean in every channel, summed in channel order."""
    r, g, b = _planes(x)
    m = (r + g + b) / 3.0
    return fn.cat(m, m, m, axis=2)


def add_uniform_noise(x, intensity):
    """`img + np.random.rand(*img.shape) * intensity`, unclamped; the field is drawn by DALI's generator."""
    return x + fn.random.uniform(x, range=[0.0, 1.0]) * intensity


def jpeg_truncated(x, quality):
    """DL-Art-School's JPEG: `(img * 255).astype(uint8)` (truncation), encoded at `quality` and decoded
    (DALI's JPEG distortion: OpenCV's codec on the CPU, an emulation of it on the GPU; DL-Art-School
    encodes with PIL and decodes with OpenCV)."""
    levels = fn.cast(dmath.floor(dmath.clamp(x * 255.0, 0.0, 255.0)), dtype=types.UINT8)
    return degrade.to_float(fn.jpeg_compression_distortion(levels, quality=quality))


def _blend(x, other, factor):
    """torchvision's `_blend`: `clamp(factor * x + (1 - factor) * other, 0, 1)`."""
    return dmath.clamp(x * factor + other * (1.0 - factor), 0.0, 1.0)


def _gray(x):
    r, g, b = _planes(x)
    return r * _GRAY[0] + g * _GRAY[1] + b * _GRAY[2]


def _rgb_to_hsv(x) -> tuple:
    """torchvision's `_rgb2hsv`, plane by plane (h in [0, 1))."""
    r, g, b = _planes(x)
    maxc = dmath.max(dmath.max(r, g), b)
    minc = dmath.min(dmath.min(r, g), b)
    flat = fn.cast(maxc == minc, dtype=types.FLOAT)
    cr = maxc - minc
    s = cr / (flat + (1.0 - flat) * maxc)
    divisor = flat + (1.0 - flat) * cr
    rc, gc, bc = (maxc - r) / divisor, (maxc - g) / divisor, (maxc - b) / divisor
    is_r = fn.cast(maxc == r, dtype=types.FLOAT)
    is_g = fn.cast(maxc == g, dtype=types.FLOAT) * (1.0 - is_r)
    is_b = (1.0 - is_r) * (1.0 - fn.cast(maxc == g, dtype=types.FLOAT))
    h = is_r * (bc - gc) + is_g * (2.0 + rc - bc) + is_b * (4.0 + gc - rc)
    h = h / 6.0 + 1.0
    return h - dmath.floor(h), s, maxc


def _hsv_to_rgb(h, s, v):
    """torchvision's `_hsv2rgb`: the sector i = floor(6 h) mod 6 picks each channel from v, p, q, t."""
    i6 = dmath.floor(h * 6.0)
    f = h * 6.0 - i6
    i = i6 - dmath.floor(i6 / 6.0) * 6.0
    p = dmath.clamp(v * (1.0 - s), 0.0, 1.0)
    q = dmath.clamp(v * (1.0 - s * f), 0.0, 1.0)
    t = dmath.clamp(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    sector = [fn.cast(i == float(k), dtype=types.FLOAT) for k in range(6)]
    pick = (lambda values: sum((m * c for m, c in zip(sector, values)), v * 0.0))
    return fn.cat(pick((v, q, p, p, t, v)), pick((t, v, v, q, p, p)), pick((p, p, t, v, v, q)), axis=2)


def adjust_hue(x, shift):
    """torchvision's `adjust_hue`: the hue plane moved by `shift` (a fraction of the circle), modulo 1."""
    h, s, v = _rgb_to_hsv(x)
    h = h + shift
    return _hsv_to_rgb(h - dmath.floor(h), s, v)


def color_jitter(x, factors, order):
    """torchvision's `ColorJitter` (kornia's since 0.6.9) with drawn factors (brightness, contrast, saturation,
    hue) in the drawn order: brightness scales, contrast blends with the mean of the gray image, saturation
    blends with the gray image, hue shifts the HSV hue."""
    steps = (
        lambda y: dmath.clamp(y * factors[0], 0.0, 1.0),
        lambda y: _blend(y, fn.reductions.mean(_gray(y), axes=[0, 1, 2], keep_dims=True), factors[1]),
        lambda y: _blend(y, _gray(y), factors[2]),
        lambda y: adjust_hue(y, factors[3]),
    )
    for position in range(4):
        for k, step in enumerate(steps):
            if order[position] == k:
                x = step(x)
    return x


def _filter(x, kernel, blurs: frozenset):
    """The slot's kernel on the image. `gaussian_blur`'s is a (size, 1) column of separable taps, run down the
    columns and then along the rows (16 times fewer products than its 2-D kernel at size 13); `motion_blur`'s a 2-D
    kernel, run as it is. `blurs` are the blur names the slot can take: with both, the kernel's shape decides per
    sample (a conditional)."""
    if blurs == {"gaussian_blur"}:
        return _separable(x, kernel)
    if "gaussian_blur" not in blurs:
        return degrade.correlate(x, kernel)
    if fn.shapes(kernel)[1] == 1:
        x = _separable(x, kernel)
    else:
        x = degrade.correlate(x, kernel)
    return x


def _separable(x, column):
    return degrade.correlate(degrade.correlate(x, column), fn.transpose(column, perm=[1, 0]))


def _run(x, op: str, col, names: tuple[str, ...]):
    if op == "quantize":
        return degrade.quantize(x, col("amount"))
    if op == "jitter":
        return color_jitter(x, col("jitter"), col("order"))
    if op == "filter":
        return _filter(x, col("kernel"), frozenset(n for n in names if NAMES[n] == "filter"))
    if op == "resample":
        return degrade.resize(x, col("size"), col("roi"), col("mode"))
    if op == "noise":
        return add_uniform_noise(x, col("amount"))
    if op == "jpeg":
        return jpeg_truncated(x, col("quality"))
    if op == "saturate":
        return dmath.clamp(x + col("amount"), 0.0, 1.0)
    if op == "greyscale":
        return greyscale(x)
    raise ValueError(f"no graph for corruption operation {op!r}")


def corrupt(x, step: Corrupt, columns: dict[str, Any]):
    """Every slot of `step` on float32 HWC images, then the resamplings undone (linear, in the order they ran). A
    slot that always runs one operation runs it outright; one that may run another, or nothing, by conditionals."""
    resampled = []
    noise = slot_noise(step)
    for slot in range(step.slots):
        col = (lambda name, slot=slot: columns[f"{step.id}_c{slot}_{name}"])
        ops = [op for op in ops_of(step.slot_names(slot), noise) if op != "none"]
        always = only_op(step.slot_names(slot), noise)
        if always:
            x = _run(x, always, col, step.slot_names(slot))
        else:
            for op in ops:
                if col("op") == OPS.index(op):
                    x = _run(x, op, col, step.slot_names(slot))
        if "resample" in ops:
            resampled.append(col)
    for col in resampled:
        if col("op") == OPS.index("resample"):
            x = fn.resize(x, size=col("back"), interp_type=types.INTERP_LINEAR, antialias=False)
    return x
