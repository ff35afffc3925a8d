"""BasicSR / Real-ESRGAN training-pair synthesis, re-implemented in NumPy + PyTorch (BasicSR is not imported).

Two halves, as in BasicSR:

* `BasicSRRealESRGANDataset`: `RealESRGANDataset.__getitem__` (GT bytes -> float BGR, flips,
  crop-or-pad, three random 21 x 21 kernels), for a torch DataLoader;
* `BasicSRDegradation`: `feed_data` of `RealESRGANModel` (BasicSR) / `RealESRNetModel` (Real-ESRGAN),
  the two-stage blur / resize / noise / JPEG degradation of a batch, on any torch device.

The kernel formulas follow `basicsr/data/degradations.py` (float64 NumPy), `DiffJPEG` follows
`basicsr/utils/diffjpeg.py` with `differentiable=False`, `USMSharp` and `filter2D` follow
`basicsr/utils/img_process_util.py`. Every random draw uses generators passed in or owned by the
object instead of the global `random` / `np.random` / torch states, in BasicSR's order and with
its distributions, so a run is reproducible from one seed. Given the global states instead
(`Rngs(random, np.random)`, and `generator = None` on `BasicSRDegradation`), the draws are
BasicSR's own stream. The step functions (`filter2D`, `interpolate`, the `_pt` noise functions,
`jpeg`, `round_to_levels`) take explicit per-sample parameters, to compare another implementation
with these operations on the same inputs.
"""
from __future__ import annotations

import functools
import math
import os
import random
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import cv2
import lmdb
import numpy as np
import torch
import yaml
from scipy import special
from torch.nn import functional as F
from torch.utils.data import Dataset, get_worker_info

from ..errors import ConfigError, DatasetError

KERNEL_TYPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
KERNEL_SIZES = tuple(2 * v + 1 for v in range(3, 11))  # 7, 9, ..., 21
KERNEL_PAD = 21  # every kernel of the dataset is zero-padded to this size
RESIZE_MODES = ("area", "bilinear", "bicubic")
UPDOWN = ("up", "down", "keep")


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


# ------------------------------------------------------------------ kernels (NumPy, float64)


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


# ------------------------------------------------------------------ options


@dataclass
class RealESRGANOptions:
    """The options `RealESRGANDataset` and `feed_data` read; defaults are Real-ESRGAN's x4plus option files.

    `crop_pad_size` is 400 in BasicSR (a constant there). `gt_size` is the top-level one (feed_data's crop).
    """

    dataroot_gt: str = ""
    meta_info: Optional[str] = None
    io_backend: str = "disk"
    scale: int = 4
    gt_size: int = 256
    crop_pad_size: int = 400
    use_hflip: bool = True
    use_rot: bool = False
    batch_size_per_gpu: int = 12
    num_worker_per_gpu: int = 5
    kernel_list: tuple[str, ...] = KERNEL_TYPES
    kernel_prob: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    sinc_prob: float = 0.1
    blur_sigma: tuple[float, float] = (0.2, 3.0)
    betag_range: tuple[float, float] = (0.5, 4.0)
    betap_range: tuple[float, float] = (1.0, 2.0)
    kernel_list2: tuple[str, ...] = KERNEL_TYPES
    kernel_prob2: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    sinc_prob2: float = 0.1
    blur_sigma2: tuple[float, float] = (0.2, 1.5)
    betag_range2: tuple[float, float] = (0.5, 4.0)
    betap_range2: tuple[float, float] = (1.0, 2.0)
    final_sinc_prob: float = 0.8
    gt_usm: bool = True
    resize_prob: tuple[float, float, float] = (0.2, 0.7, 0.1)
    resize_range: tuple[float, float] = (0.15, 1.5)
    gaussian_noise_prob: float = 0.5
    noise_range: tuple[float, float] = (1.0, 30.0)
    poisson_scale_range: tuple[float, float] = (0.05, 3.0)
    gray_noise_prob: float = 0.4
    jpeg_range: tuple[float, float] = (30.0, 95.0)
    second_blur_prob: float = 0.8
    resize_prob2: tuple[float, float, float] = (0.3, 0.4, 0.3)
    resize_range2: tuple[float, float] = (0.3, 1.2)
    gaussian_noise_prob2: float = 0.5
    noise_range2: tuple[float, float] = (1.0, 25.0)
    poisson_scale_range2: tuple[float, float] = (0.05, 2.5)
    gray_noise_prob2: float = 0.4
    jpeg_range2: tuple[float, float] = (30.0, 95.0)
    queue_size: int = 180

    @classmethod
    def from_option_file(cls, source: Union[str, Path, Mapping[str, Any]]) -> "RealESRGANOptions":
        """From a Real-ESRGAN option file (path or parsed dict): `datasets.train` keys, then top-level keys.

        Top-level keys win (`gt_size` is in both; feed_data reads the top-level one); other keys are ignored.
        """
        opt = source if isinstance(source, Mapping) else yaml.safe_load(Path(source).read_text())
        if not isinstance(opt, Mapping):
            raise ConfigError(f"{source}: not a YAML mapping; give a Real-ESRGAN option file")
        merged = dict((opt.get("datasets") or {}).get("train") or {})
        merged.update({k: v for k, v in opt.items() if k != "datasets"})
        backend = merged.get("io_backend", {"type": "disk"})
        merged["io_backend"] = backend["type"] if isinstance(backend, Mapping) else backend
        if merged["io_backend"] not in ("disk", "lmdb"):
            raise ConfigError(f"io_backend type {merged['io_backend']!r} is not supported; use disk or lmdb")
        names = {f.name for f in fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in merged.items() if k in names})


