"""BasicSR's `RealESRGANDataset` (GT only), for a torch DataLoader, and its `worker_init_fn`."""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Sequence

import cv2
import lmdb
import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from dali_sr.errors import ConfigError, DatasetError

from .kernels import KERNEL_PAD, KERNEL_SIZES, Rngs, pad_kernel, random_mixed_kernel, sinc_kernel
from .options import RealESRGANOptions

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
