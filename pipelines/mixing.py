"""neosr's batch augmentations in the graph, per sample, on the float CHW training patches the loader yields.

LQ is upscaled to the GT size (bilinear, as DALI's linear resize computes torch's; or torch's bicubic, a = -0.75,
as phase filters), the picked augmentations run in neosr's order (cutmix, mixup, resizemix, cutblur), each
taking its partner from the batch by `fn.permute_batch`, and LQ goes back down by torch's bicubic (no
antialiasing: a 4-tap filter, every scale-th pixel), each resample clamped to [0, 1] as neosr clamps. Boxes
are pasted exactly: `erase(x, box) + (partner - erase(partner, box))` keeps x outside the box and the partner's
pixels inside, bit for bit. The draws are the source's (`dali_sr.datasets.paired.mixing`).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from nvidia.dali import fn, types
from nvidia.dali import math as dmath

from dali_sr.datasets.paired.mixing import Mixing

_A = -0.75  # torch's bicubic


def cubic_weights(t: float) -> np.ndarray:
    """torch's `get_cubic_upsample_coefficients(t)` (A = -0.75) in float32: the weights of the pixels at
    floor - 1, floor, floor + 1, floor + 2 for a source position `t` past floor."""
    f = np.float32
    a, t = f(_A), f(t)
    far = lambda x: ((a * x - f(5) * a) * x + f(8) * a) * x - f(4) * a  # noqa: E731 - 1 <= |x| < 2
    near = lambda x: ((a + f(2)) * x - (a + f(3))) * x * x + f(1)  # noqa: E731 - |x| <= 1
    return np.array([far(t + f(1)), near(t), near(f(1) - t), far(f(2) - t)], np.float32)


def _along(x, weights: np.ndarray, anchor: int, axis: int, on_gpu: bool):
    """Correlate HWC `x` with 4 `weights` along H (`axis` 0) or W (1), borders clamped (torch's bounded
    reads): out[i] = sum_j w[j] x[i + j - anchor]."""
    kernel = weights.reshape(4, 1) if axis == 0 else weights.reshape(1, 4)
    return fn.filter(x, types.Constant(kernel, device="gpu" if on_gpu else "cpu"),
                     anchor=[anchor, 0] if axis == 0 else [0, anchor], border="clamp")


def _hwc(x):
    return fn.transpose(x, perm=[1, 2, 0])


def _chw(x):
    return fn.transpose(x, perm=[2, 0, 1])


def bicubic_up(x, s: int, channels: int, side: int, on_gpu: bool):
    """torch's `F.interpolate(x, scale_factor=s, mode="bicubic")` of CHW `side` x `side` patches: output pixel
    s k + p samples k + (p + 0.5) / s - 0.5 (phase p's filter), along W, then along H."""
    x = _hwc(x)
    for axis in (1, 0):
        phases = []
        for p in range(s):
            t = (p + 0.5) / s - 0.5
            base = int(np.floor(t))
            phases.append(_along(x, cubic_weights(t - base), 1 - base, axis, on_gpu))
        shape = [side, side * s, channels] if axis == 1 else [side * s, side * s, channels]
        # phase p of position k -> position k s + p: stacked next to the axis, the two merged
        x = fn.reshape(fn.stack(*phases, axis=axis + 1), shape=shape, layout="HWC")
    return _chw(x)


def _every_nth(x, s: int, axis: int, shape: list[int]):
    """Positions 0, s, 2s, ... along `axis` of HWC `x` of `shape` (fixed: training patches)."""
    grouped = shape[:axis] + [shape[axis] // s, s] + shape[axis + 1:]
    first = fn.slice(fn.reshape(x, shape=grouped), start=[0], shape=[1], axes=[axis + 1])
    return fn.reshape(first, shape=shape[:axis] + [shape[axis] // s] + shape[axis + 1:], layout="HWC")


def bicubic_down(x, s: int, channels: int, side: int, on_gpu: bool):
    """torch's `F.interpolate(x, scale_factor=1 / s, mode="bicubic")` (no antialiasing) of CHW `side` x `side`
    patches: output pixel k samples s (k + 0.5) - 0.5, along W, then along H."""
    t = (s - 1) / 2.0
    base = int(np.floor(t))
    weights = cubic_weights(t - base)
    x = _every_nth(_along(_hwc(x), weights, 1 - base, 1, on_gpu), s, 1, [side, side, channels])
    x = _every_nth(_along(x, weights, 1 - base, 0, on_gpu), s, 0, [side, side // s, channels])
    return _chw(x)


def _clamp01(x):
    return dmath.clamp(x, 0.0, 1.0)


def _erase(x, anchor, shape):
    return fn.erase(x, anchor=anchor, shape=shape, axis_names="HW", fill_value=0.0)


def _paste(x, inside, anchor, shape):
    """`x` with the box (`anchor` (row, column), `shape` (h, w)) taken from `inside` (an image of x's size),
    bit for bit; an empty box leaves `x` as it is."""
    return _erase(x, anchor, shape) + (inside - _erase(inside, anchor, shape))


def mix(lq, gt, columns: dict[str, Any], m: Mixing, channels: int, on_gpu: bool) -> tuple:
    """(lq, gt) float CHW training patches -> the same after the sample's augmentations."""
    s, side = m.scale, m.side
    if s > 1:
        bicubic = fn.cast(columns["mix_up_bicubic"], dtype=types.FLOAT)
        linear = fn.resize(lq, size=[float(side), float(side)], interp_type=types.INTERP_LINEAR, antialias=False)
        up = _clamp01(bicubic_up(lq, s, channels, side // s, on_gpu) * bicubic + linear * (1.0 - bicubic))
    else:
        up = lq
    partner = lambda x, name: fn.permute_batch(x, indices=columns[f"{name}_partner"])  # noqa: E731
    box = lambda name: (columns[f"{name}_anchor"], columns[f"{name}_shape"])  # noqa: E731
    if "cutmix" in m.names:
        gt, up = (_paste(x, partner(x, "cutmix"), *box("cutmix")) for x in (gt, up))
    if "mixup" in m.names:
        other = partner(gt, "mixup")  # neosr mixes LQ with the partner's GT too
        keep, take = columns["mixup_keep"], columns["mixup_take"]
        gt, up = keep * gt + take * other, keep * up + take * other
    if "resizemix" in m.names:
        anchor, shape = box("resizemix")
        size = dmath.max(shape, 1.0)  # an empty box (not picked) still resizes to one pixel, pasted nowhere
        placed = []
        for x in (gt, up):
            small = _clamp01(fn.resize(partner(x, "resizemix"), size=size, interp_type=types.INTERP_CUBIC,
                                       antialias=False))
            placed.append(_paste(x, fn.slice(small, start=fn.cast(-anchor, dtype=types.INT32), shape=[side, side],
                                             axis_names="HW", out_of_bounds_policy="pad", fill_values=0.0),
                                 anchor, shape))
        gt, up = placed
    if "cutblur" in m.names:
        up = _paste(up, gt, *box("cutblur"))
    lq = _clamp01(bicubic_down(up, s, channels, side, on_gpu)) if s > 1 else up
    return lq, gt
