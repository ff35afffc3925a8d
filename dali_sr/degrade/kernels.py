"""Blur kernels of Real-ESRGAN's degradation model, from their parameters (NumPy, computed in float64).

Kernels are correlated with the image (BasicSR's `filter2D` is a `conv2d`, which correlates). Row i,
column j of a k x k kernel sits at x = j - k // 2, y = i - k // 2. Every kernel is normalized to sum 1.
"""
from __future__ import annotations

import numpy as np
from scipy import special


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) offsets from the centre of a `size` x `size` kernel (size odd)."""
    ax = np.arange(size, dtype=np.float64) - size // 2
    return np.meshgrid(ax, ax)


def _quadratic(size: int, sig_x: float, sig_y: float, theta: float) -> np.ndarray:
    """(x, y) C^-1 (x, y)^T at every tap, C the covariance with axes sig_x, sig_y rotated by theta."""
    c, s = np.cos(theta), np.sin(theta)
    rot = np.array([[c, -s], [s, c]])
    cov = rot @ np.diag([sig_x ** 2, sig_y ** 2]) @ rot.T
    inv = np.linalg.inv(cov)
    x, y = _grid(size)
    return inv[0, 0] * x * x + (inv[0, 1] + inv[1, 0]) * x * y + inv[1, 1] * y * y


def _normalized(kernel: np.ndarray) -> np.ndarray:
    return (kernel / kernel.sum()).astype(np.float32)


def gaussian(size: int, sig_x: float, sig_y: float, theta: float) -> np.ndarray:
    """Bivariate Gaussian (isotropic when sig_y == sig_x and theta == 0)."""
    return _normalized(np.exp(-0.5 * _quadratic(size, sig_x, sig_y, theta)))


def generalized_gaussian(size: int, sig_x: float, sig_y: float, theta: float, beta: float) -> np.ndarray:
    """exp(-0.5 q^beta): flatter than a Gaussian for beta > 1, peakier below 1."""
    return _normalized(np.exp(-0.5 * np.power(_quadratic(size, sig_x, sig_y, theta), beta)))


def plateau(size: int, sig_x: float, sig_y: float, theta: float, beta: float) -> np.ndarray:
    """1 / (1 + q^beta): a flat top with heavy tails."""
    return _normalized(1.0 / (np.power(_quadratic(size, sig_x, sig_y, theta), beta) + 1.0))


def sinc(size: int, cutoff: float) -> np.ndarray:
    """Circularly symmetric low-pass filter with cutoff frequency `cutoff` (radians; pi is Nyquist):
    cutoff J1(cutoff r) / (2 pi r), whose limit at r = 0 is cutoff^2 / (4 pi)."""
    x, y = _grid(size)
    r = np.hypot(x, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        kernel = cutoff * special.j1(cutoff * r) / (2 * np.pi * r)
    kernel[size // 2, size // 2] = cutoff ** 2 / (4 * np.pi)
    return _normalized(kernel)


# OpenCV's fixed taps of `getGaussianKernel(size, 0)` for the odd sizes up to 9 (its `small_gaussian_tab`)
_SMALL_GAUSSIANS = {1: (1.0,), 3: (0.25, 0.5, 0.25), 5: (0.0625, 0.25, 0.375, 0.25, 0.0625),
                    7: (0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125),
                    9: tuple(v / 256 for v in (4, 13, 30, 51, 60, 51, 30, 13, 4))}


def gaussian_1d(size: int, sigma: float = 0.0) -> np.ndarray:
    """OpenCV's `getGaussianKernel(size, sigma)` in float64; sigma <= 0 means its fixed taps for sizes 1-9, else
    0.3 ((size - 1) / 2 - 1) + 0.8."""
    if sigma <= 0 and size in _SMALL_GAUSSIANS:
        return np.array(_SMALL_GAUSSIANS[size], np.float64)
    if sigma <= 0:
        sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-x * x / (2 * sigma * sigma))
    return g / g.sum()
