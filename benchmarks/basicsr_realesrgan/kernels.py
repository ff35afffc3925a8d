"""BasicSR's blur kernels in float64 NumPy (`basicsr/data/degradations.py`), and the generators their draws use."""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import special

KERNEL_TYPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
KERNEL_SIZES = tuple(2 * v + 1 for v in range(3, 11))  # 7, 9, ..., 21
KERNEL_PAD = 21  # every kernel of the dataset is zero-padded to this size


@dataclass
class Rngs:
    """The Python and NumPy generators that stand in for the global `random` and `np.random`.

    Anything with their methods works: `Rngs(random, np.random)` replays BasicSR's global draws.
    """

    py: random.Random
    np: np.random.Generator

    @classmethod
    def seeded(cls, seed: int) -> "Rngs":
        """Both generators seeded from `seed`."""
        return cls(random.Random(seed), np.random.default_rng(seed))


def mesh_grid(kernel_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred float64 coordinates: `xy` (K, K, 2) holding (x, y), `xx` (column offset), `yy` (row offset)."""
    ax = np.arange(-kernel_size // 2 + 1.0, kernel_size // 2 + 1.0)
    xx, yy = np.meshgrid(ax, ax)
    return np.stack((xx, yy), axis=-1), xx, yy


def _sigma_matrix(sig_x: float, sig_y: float, theta: float, isotropic: bool) -> np.ndarray:
    """The 2 x 2 covariance: diag(sig_x^2, sig_x^2) if isotropic, else diag(sig_x^2, sig_y^2) rotated by theta."""
    if isotropic:
        return np.array([[sig_x ** 2, 0], [0, sig_x ** 2]])
    d = np.array([[sig_x ** 2, 0], [0, sig_y ** 2]])
    u = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return np.dot(u, np.dot(d, u.T))


def _quadratic_form(kernel_size: int, sig_x: float, sig_y: float, theta: float, isotropic: bool) -> np.ndarray:
    """x^T Sigma^-1 x at every grid point of `mesh_grid(kernel_size)`."""
    grid, _, _ = mesh_grid(kernel_size)
    inverse = np.linalg.inv(_sigma_matrix(sig_x, sig_y, theta, isotropic))
    return np.sum(np.dot(grid, inverse) * grid, 2)


def _normalized(kernel: np.ndarray) -> np.ndarray:
    """kernel / its sum."""
    return kernel / np.sum(kernel)


def _gaussian64(kernel_size: int, sig_x: float, sig_y: float, theta: float, isotropic: bool) -> np.ndarray:
    """`gaussian_kernel` in float64."""
    return _normalized(np.exp(-0.5 * _quadratic_form(kernel_size, sig_x, sig_y, theta, isotropic)))


def _generalized64(kernel_size: int, sig_x: float, sig_y: float, theta: float, beta: float,
                   isotropic: bool) -> np.ndarray:
    """`generalized_gaussian_kernel` in float64."""
    q = _quadratic_form(kernel_size, sig_x, sig_y, theta, isotropic)
    return _normalized(np.exp(-0.5 * np.power(q, beta)))


def _plateau64(kernel_size: int, sig_x: float, sig_y: float, theta: float, beta: float,
               isotropic: bool) -> np.ndarray:
    """`plateau_kernel` in float64."""
    q = _quadratic_form(kernel_size, sig_x, sig_y, theta, isotropic)
    return _normalized(np.reciprocal(np.power(q, beta) + 1))


def _sinc64(cutoff: float, kernel_size: int, pad_to: int) -> np.ndarray:
    """`sinc_kernel` in float64."""
    if kernel_size % 2 != 1:
        raise ValueError(f"sinc kernel size must be odd, got {kernel_size}")
    c = (kernel_size - 1) / 2
    x, y = np.meshgrid(np.arange(kernel_size, dtype=float), np.arange(kernel_size, dtype=float), indexing="ij")
    r = np.sqrt((x - c) ** 2 + (y - c) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        kernel = cutoff * special.j1(cutoff * r) / (2 * np.pi * r)
    kernel[(kernel_size - 1) // 2, (kernel_size - 1) // 2] = cutoff ** 2 / (4 * np.pi)
    kernel = _normalized(kernel)
    return pad_kernel(kernel, pad_to) if pad_to > kernel_size else kernel


def pad_kernel(kernel: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad a centred odd square kernel to `size` x `size`."""
    p = (size - kernel.shape[0]) // 2
    return np.pad(kernel, ((p, p), (p, p)))


def gaussian_kernel(kernel_size: int, sig_x: float, sig_y: float, theta: float, isotropic: bool) -> np.ndarray:
    """BasicSR's `bivariate_Gaussian`: exp(-x^T Sigma^-1 x / 2), normalised to sum 1."""
    return _gaussian64(kernel_size, sig_x, sig_y, theta, isotropic).astype(np.float32)


def generalized_gaussian_kernel(kernel_size: int, sig_x: float, sig_y: float, theta: float, beta: float,
                                isotropic: bool) -> np.ndarray:
    """BasicSR's `bivariate_generalized_Gaussian`: exp(-(x^T Sigma^-1 x)^beta / 2), normalised."""
    return _generalized64(kernel_size, sig_x, sig_y, theta, beta, isotropic).astype(np.float32)


def plateau_kernel(kernel_size: int, sig_x: float, sig_y: float, theta: float, beta: float,
                   isotropic: bool) -> np.ndarray:
    """BasicSR's `bivariate_plateau`: 1 / (1 + (x^T Sigma^-1 x)^beta), normalised."""
    return _plateau64(kernel_size, sig_x, sig_y, theta, beta, isotropic).astype(np.float32)


def sinc_kernel(cutoff: float, kernel_size: int, pad_to: int = 0) -> np.ndarray:
    """BasicSR's `circular_lowpass_kernel`: the 2-D circular low-pass (jinc) filter of cutoff `cutoff` radians.

    Value cutoff * J1(cutoff * r) / (2 pi r), its limit cutoff^2 / (4 pi) at the centre, normalised,
    then zero-padded to `pad_to` when that is larger.
    """
    return _sinc64(cutoff, kernel_size, pad_to).astype(np.float32)


def _random_sigmas(rngs: Rngs, sigma_range: Sequence[float], isotropic: bool) -> tuple[float, float, float]:
    """sig_x, then (anisotropic only) sig_y and a rotation in [-pi, pi], as BasicSR's `random_bivariate_*`."""
    if not sigma_range[0] < sigma_range[1]:
        raise ValueError(f"wrong sigma range {sigma_range}")
    sig_x = rngs.np.uniform(sigma_range[0], sigma_range[1])
    if isotropic:
        return sig_x, sig_x, 0.0
    sig_y = rngs.np.uniform(sigma_range[0], sigma_range[1])
    return sig_x, sig_y, rngs.np.uniform(-math.pi, math.pi)


def _random_beta(rngs: Rngs, beta_range: Sequence[float]) -> float:
    """Half the time in [beta_range[0], 1], else in [1, beta_range[1]], as BasicSR."""
    if rngs.np.uniform() < 0.5:
        return rngs.np.uniform(beta_range[0], 1)
    return rngs.np.uniform(1, beta_range[1])


def random_mixed_kernel(rngs: Rngs, kernel_list: Sequence[str], kernel_prob: Sequence[float], kernel_size: int,
                        sigma_range: Sequence[float], betag_range: Sequence[float],
                        betap_range: Sequence[float]) -> np.ndarray:
    """BasicSR's `random_mixed_kernels` as `RealESRGANDataset` calls it (sig_x and sig_y in `sigma_range`,
    rotation in [-pi, pi], no multiplicative noise): a kernel type by `kernel_prob`, then its parameters."""
    if kernel_size % 2 != 1:
        raise ValueError(f"kernel size must be odd, got {kernel_size}")
    kind = rngs.py.choices(kernel_list, kernel_prob)[0]
    if kind not in KERNEL_TYPES:
        raise ValueError(f"unknown kernel type {kind!r}; one of {', '.join(KERNEL_TYPES)}")
    isotropic = not kind.endswith("aniso")
    sig_x, sig_y, theta = _random_sigmas(rngs, sigma_range, isotropic)
    if kind.startswith("generalized"):
        kernel = _generalized64(kernel_size, sig_x, sig_y, theta, _random_beta(rngs, betag_range), isotropic)
    elif kind.startswith("plateau"):
        kernel = _plateau64(kernel_size, sig_x, sig_y, theta, _random_beta(rngs, betap_range), isotropic)
    else:
        kernel = _gaussian64(kernel_size, sig_x, sig_y, theta, isotropic)
    return _normalized(kernel).astype(np.float32)