# ------------------------------------------------------------------ dataset


def _read_paths(opts: RealESRGANOptions) -> list[str]:
    """LMDB keys (meta_info.txt inside the LMDB, each line up to its first '.') or files listed by `meta_info`."""
    root = opts.dataroot_gt
    if opts.io_backend == "lmdb":
        if not root.endswith(".lmdb"):
            raise ConfigError(f"dataroot_gt should end with '.lmdb' for the lmdb backend, got {root}")
        return [line.split(".")[0] for line in (Path(root) / "meta_info.txt").read_text().splitlines()]
    if not opts.meta_info:
        raise ConfigError("the disk backend needs meta_info (a file listing the GT images under dataroot_gt)")
    lines = Path(opts.meta_info).read_text().splitlines()
    return [os.path.join(root, line.strip().split(" ")[0]) for line in lines]


def _augment(img: np.ndarray, rng: random.Random, hflip: bool, rotation: bool) -> np.ndarray:
    """BasicSR's `augment`: draws for hflip, vflip, transpose (each p=0.5, only when enabled), applied in that order."""
    hflip = hflip and rng.random() < 0.5
    vflip = rotation and rng.random() < 0.5
    rot90 = rotation and rng.random() < 0.5
    if hflip:
        img = cv2.flip(img, 1)
    if vflip:
        img = cv2.flip(img, 0)
    if rot90:
        img = img.transpose(1, 0, 2)
    return img


def _crop_or_pad(img: np.ndarray, size: int, rng: random.Random) -> np.ndarray:
    """Reflect-101 pad at the bottom / right up to `size`, then a random `size` x `size` crop if larger."""
    h, w = img.shape[:2]
    if h < size or w < size:
        img = cv2.copyMakeBorder(img, 0, max(0, size - h), 0, max(0, size - w), cv2.BORDER_REFLECT_101)
    h, w = img.shape[:2]
    if h > size or w > size:
        top = rng.randint(0, h - size)
        left = rng.randint(0, w - size)
        img = img[top:top + size, left:left + size, ...]
    return img


