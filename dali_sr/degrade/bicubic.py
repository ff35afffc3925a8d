"""MATLAB's `imresize(img, 1/s, 'bicubic')` with antialiasing, for integer downscale factors s.

MATLAB (and BasicSR's `imresize`) computes output pixel i of a side from input pixels around its
centre (i + 0.5) * s - 0.5 with the cubic kernel (a = -0.5) stretched by s (support 4 * s) and
normalized, mirroring the image at its borders (half-sample symmetric: `c b a | a b c`). For an
integer s the weights are the same for every output pixel, so each side is one 1-D correlation
followed by keeping every s-th value: what `taps` returns, and what the DALI graph and
`downscale` apply.
"""
from __future__ import annotations

import math

import numpy as np


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's `bicubic`)."""
    ax = np.abs(x)
    return ((1.5 * ax ** 3 - 2.5 * ax ** 2 + 1) * (ax <= 1)
            + (-0.5 * ax ** 3 + 2.5 * ax ** 2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


def taps(scale: int) -> tuple[np.ndarray, int]:
    """(weights, anchor) of the 1-D filter for a downscale by `scale`: output i is
    `sum_k weights[k] * in[i * scale + k - anchor]` (mirrored at the borders)."""
    first = math.floor(-1.5 * scale - 0.5)  # the first input pixel of output 0, relative to 0
    offsets = first + np.arange(4 * scale + 2)
    weights = cubic(((scale - 1) / 2 - offsets) / scale) / scale
    weights /= weights.sum()
    nonzero = np.flatnonzero(weights)
    kept = slice(nonzero[0], nonzero[-1] + 1)
    return weights[kept].astype(np.float32), int(-offsets[kept][0])


def downscale(img: np.ndarray, scale: int) -> np.ndarray:
    """`img` (H x W or H x W x C, any dtype, sides multiples of `scale`) downscaled by `scale` as float32
    (the input's value range, not rounded): vertical pass first, as BasicSR's `imresize`."""
    weights, anchor = taps(scale)
    out = img.astype(np.float32)
    for axis in (0, 1):
        pad = [(0, 0)] * out.ndim
        pad[axis] = (anchor, len(weights) - 1 - anchor)
        padded = np.pad(out, pad, mode="symmetric")
        n = out.shape[axis] // scale
        acc = np.zeros(out.shape[:axis] + (n,) + out.shape[axis + 1:], np.float32)
        for k, w in enumerate(weights):
            acc += w * np.take(padded, np.arange(n) * scale + k, axis=axis)
        out = acc
    return out


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Round 0..255 values to uint8 levels as MATLAB stores an `imresize` result (half away from zero)."""
    return np.clip(np.floor(values + 0.5), 0, 255).astype(np.uint8)
