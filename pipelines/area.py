"""cv2's INTER_AREA downscale in the DALI graph, per sample and to any size (not only by integer factors).

Each output pixel of INTER_AREA is the mean of the input over its footprint [i s, (i + 1) s) (s = in / out),
fractional pixels at both ends weighted by their overlap. That is a difference of the input's running
integral: with prefix sums C[k] = x[0] + ... + x[k - 1], the integral up to a position p is C linearly
interpolated at p, so out[i] = (C(i s + s) - C(i s)) / s. The prefix sums are built by doubling (steps of shift
and add) within blocks of 32 values and then across the blocks, and sampled by a linear resize of C at the positions 0, s, 2 s, ..., out s; one axis, then the
other. Float32 throughout: on images in [0, 1] the result is within 1e-4 of cv2's. A sample whose sides are whole
multiples of the output's (the LQ of an HQ patch, the tiles of a tree) takes the much cheaper exact path: the mean
of each k x k block, by a reshape and a reduction.
"""
from __future__ import annotations

from typing import Optional

from nvidia.dali import fn, types

MAX_SIDE = 32768  # the largest image side the loader reads (storage.headers.MAX_SIDE)
BLOCK = 32  # prefix sums run within blocks of this many values, then across the blocks


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


def _mirrored(in_hw, hflip) -> dict:
    """A resize's region of the whole image (h, w) `in_hw`, right to left where `hflip` is 1: the mirror image."""
    f = fn.cast(hflip, dtype=types.FLOAT)
    return dict(roi_start=fn.stack(in_hw[0] * 0.0, in_hw[1] * f), roi_end=fn.stack(in_hw[0], in_hw[1] * (1.0 - f)),
                roi_relative=False)


def area_resize(x, in_hw, out_hw, on_gpu: bool, hflip=None):
    """HWC RGB images (float32, or 8-bit, which is faster: the means are then taken before any float image is
    made) of (h, w) `in_hw` -> float32 images of (h, w) `out_hw` (float32 CPU nodes, each side at most the
    input's), as `cv2.resize(x, (w, h), interpolation=cv2.INTER_AREA)` computes them on the input's values;
    `hflip` (per-sample 0 or 1, int32) mirrors each image left-right first, for free in the halvings (a resize
    whose region runs right to left). Runs under `pipeline_def(enable_conditionals=True)`."""
    sides, out_sides = fn.cast(in_hw, dtype=types.INT32), fn.cast(out_hw, dtype=types.INT32)
    region = {} if hflip is None else _mirrored(in_hw, hflip)
    if (sides[0] == out_sides[0] * 2) & (sides[1] == out_sides[1] * 2):  # the common halving, as a linear resize
        x = fn.resize(x, size=out_hw, interp_type=types.INTERP_LINEAR, antialias=False, dtype=types.FLOAT, **region)
    elif (sides[0] == out_sides[0] * 4) & (sides[1] == out_sides[1] * 4):  # x4: two halvings
        x = fn.resize(x, size=out_hw * 2.0, interp_type=types.INTERP_LINEAR, antialias=False, dtype=types.FLOAT,
                      **region)
        x = fn.resize(x, size=out_hw, interp_type=types.INTERP_LINEAR, antialias=False)
    elif (sides[0] % out_sides[0] == 0) & (sides[1] % out_sides[1] == 0):
        x = _block_means(x if hflip is None else fn.flip(x, horizontal=hflip), sides, out_sides)
    else:
        x = fn.cast(x if hflip is None else fn.flip(x, horizontal=hflip), dtype=types.FLOAT)
        x = _area_axis(x, 0, in_hw[0], out_hw[0], in_hw[1], on_gpu)
        x = _area_axis(x, 1, in_hw[1], out_hw[1], out_hw[0], on_gpu)
    return x
