"""cv2's INTER_AREA downscale in the DALI graph, per sample and to any size (not only by integer factors).

Each output pixel of INTER_AREA is the mean of the input over its footprint [i s, (i + 1) s) (s = in / out),
fractional pixels at both ends weighted by their overlap. Three exact ways, by the factor:

- whole factors: the common halving and x4 as linear resizes (which weigh each 2 x 2 block alike), others as the
  mean of each k x k block, by a reshape and a reduction;
- fractional factors up to 8, per axis: the few pixels each footprint touches, gathered by nearest-neighbour
  resizes of shifted copies of the image, times OpenCV's own weights (its 1e-3 cut-off included);
- larger ones: a difference of the input's running integral, with prefix sums C[k] = x[0] + ... + x[k - 1] (built
  by doubling within blocks of 32 values, then across the blocks) sampled by a linear resize at 0, s, 2 s, ...

On images in [0, 1] the result is within 1e-4 of cv2's (float32 sums).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from nvidia.dali import fn, types
from nvidia.dali import math as dmath

MAX_SIDE = 32768  # the largest image side the loader reads (storage.headers.MAX_SIDE)
BLOCK = 32  # prefix sums run within blocks of this many values, then across the blocks
PAD_BEFORE, PAD_AFTER = 1, 10  # zeros around an image reduced by gathered taps: at most 10 taps, from i s - 1/4 on
_RAMP = np.arange(-PAD_BEFORE, MAX_SIDE + PAD_AFTER, dtype=np.float32)  # pixel numbers along a padded axis


def _shifted(x, step: float, length, axis: int):
    """`x` moved `step` places along `axis` (extent `length`), zeros shifted in."""
    return fn.slice(x, start=[-step], shape=length, axes=[axis], out_of_bounds_policy="pad", fill_values=0.0)


def _running(x, length, axis: int, longest: int):
    """Inclusive running sums of `x` along `axis` (extent `length`, at most `longest`), by doubling."""
    step = 1
    while step < longest:
        x = x + _shifted(x, float(step), length, axis)
        step *= 2
    return x


def _prefix_sums(x, axis: int, length, other):
    """C of HWC `x` along `axis` (extent `length`, the other spatial axis `other`; int32 CPU nodes): C[0] = 0,
    C[k] the sum of the first k values, padded on to a multiple of `BLOCK` with the total. The axis is cut into
    blocks: running sums within each block, then the running totals of the blocks before it added."""
    blocks = (length + BLOCK) // BLOCK
    c = _shifted(x, 1.0, blocks * BLOCK, axis)
    three = other * 0 + 3
    shape = fn.stack(blocks, other * 0 + BLOCK, other, three) if axis == 0 else fn.stack(other, blocks,
                                                                                       other * 0 + BLOCK, three)
    c = _running(fn.reshape(c, shape=shape, layout=""), [float(BLOCK)], axis + 1, BLOCK)
    totals = fn.slice(c, start=[float(BLOCK - 1)], shape=[1.0], axes=[axis + 1])
    before = _running(_shifted(totals, 1.0, blocks, axis), blocks, axis, MAX_SIDE // BLOCK + 1)
    whole = fn.stack(blocks * BLOCK, other, three) if axis == 0 else fn.stack(other, blocks * BLOCK, three)
    return fn.reshape(c + before, shape=whole, layout="HWC")


def _pair(value, other, axis: int):
    """The (h, w) vector of `value` on `axis` and `other` on the other axis."""
    return fn.stack(value, other) if axis == 0 else fn.stack(other, value)


def _area_axis(x, axis: int, length, size, other, on_gpu: bool):
    """`x` resized along `axis` from `length` to `size` (float CPU nodes; `other`: the other axis's extent),
    INTER_AREA's footprint means."""
    s = length / size
    c = _prefix_sums(x, axis, fn.cast(length, dtype=types.INT32), fn.cast(other, dtype=types.INT32))
    start = 0.5 - 0.5 * s  # output pixel i's centre then lands on C's sample i s
    sampled = fn.resize(c, size=_pair(size + 1.0, other, axis), roi_start=_pair(start, 0.0 * other, axis),
                        roi_end=_pair(start + s * (size + 1.0), other, axis), interp_type=types.INTERP_LINEAR,
                        antialias=False)
    n = fn.cast(size, dtype=types.INT32)
    upper = fn.slice(sampled, start=[1.0], shape=n, axes=[axis])
    lower = fn.slice(sampled, start=[0.0], shape=n, axes=[axis])
    inverse = 1.0 / s
    return (upper - lower) * (inverse.gpu() if on_gpu else inverse)


def _tap_axis(x, axis: int, length, size, other, taps: int, on_gpu: bool):
    """`x`, HWC images (any type) padded with `PAD_BEFORE` zeros before and `PAD_AFTER` after along `axis` (`length`
    the unpadded extent; `other` the other axis's full extent; float CPU nodes), resized along `axis` to `size` as
    OpenCV's INTER_AREA tables weigh it, float32: output pixel i is the sum over the input pixels k its footprint
    [i s, (i + 1) s) overlaps of overlap / s (s = length / size), an overlap of a pixel cut by the footprint's end
    dropped when at most 1e-3, as OpenCV drops it. One nearest-neighbour resize picks each output's first pixel
    k0 = floor(i s - 1/4) (or one less, by rounding) from each of `taps` copies of the image shifted by t pixels, so
    the taps are exactly the pixels k0 + t; k0 is read by the same resize of a ramp of pixel numbers, and each
    weight computed from it. Footprints of up to `taps` - 2 pixels (s <= taps - 2)."""
    s = length / size
    window = fn.cast(length + float(PAD_BEFORE + PAD_AFTER - taps), dtype=types.INT32)  # each shifted copy's extent
    column = [-1, 1, 1] if axis == 0 else [1, -1, 1]
    numbers = fn.reshape(fn.slice(types.Constant(_RAMP, device="cpu"), start=[0.0], shape=window, axes=[0]),
                         shape=column)
    scale = 1.0 / (fn.cast(size, dtype=types.FLOAT64) / fn.cast(length, dtype=types.FLOAT64))  # OpenCV's 1 / (out / in)
    if on_gpu:  # the ramp is resized by the same kernel as the images, so it reads the pixel they read
        numbers, scale = numbers.gpu(), scale.gpu()
    rows = fn.cast(fn.slice(numbers, start=[float(PAD_BEFORE)], shape=fn.cast(size, dtype=types.INT32),
                            axes=[axis]), dtype=types.FLOAT64)
    lo = rows * scale
    hi = lo + scale
    start = PAD_BEFORE - 0.25 - 0.5 * s  # output i's sample then lands on pixel position i s - 1/4
    roi_start, roi_end = _pair(start, other * 0.0, axis), _pair(start + size * s, other, axis)
    first = fn.cast(fn.resize(numbers, size=_pair(size, other * 0.0 + 1.0, axis), roi_start=roi_start,
                              roi_end=_pair(start + size * s, other * 0.0 + 1.0, axis),
                              interp_type=types.INTERP_NN, antialias=False), dtype=types.FLOAT64)
    total = None
    for t in range(taps):
        shifted = fn.slice(x, start=[float(t)], shape=window, axes=[axis]) if t else x  # same samples, no copy
        gathered = fn.resize(shifted, size=_pair(size, other, axis), roi_start=roi_start, roi_end=roi_end,
                             interp_type=types.INTERP_NN, antialias=False)
        k = first + float(t)
        overlap = dmath.max(dmath.min(k + 1.0, hi) - dmath.max(k, lo), 0.0)
        kept = fn.cast(overlap * 1000.0 > 1.0, dtype=types.FLOAT64)  # overlap > 1e-3 (the graph's constants are float32)
        weight = fn.cast(overlap * kept / scale, dtype=types.FLOAT)
        term = gathered * weight
        total = term if total is None else total + term
    return total


def block_means(x, fold):
    """HWC images (any type) -> the float32 means of their whole-factor blocks, as INTER_AREA computes a reduction
    by whole factors; `fold` is each sample's (h', fh, w', fw, channels) with h = h' fh and w = w' fw (a list or a
    node; -1 for any number of channels)."""
    means = fn.reductions.mean(fn.reshape(x, shape=fold, layout=""), axes=[1, 3], dtype=types.FLOAT)
    return fn.reshape(means, layout="HWC")


def halvings(factor: int) -> Optional[int]:
    """How many halvings make a reduction by the whole `factor` (a power of two), else None."""
    return factor.bit_length() - 1 if factor >= 1 and factor & (factor - 1) == 0 else None


def halve(x, side: int, times: int):
    """Square HWC images of `side` (any type and channels) reduced `times` times by 2, as float32: each step the
    exact mean of every 2 x 2 block (a linear resize sampling each block's centre weighs its four pixels alike),
    much faster on the CPU than a reduction; exact on 8-bit input, whose means of 2^k values float32 holds."""
    for _ in range(times):
        side //= 2
        x = fn.resize(x, size=[side, side], interp_type=types.INTERP_LINEAR, antialias=False, dtype=types.FLOAT)
    return x


def _block_means(x, sides, out_sides):
    """Float32 HWC images of integer (h, w) `sides` whose sides are multiples of `out_sides` -> the means of their
    blocks."""
    factors = sides // out_sides
    return block_means(x, fn.stack(out_sides[0], factors[0], out_sides[1], factors[1], out_sides[0] * 0 - 1))


def area_resize(x, in_hw, out_hw, on_gpu: bool):
    """HWC RGB images (float32, or 8-bit, which is faster: the means are then taken before any float image is
    made) of (h, w) `in_hw` -> float32 images of (h, w) `out_hw` (float32 CPU nodes, each side at most the
    input's), as `cv2.resize(x, (w, h), interpolation=cv2.INTER_AREA)` computes them on the input's values. Runs
    under `pipeline_def(enable_conditionals=True)`."""
    sides, out_sides = fn.cast(in_hw, dtype=types.INT32), fn.cast(out_hw, dtype=types.INT32)
    if (sides[0] == out_sides[0] * 2) & (sides[1] == out_sides[1] * 2):  # the common halving, as a linear resize
        x = fn.resize(x, size=out_hw, interp_type=types.INTERP_LINEAR, antialias=False, dtype=types.FLOAT)
    elif (sides[0] == out_sides[0] * 4) & (sides[1] == out_sides[1] * 4):  # x4: two halvings
        x = fn.resize(x, size=out_hw * 2.0, interp_type=types.INTERP_LINEAR, antialias=False, dtype=types.FLOAT)
        x = fn.resize(x, size=out_hw, interp_type=types.INTERP_LINEAR, antialias=False)
    elif (sides[0] % out_sides[0] == 0) & (sides[1] % out_sides[1] == 0):
        x = _block_means(x, sides, out_sides)
    else:  # padded once on both axes, so that no gathering resize reads past an image's end
        pad = float(PAD_BEFORE + PAD_AFTER)
        x = fn.slice(x, start=[-float(PAD_BEFORE)] * 2, shape=fn.cast(in_hw + pad, dtype=types.INT32), axes=[0, 1],
                     out_of_bounds_policy="pad", fill_values=0)
        x = _reduce_axis(x, 0, in_hw[0], out_hw[0], in_hw[1] + pad, on_gpu)
        x = _reduce_axis(x, 1, in_hw[1], out_hw[1], out_hw[0], on_gpu)
    return x


def _reduce_axis(x, axis: int, length, size, other, on_gpu: bool):
    """INTER_AREA along `axis` of images padded as `_tap_axis` takes them, by a factor s = length / size that may
    be fractional: gathered taps, as few as s needs, up to s = 8, else prefix sums (of the unpadded pixels)."""
    lengths, sizes = fn.cast(length, dtype=types.INT32), fn.cast(size, dtype=types.INT32)
    if lengths <= sizes * 2:
        x = _tap_axis(x, axis, length, size, other, 4, on_gpu)
    elif lengths <= sizes * 4:
        x = _tap_axis(x, axis, length, size, other, 6, on_gpu)
    elif lengths <= sizes * 8:
        x = _tap_axis(x, axis, length, size, other, 10, on_gpu)
    else:
        x = fn.slice(fn.cast(x, dtype=types.FLOAT), start=[float(PAD_BEFORE)],
                     shape=fn.cast(length, dtype=types.INT32), axes=[axis])
        x = _area_axis(x, axis, length, size, other, on_gpu)
    return x