def _pulse() -> torch.Tensor:
    """The 21 x 21 identity kernel."""
    kernel = torch.zeros(KERNEL_PAD, KERNEL_PAD)
    kernel[KERNEL_PAD // 2, KERNEL_PAD // 2] = 1
    return kernel


class BasicSRRealESRGANDataset(Dataset):
    """BasicSR's `RealESRGANDataset` (GT only): dict(gt, kernel1, kernel2, sinc_kernel, gt_path).

    `gt` is an RGB CHW float32 tensor in [0, 1] of `crop_pad_size` squared, the kernels 21 x 21
    float32 tensors. Random draws come from `self.rngs`; in DataLoader workers pass
    `worker_init_fn=worker_init_fn` to reseed each worker with `seed + worker_id`, as BasicSR seeds
    its workers.
    """

    def __init__(self, opts: RealESRGANOptions, seed: int = 0):
        self.opts = opts
        self.seed = seed
        self.rngs = Rngs.seeded(seed)
        self.paths = _read_paths(opts)
        self._env = None

    def reseed(self, seed: int) -> None:
        """Restart the random draws from `seed`."""
        self.rngs = Rngs.seeded(seed)

    def __getstate__(self) -> dict:
        """Pickle without the LMDB environment (each worker opens its own)."""
        return {**self.__dict__, "_env": None}

    def __len__(self) -> int:
        return len(self.paths)

    def _read(self, path: str) -> bytes:
        """The stored bytes: an LMDB value (environment opened once, read-only, no lock, no readahead) or a file."""
        if self.opts.io_backend != "lmdb":
            return Path(path).read_bytes()
        if self._env is None:
            self._env = lmdb.open(self.opts.dataroot_gt, readonly=True, lock=False, readahead=False)
        with self._env.begin(write=False) as txn:
            value = txn.get(path.encode("ascii"))
        if value is None:
            raise DatasetError(f"key {path!r} of meta_info.txt is not in {self.opts.dataroot_gt}; rebuild the LMDB")
        return value

    def _load(self, path: str) -> np.ndarray:
        """`imfrombytes(float32=True)`: HWC BGR float32 in [0, 1]."""
        img = cv2.imdecode(np.frombuffer(self._read(path), np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise DatasetError(f"cannot decode {path}: corrupt or truncated image data; re-create it")
        return img.astype(np.float32) / 255.0

    def _blur_kernel(self, sinc_prob: float, kernel_list: Sequence[str], kernel_prob: Sequence[float],
                     sigma: Sequence[float], betag: Sequence[float], betap: Sequence[float]) -> torch.Tensor:
        """A first / second degradation kernel: a random size in 7..21, sinc with `sinc_prob` or a mixed kernel."""
        size = self.rngs.py.choice(KERNEL_SIZES)
        if self.rngs.np.uniform() < sinc_prob:
            omega_c = self.rngs.np.uniform(np.pi / 3 if size < 13 else np.pi / 5, np.pi)
            kernel = sinc_kernel(omega_c, size)
        else:
            kernel = random_mixed_kernel(self.rngs, kernel_list, kernel_prob, size, sigma, betag, betap)
        return torch.from_numpy(pad_kernel(kernel, KERNEL_PAD))

    def _final_sinc(self) -> torch.Tensor:
        """The final sinc kernel with `final_sinc_prob` (cutoff in [pi/3, pi]), else the pulse."""
        if self.rngs.np.uniform() < self.opts.final_sinc_prob:
            size = self.rngs.py.choice(KERNEL_SIZES)
            omega_c = self.rngs.np.uniform(np.pi / 3, np.pi)
            return torch.from_numpy(sinc_kernel(omega_c, size, pad_to=KERNEL_PAD))
        return _pulse()

    def __getitem__(self, index: int) -> dict[str, Any]:
        o = self.opts
        gt_path = self.paths[index]
        img = _augment(self._load(gt_path), self.rngs.py, o.use_hflip, o.use_rot)
        img = _crop_or_pad(img, o.crop_pad_size, self.rngs.py)
        kernel1 = self._blur_kernel(o.sinc_prob, o.kernel_list, o.kernel_prob, o.blur_sigma, o.betag_range,
                                    o.betap_range)
        kernel2 = self._blur_kernel(o.sinc_prob2, o.kernel_list2, o.kernel_prob2, o.blur_sigma2, o.betag_range2,
                                    o.betap_range2)
        sinc = self._final_sinc()
        gt = torch.from_numpy(cv2.cvtColor(img, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)).float()
        return {"gt": gt, "kernel1": kernel1, "kernel2": kernel2, "sinc_kernel": sinc, "gt_path": gt_path}


def worker_init_fn(worker_id: int) -> None:
    """DataLoader `worker_init_fn`: reseed the worker's `BasicSRRealESRGANDataset` with `seed + worker_id`."""
    dataset = get_worker_info().dataset
    dataset.reseed(dataset.seed + worker_id)


# ------------------------------------------------------------------ torch operations


def filter2D(img: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """BasicSR's `filter2D`: correlate (B, C, H, W) with one (1, k, k) or per-sample (B, k, k) odd kernels.

    Reflect padding of k // 2 (the edge sample not repeated), one grouped `conv2d`. The padded
    image is reshaped rather than viewed: DiffJPEG's output is channels-last, which `F.pad` keeps.
    """
    k = kernel.size(-1)
    if k % 2 != 1:
        raise ValueError(f"filter2D needs an odd kernel size, got {k}")
    b, c, h, w = img.size()
    img = F.pad(img, (k // 2, k // 2, k // 2, k // 2), mode="reflect")
    ph, pw = img.size()[-2:]
    if kernel.size(0) == 1:
        return F.conv2d(img.reshape(b * c, 1, ph, pw), kernel.view(1, 1, k, k)).view(b, c, h, w)
    weight = kernel.view(b, 1, k, k).repeat(1, c, 1, 1).view(b * c, 1, k, k)
    return F.conv2d(img.reshape(1, b * c, ph, pw), weight, groups=b * c).view(b, c, h, w)


class USMSharp(torch.nn.Module):
    """BasicSR's `USMSharp`: unsharp masking, blurring with `cv2.getGaussianKernel(radius made odd, sigma)`."""

    def __init__(self, radius: int = 50, sigma: float = 0):
        super().__init__()
        if radius % 2 == 0:
            radius += 1
        g = cv2.getGaussianKernel(radius, sigma)
        self.register_buffer("kernel", torch.from_numpy(np.dot(g, g.transpose())).float().unsqueeze(0))

    def forward(self, img: torch.Tensor, weight: float = 0.5, threshold: float = 10) -> torch.Tensor:
        """img + weight * (img - blur), clipped to [0, 1], blended in where the softened |residual| mask is on."""
        blur = filter2D(img, self.kernel)
        residual = img - blur
        mask = (torch.abs(residual) * 255 > threshold).float()
        soft_mask = filter2D(mask, self.kernel)
        sharp = torch.clip(img + weight * residual, 0, 1)
        return soft_mask * sharp + (1 - soft_mask) * img


def interpolate(img: torch.Tensor, size: Optional[tuple[int, int]] = None, scale_factor: Optional[float] = None,
                *, mode: str) -> torch.Tensor:
    """`F.interpolate` as BasicSR calls it: 'area', 'bilinear' or 'bicubic', default align_corners."""
    return F.interpolate(img, size=size, scale_factor=scale_factor, mode=mode)


def round_to_levels(img: torch.Tensor) -> torch.Tensor:
    """Clamp to [0, 1] on the 1/255 grid: clamp(round(img * 255), 0, 255) / 255."""
    return torch.clamp((img * 255.0).round(), 0, 255) / 255.0


def _clip_round(out: torch.Tensor, clip: bool, rounds: bool) -> torch.Tensor:
    """The clip / rounds tail of BasicSR's `add_*_noise_pt`."""
    if clip and rounds:
        return round_to_levels(out)
    if clip:
        return torch.clamp(out, 0, 1)
    if rounds:
        return (out * 255.0).round() / 255.0
    return out


def _per_sample(value: Union[float, torch.Tensor], b: int) -> Union[float, torch.Tensor]:
    """A number as is, a (B,) tensor as (B, 1, 1, 1)."""
    return value if isinstance(value, (int, float)) else value.view(b, 1, 1, 1)


def _uses_gray(gray_noise: Union[float, torch.Tensor]) -> bool:
    """Whether any sample asks for gray noise (a device sync for a tensor, as in BasicSR)."""
    return gray_noise > 0 if isinstance(gray_noise, (int, float)) else bool(torch.sum(gray_noise) > 0)


def rgb_to_grayscale(img: torch.Tensor) -> torch.Tensor:
    """torchvision's `rgb_to_grayscale(num_output_channels=1)`: 0.2989 R + 0.587 G + 0.114 B, (..., 1, H, W)."""
    r, g, b = img.unbind(dim=-3)
    return (0.2989 * r + 0.587 * g + 0.114 * b).to(img.dtype).unsqueeze(dim=-3)


def _gaussian_noise(img: torch.Tensor, sigma: Union[float, torch.Tensor], gray_noise: Union[float, torch.Tensor],
                    generator: Optional[torch.Generator]) -> torch.Tensor:
    """BasicSR's `generate_gaussian_noise_pt`: colour noise, blended with one gray field where gray_noise is 1.

    As in BasicSR, the gray field is a single (H, W) draw shared by the batch, scaled per sample.
    """
    b, _, h, w = img.size()
    sigma, gray_noise = _per_sample(sigma, b), _per_sample(gray_noise, b)
    gray = _uses_gray(gray_noise)
    if gray:
        noise_gray = torch.randn(h, w, dtype=img.dtype, device=img.device, generator=generator) * sigma / 255.0
    noise = torch.randn(*img.size(), dtype=img.dtype, device=img.device, generator=generator) * sigma / 255.0
    if gray:
        noise = noise * (1 - gray_noise) + noise_gray * gray_noise
    return noise


def add_gaussian_noise_pt(img: torch.Tensor, sigma: Union[float, torch.Tensor], gray_noise: Union[float, torch.Tensor],
                          clip: bool = True, rounds: bool = False,
                          generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """BasicSR's `add_gaussian_noise_pt`: img + N(0, sigma / 255) per sample (sigma on the 0..255 scale)."""
    return _clip_round(img + _gaussian_noise(img, sigma, gray_noise, generator), clip, rounds)


def _poisson_noise_of(img: torch.Tensor, generator: Optional[torch.Generator]) -> torch.Tensor:
    """Poisson(img * vals) / vals - img on the 1/255 grid, vals = the next power of 2 of each sample's level count."""
    img = round_to_levels(img)
    counts = [len(torch.unique(img[i])) for i in range(img.size(0))]
    vals = img.new_tensor([2 ** np.ceil(np.log2(n)) for n in counts]).view(-1, 1, 1, 1)
    return torch.poisson(img * vals, generator=generator) / vals - img


def _poisson_noise(img: torch.Tensor, scale: Union[float, torch.Tensor], gray_noise: Union[float, torch.Tensor],
                   generator: Optional[torch.Generator]) -> torch.Tensor:
    """BasicSR's `generate_poisson_noise_pt`: per-channel shot noise, blended with luma shot noise, times scale."""
    b, _, h, w = img.size()
    gray_noise = _per_sample(gray_noise, b)
    gray = _uses_gray(gray_noise)
    if gray:
        noise_gray = _poisson_noise_of(rgb_to_grayscale(img), generator).expand(b, 3, h, w)
    noise = _poisson_noise_of(img, generator)
    if gray:
        noise = noise * (1 - gray_noise) + noise_gray * gray_noise
    return noise * _per_sample(scale, b)


def add_poisson_noise_pt(img: torch.Tensor, scale: Union[float, torch.Tensor], gray_noise: Union[float, torch.Tensor],
                         clip: bool = True, rounds: bool = False,
                         generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """BasicSR's `add_poisson_noise_pt`: img + scale * (shot noise of img on the 1/255 grid)."""
    return _clip_round(img + _poisson_noise(img, scale, gray_noise, generator), clip, rounds)


# ------------------------------------------------------------------ DiffJPEG

# The JPEG Annex K tables as printed (row = vertical frequency). DiffJPEG applies them transposed.
_LUMA_TABLE = np.array(
    [[16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55], [14, 13, 16, 24, 40, 57, 69, 56],
     [14, 17, 22, 29, 51, 87, 80, 62], [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
     [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]], dtype=np.float32)
_CHROMA_TABLE = np.full((8, 8), 99, dtype=np.float32)
_CHROMA_TABLE[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]
_RGB_TO_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]],
                       dtype=np.float32)
_YCC_TO_RGB = np.array([[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136], [1.0, 1.772, 0.0]], dtype=np.float32)


def _dct_basis() -> np.ndarray:
    """basis[x, y, u, v] = cos((2x+1) u pi / 16) cos((2y+1) v pi / 16), float32 of float64 products."""
    n = np.arange(8)
    c = np.cos((2 * n[:, None] + 1) * n[None, :] * np.pi / 16)  # c[x, u]
    return (c[:, None, :, None] * c[None, :, None, :]).astype(np.float32)


def quality_to_factor(quality: torch.Tensor) -> torch.Tensor:
    """DiffJPEG's quantisation-table scale: 5000 / q / 100 below 50, (200 - 2 q) / 100 from 50 (0 at q = 100)."""
    return torch.where(quality < 50, 5000.0 / quality, 200.0 - quality * 2) / 100.0


def _to_blocks(plane: torch.Tensor) -> torch.Tensor:
    """(B, H, W) -> (B, H/8 * W/8, 8, 8), blocks in raster order."""
    b, h, w = plane.shape
    return plane.view(b, h // 8, 8, w // 8, 8).permute(0, 1, 3, 2, 4).contiguous().view(b, -1, 8, 8)


def _from_blocks(blocks: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Inverse of `_to_blocks`."""
    b = blocks.shape[0]
    return blocks.view(b, h // 8, w // 8, 8, 8).permute(0, 1, 3, 2, 4).contiguous().view(b, h, w)


class DiffJPEG(torch.nn.Module):
    """BasicSR's `DiffJPEG(differentiable=False)`: JPEG encode + decode of a batch in float tensor arithmetic.

    Zero-pad bottom / right to a multiple of 16; x 255; full-range YCbCr; 2 x 2 average chroma
    subsampling; level shift by 128 and 8 x 8 DCT; divide by the (transposed) Annex K tables times
    the per-sample quality factor, `torch.round`, multiply back; inverse DCT; nearest chroma
    upsampling; RGB; clamp to [0, 255]; / 255; crop. Unlike libjpeg the tables are not rounded
    or clamped, so quality 100 (factor 0) gives NaN, as in BasicSR; Real-ESRGAN draws at most 95.
    """

    def __init__(self):
        super().__init__()
        alpha = np.array([1.0 / np.sqrt(2)] + [1] * 7)
        basis = torch.from_numpy(_dct_basis())
        self.register_buffer("y_table", torch.from_numpy(_LUMA_TABLE.T.copy()))
        self.register_buffer("c_table", torch.from_numpy(_CHROMA_TABLE.T.copy()))
        self.register_buffer("dct_basis", basis)
        self.register_buffer("idct_basis", basis.permute(2, 3, 0, 1).contiguous())
        self.register_buffer("dct_scale", torch.from_numpy(np.outer(alpha, alpha) * 0.25).float())
        self.register_buffer("idct_alpha", torch.from_numpy(np.outer(alpha, alpha)).float())
        self.register_buffer("rgb_to_ycc", torch.from_numpy(_RGB_TO_YCC.T.copy()))
        self.register_buffer("ycc_to_rgb", torch.from_numpy(_YCC_TO_RGB.T.copy()))
        self.register_buffer("ycc_shift", torch.tensor([0.0, 128.0, 128.0]))

    def _roundtrip(self, plane: torch.Tensor, table: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
        """DCT, quantise, dequantise and inverse DCT of one (B, H, W) plane."""
        h, w = plane.shape[1:]
        coeffs = self.dct_scale * torch.tensordot(_to_blocks(plane) - 128, self.dct_basis, dims=2)
        step = table.expand(factor.size(0), 1, 8, 8) * factor
        coeffs = torch.round(coeffs / step) * step
        blocks = 0.25 * torch.tensordot(coeffs * self.idct_alpha, self.idct_basis, dims=2) + 128
        return _from_blocks(blocks, h, w)

    def forward(self, x: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
        """x: (B, 3, H, W) RGB in [0, 1]; quality: (B,) float (not modified) -> (B, 3, H, W) in [0, 1]."""
        factor = quality_to_factor(quality).view(-1, 1, 1, 1)
        h, w = x.shape[-2:]
        x = F.pad(x, (0, (16 - w % 16) % 16, 0, (16 - h % 16) % 16), mode="constant", value=0)
        ycc = torch.tensordot((x * 255).permute(0, 2, 3, 1), self.rgb_to_ycc, dims=1) + self.ycc_shift
        y = ycc[..., 0]
        cb, cr = (F.avg_pool2d(ycc[..., i].unsqueeze(1), kernel_size=2, stride=2, count_include_pad=False)
                  .squeeze(1) for i in (1, 2))
        y = self._roundtrip(y, self.y_table, factor)
        cb, cr = (self._roundtrip(p, self.c_table, factor).repeat_interleave(2, 1).repeat_interleave(2, 2)
                  for p in (cb, cr))
        ycc = torch.stack((y, cb, cr), dim=3)
        rgb = torch.tensordot(ycc - self.ycc_shift, self.ycc_to_rgb, dims=1).permute(0, 3, 1, 2)
        return (torch.clamp(rgb, 0, 255) / 255)[:, :, :h, :w]


@functools.lru_cache(maxsize=None)
def _jpeger(device: torch.device) -> DiffJPEG:
    """One `DiffJPEG` per device."""
    return DiffJPEG().to(device)


def jpeg(img: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
    """The JPEG step of feed_data: `DiffJPEG` of img clamped to [0, 1], per-sample quality (B,)."""
    return _jpeger(img.device)(torch.clamp(img, 0, 1), quality)


# ------------------------------------------------------------------ feed_data


def _paired_random_crop(gt: torch.Tensor, lq: torch.Tensor, gt_size: int, scale: int,
                        rng: random.Random) -> tuple[torch.Tensor, torch.Tensor]:
    """BasicSR's `paired_random_crop` of batches: one random LQ window for the batch, the GT window scale x it."""
    h_lq, w_lq = lq.shape[-2:]
    h_gt, w_gt = gt.shape[-2:]
    lq_size = gt_size // scale
    if h_gt != h_lq * scale or w_gt != w_lq * scale:
        raise ValueError(f"GT ({h_gt}, {w_gt}) is not {scale} x LQ ({h_lq}, {w_lq})")
    if h_lq < lq_size or w_lq < lq_size:
        raise ValueError(f"LQ ({h_lq}, {w_lq}) is smaller than the patch ({lq_size}, {lq_size})")
    top = rng.randint(0, h_lq - lq_size)
    left = rng.randint(0, w_lq - lq_size)
    top_gt, left_gt = int(top * scale), int(left * scale)
    return (gt[:, :, top_gt:top_gt + gt_size, left_gt:left_gt + gt_size],
            lq[:, :, top:top + lq_size, left:left + lq_size])


class BasicSRDegradation:
    """`feed_data` of `RealESRGANModel` (BasicSR) or `RealESRNetModel` (Real-ESRGAN) on `device`.

    Per batch: one resize direction, scale and mode per resize, one noise type per stage, one
    second-blur decision and one order of [resize back + sinc] / JPEG; per sample: noise sigma or
    scale, gray choice and JPEG quality. The training pair pool is off unless `use_queue`.
    """

    def __init__(self, opts: RealESRGANOptions, device: torch.device, model: str = "RealESRGANModel",
                 seed: int = 0, use_queue: bool = False):
        if model not in ("RealESRGANModel", "RealESRNetModel"):
            raise ValueError(f"model must be RealESRGANModel or RealESRNetModel, got {model!r}")
        self.opts, self.device, self.model, self.use_queue = opts, torch.device(device), model, use_queue
        self.rngs = Rngs.seeded(seed)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        self.jpeger = DiffJPEG().to(self.device)
        self.usm_sharpener = USMSharp().to(self.device)
        self.queue_lr: Optional[torch.Tensor] = None
        self.queue_gt: Optional[torch.Tensor] = None
        self.queue_ptr = 0

    def _uniform(self, like: torch.Tensor, bounds: Sequence[float]) -> torch.Tensor:
        """(B,) uniform in bounds, as `torch.rand(B) * (hi - lo) + lo`."""
        r = torch.rand(like.size(0), dtype=like.dtype, device=like.device, generator=self.generator)
        return r * (bounds[1] - bounds[0]) + bounds[0]

    def _gray(self, like: torch.Tensor, prob: float) -> torch.Tensor:
        """(B,) 1.0 with probability `prob`, else 0.0."""
        r = torch.rand(like.size(0), dtype=like.dtype, device=like.device, generator=self.generator)
        return (r < prob).float()

    def _resize_scale(self, prob: Sequence[float], bounds: Sequence[float]) -> float:
        """Up in [1, hi], down in [lo, 1] or keep (1), chosen by `prob`."""
        kind = self.rngs.py.choices(UPDOWN, prob)[0]
        if kind == "up":
            return self.rngs.np.uniform(1, bounds[1])
        if kind == "down":
            return self.rngs.np.uniform(bounds[0], 1)
        return 1

    def _mode(self) -> str:
        """One of 'area', 'bilinear', 'bicubic', uniformly."""
        return self.rngs.py.choice(RESIZE_MODES)

    def _noise(self, out: torch.Tensor, gaussian_prob: float, sigma_range: Sequence[float],
               poisson_range: Sequence[float], gray_prob: float) -> torch.Tensor:
        """Gaussian noise with `gaussian_prob`, else Poisson, clipped to [0, 1] (BasicSR's random_add_*_pt)."""
        if self.rngs.np.uniform() < gaussian_prob:
            sigma = self._uniform(out, sigma_range)
            return add_gaussian_noise_pt(out, sigma, self._gray(out, gray_prob), generator=self.generator)
        scale = self._uniform(out, poisson_range)
        return add_poisson_noise_pt(out, scale, self._gray(out, gray_prob), generator=self.generator)

    def _jpeg(self, out: torch.Tensor, bounds: Sequence[float]) -> torch.Tensor:
        """DiffJPEG of `out` clamped to [0, 1], per-sample quality uniform in bounds."""
        quality = out.new_zeros(out.size(0)).uniform_(bounds[0], bounds[1], generator=self.generator)
        return self.jpeger(torch.clamp(out, 0, 1), quality)

    def _resize_back_sinc(self, out: torch.Tensor, size: tuple[int, int], sinc: torch.Tensor) -> torch.Tensor:
        """Resize to `size` with a random mode, then the final sinc filter."""
        return filter2D(interpolate(out, size=size, mode=self._mode()), sinc)

    def _degrade(self, src: torch.Tensor, kernel1: torch.Tensor, kernel2: torch.Tensor,
                 sinc: torch.Tensor) -> torch.Tensor:
        """The two degradation stages and the final [resize back + sinc] / JPEG in a random order."""
        o = self.opts
        ori_h, ori_w = src.shape[2:4]
        out = filter2D(src, kernel1)
        scale = self._resize_scale(o.resize_prob, o.resize_range)
        out = interpolate(out, scale_factor=scale, mode=self._mode())
        out = self._noise(out, o.gaussian_noise_prob, o.noise_range, o.poisson_scale_range, o.gray_noise_prob)
        out = self._jpeg(out, o.jpeg_range)
        if self.rngs.np.uniform() < o.second_blur_prob:
            out = filter2D(out, kernel2)
        scale = self._resize_scale(o.resize_prob2, o.resize_range2)
        size = (int(ori_h / o.scale * scale), int(ori_w / o.scale * scale))
        out = interpolate(out, size=size, mode=self._mode())
        out = self._noise(out, o.gaussian_noise_prob2, o.noise_range2, o.poisson_scale_range2, o.gray_noise_prob2)
        final = (ori_h // o.scale, ori_w // o.scale)
        if self.rngs.np.uniform() < 0.5:
            out = self._jpeg(self._resize_back_sinc(out, final, sinc), o.jpeg_range2)
        else:
            out = self._resize_back_sinc(self._jpeg(out, o.jpeg_range2), final, sinc)
        return round_to_levels(out)

    def _dequeue_and_enqueue(self, lq: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """BasicSR's training pair pool: fill it batch by batch; once full, shuffle it and swap a batch out."""
        b = lq.size(0)
        if self.queue_lr is None:
            if self.opts.queue_size % b != 0:
                raise ValueError(f"queue size {self.opts.queue_size} should be divisible by batch size {b}")
            self.queue_lr = torch.zeros(self.opts.queue_size, *lq.shape[1:], device=self.device)
            self.queue_gt = torch.zeros(self.opts.queue_size, *gt.shape[1:], device=self.device)
            self.queue_ptr = 0
        if self.queue_ptr == self.opts.queue_size:
            idx = torch.randperm(self.opts.queue_size, generator=self.generator, device=self.device)
            self.queue_lr, self.queue_gt = self.queue_lr[idx], self.queue_gt[idx]
            lq_out, gt_out = self.queue_lr[0:b].clone(), self.queue_gt[0:b].clone()
            self.queue_lr[0:b], self.queue_gt[0:b] = lq.clone(), gt.clone()
            return lq_out, gt_out
        self.queue_lr[self.queue_ptr:self.queue_ptr + b] = lq.clone()
        self.queue_gt[self.queue_ptr:self.queue_ptr + b] = gt.clone()
        self.queue_ptr += b
        return lq, gt

    @torch.no_grad()
    def __call__(self, batch: dict) -> dict[str, torch.Tensor]:
        """A dataset batch -> {"lq", "gt"} (+ "gt_usm" for RealESRGANModel), cropped to gt_size / gt_size // scale."""
        o = self.opts
        gt = batch["gt"].to(self.device)
        kernels = [batch[k].to(self.device) for k in ("kernel1", "kernel2", "sinc_kernel")]
        esrgan = self.model == "RealESRGANModel"
        if esrgan:
            lq = self._degrade(self.usm_sharpener(gt), *kernels)
        else:
            if o.gt_usm:
                gt = self.usm_sharpener(gt)
            lq = self._degrade(gt, *kernels)
        gt, lq = _paired_random_crop(gt, lq, o.gt_size, o.scale, self.rngs.py)
        if self.use_queue:
            lq, gt = self._dequeue_and_enqueue(lq, gt)
        out = {"lq": lq.contiguous(), "gt": gt}
        if esrgan:
            out["gt_usm"] = self.usm_sharpener(gt)
        return out
