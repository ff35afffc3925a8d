"""cv2's INTER_AREA downscale in the DALI graph, per sample and to any size (not only by integer factors).

Each output pixel of INTER_AREA is the mean of the input over its footprint [i s, (i + 1) s) (s = in / out),
fractional pixels at both ends weighted by their overlap. That is a difference of the input's running
integral: with prefix sums C[k] = x[0] + ... + x[k - 1], the integral up to a position p is C linearly
interpolated at p, so out[i] = (C(i s + s) - C(i s)) / s. The prefix sums are built by doubling (log2 steps of
shift and add) and sampled by a linear resize of C at the positions 0, s, 2 s, ..., out s; one axis, then the
other. Float32 throughout: on images in [0, 1] the result is within 1e-4 of cv2's.
"""
from __future__ import annotations

from nvidia.dali import fn, types

MAX_SIDE = 32768  # the largest image side the loader reads (storage.headers.MAX_SIDE)


def _prefix_sums(x, axis: int, length):
    """C of `x` along `axis` (whose extent is `length`, a CPU node): `length + 1` values, C[0] = 0."""
    shape = length + 1
    c = fn.slice(x, start=[-1.0], shape=shape, axes=[axis], out_of_bounds_policy="pad", fill_values=0.0)
    step = 1
    while step <= MAX_SIDE:
        c = c + fn.slice(c, start=[-float(step)], shape=shape, axes=[axis], out_of_bounds_policy="pad",
                         fill_values=0.0)
        step *= 2
    return c


def _pair(value, other, axis: int):
    """The (h, w) vector of `value` on `axis` and `other` on the other axis."""
    return fn.stack(value, other) if axis == 0 else fn.stack(other, value)


def _area_axis(x, axis: int, length, size, other, on_gpu: bool):
    """`x` resized along `axis` from `length` to `size` (float CPU nodes; `other`: the other axis's extent),
    INTER_AREA's footprint means."""
    s = length / size
    c = _prefix_sums(x, axis, fn.cast(length, dtype=types.INT32))
    start = 0.5 - 0.5 * s  # output pixel i's centre then lands on C's sample i s
    sampled = fn.resize(c, size=_pair(size + 1.0, other, axis), roi_start=_pair(start, 0.0 * other, axis),
                        roi_end=_pair(start + s * (size + 1.0), other, axis), interp_type=types.INTERP_LINEAR,
                        antialias=False)
    n = fn.cast(size, dtype=types.INT32)
    upper = fn.slice(sampled, start=[1.0], shape=n, axes=[axis])
    lower = fn.slice(sampled, start=[0.0], shape=n, axes=[axis])
    inverse = 1.0 / s
    return (upper - lower) * (inverse.gpu() if on_gpu else inverse)


def area_resize(x, in_hw, out_hw, on_gpu: bool):
    """Float32 HWC images of (h, w) `in_hw` -> (h, w) `out_hw` (float32 CPU nodes, each side at most the input's),
    as `cv2.resize(x, (w, h), interpolation=cv2.INTER_AREA)` computes them."""
    x = _area_axis(x, 0, in_hw[0], out_hw[0], in_hw[1], on_gpu)
    return _area_axis(x, 1, in_hw[1], out_hw[1], out_hw[0], on_gpu)
