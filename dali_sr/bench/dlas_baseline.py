"""The DL-Art-School baselines: its `SingleImageDataset` (chunked tiles) and `ImageFolderDataset` work per sample,
in torch DataLoader workers, on the loader's own index.

Per sample, as DL-Art-School does it: read the file and `cv2.imdecode` it (IMREAD_UNCHANGED, float32 / 255, the
first three channels, BGR->RGB); for a tile, its `ref.jpg` and (with `strict` / `needs_metadata`) `centers.pt`
read again for every sample, the mask of 0.1 with 1 over the tile's square; for a folder image, the centre crop,
the flip with probability 1/2 and the centre square; `cv2.resize(INTER_AREA)` to `target_size`, the cut to a
multiple of `force_multiple` x `scale`, the LQ by `cv2.resize(INTER_AREA)`, and its `ImageCorruptor`'s
corruptions before or after that downscale (JPEG through PIL, as it does); HWC->CHW float tensors. Two things
differ from its code, on purpose: a tile's square is clipped at the image's edges (DL-Art-School's slice wraps
round for a square past the top or left edge), and `color_jitter` is not timed (DL-Art-School runs it through
kornia, which dali_sr does not depend on).
"""
from __future__ import annotations

import functools
import io
import math
import os
import random
from typing import Any, Callable, Iterator, Optional

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from .. import Config
from ..datasets.dlas.chunks import CENTERS_NAME, REF_NAME
from ..degrade.dlas_names import JPEG_QUALITY, NAMES, NOISE_NAMES
from ..errors import ConfigError, DatasetError
from .baseline import dataloader_batches

CHUNK_TYPE, FOLDER_TYPE = "SingleImageDataset", "ImageFolderDataset"
_UNTIMED = ("color_jitter",)  # corruption names the baseline does not run
_FOLDER_UNTIMED = ("fetch_alt_image",)  # ImageFolderDataset options the baseline does not run
# DL-Art-School's `lq_resampling` modes, indexed by `randint(0, 4) % 4`
_RESAMPLING = (cv2.INTER_NEAREST, cv2.INTER_CUBIC, cv2.INTER_LINEAR, cv2.INTER_LANCZOS4)


def read_image(path: str) -> np.ndarray:
    """DL-Art-School's `read_img(None, path, rgb=True)`: HWC RGB float32 in [0, 1]."""
    with open(path, "rb") as f:
        img = cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise DatasetError(f"cannot decode {path}: corrupt or truncated image data; re-create the file")
    img = img.astype(np.float32) / 255.0
    img = img[:, :, None] if img.ndim == 2 else img[:, :, :3]
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _area(img: np.ndarray, side: int) -> np.ndarray:
    """`cv2.resize(img, (side, side), INTER_AREA)`, keeping a single channel's axis."""
    out = cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
    return out[:, :, None] if out.ndim == 2 else out


def _chw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float()


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """A JPEG round trip through PIL at `quality` (optimized), read back as DL-Art-School reads a buffer."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((img * 255).astype(np.uint8)).save(buffer, "JPEG", quality=quality, optimize=True)
    out = cv2.imdecode(np.frombuffer(buffer.getvalue(), np.uint8), cv2.IMREAD_UNCHANGED).astype(np.float32) / 255.0
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)


def _motion_kernel(size: int, angle: int) -> np.ndarray:
    k = np.zeros((size, size), np.float32)
    k[(size - 1) // 2, :] = 1.0
    centre = size / 2 - 0.5
    k = cv2.warpAffine(k, cv2.getRotationMatrix2D((centre, centre), angle, 1.0), (size, size))
    return k / np.sum(k)


class Corruptor:
    """DL-Art-School's `ImageCorruptor` for one image: the random names, then the fixed ones, each with its own
    value, and the resamplings undone at the end."""

    def __init__(self, options: Any, where: str):
        self.fixed = list(options.fixed_corruptions or [])
        self.count = int(options.num_corrupts_per_image or 0)
        self.random = list(options.random_corruptions or []) if self.count else []
        self.blur_scale = float(options.corruption_blur_scale)
        self.cosine_bias = bool(options.cosine_bias)
        untimed = sorted(set(self.fixed + self.random) & set(_UNTIMED))
        if untimed:
            raise ConfigError(f"{where}: the DL-Art-School baseline does not run {', '.join(untimed)} (it needs "
                              f"kornia); remove it to compare, or pass --skip-baseline")
        self.rand = random.Random()

    def _value(self) -> float:
        r = self.rand.random()
        return 1 - math.cos(r * math.pi / 2) if self.cosine_bias else r

    def __call__(self, img: np.ndarray) -> np.ndarray:
        names = (random.choices(self.random, k=self.count) if self.count else []) + self.fixed
        undo: list[Callable[[np.ndarray], np.ndarray]] = []
        for name in names:
            img = self._apply(img, name, self._value(), names, undo)
        for step in undo:
            img = step(img)
        return img

    def _apply(self, img: np.ndarray, name: str, r: float, names: list[str],
               undo: list[Callable[[np.ndarray], np.ndarray]]) -> np.ndarray:
        op = NAMES[name]
        if op == "quantize":
            div = 2 ** (int(r * 10 / 3) + 2)
            return (img * 255 // div) * div / 255
        if name == "gaussian_blur":
            return cv2.GaussianBlur(img, (0, 0), self.blur_scale * r * 1.5)
        if name == "motion_blur":
            return cv2.filter2D(img, -1, _motion_kernel(int(self.blur_scale * r * 3 + 1), random.randint(0, 360)))
        if op == "resample":
            factor = 4 if name == "lq_resampling4x" else (1 if r < 0.3 else 2 if r < 0.7 else 4)
            if factor == 1:
                return img
            mode = _RESAMPLING[random.randint(0, 4) % len(_RESAMPLING)]
            h, w = img.shape[:2]
            undo.append(lambda x: cv2.resize(x, (x.shape[1] * factor, x.shape[0] * factor),
                                             interpolation=cv2.INTER_LINEAR))
            return cv2.resize(img, (w // factor, h // factor), interpolation=mode)
        if op == "noise":
            amount = 5 / 255.0 if name == "noise-5" else r * 6 / 255.0
            return img + np.random.rand(*img.shape) * amount
        if op == "jpeg":
            if any(n in NOISE_NAMES for n in names):
                return img
            low, span = JPEG_QUALITY[name]
            return _jpeg(img, int((1 - r) * span) + low)
        if op == "saturate":
            return np.clip(img + r * 0.3, 0, 1)
        if op == "greyscale":
            return np.tile(np.mean(img, axis=2, keepdims=True), [1, 1, 3])
        return img


def _cut(side: int, multiple: int) -> int:
    return side - side % multiple


class ChunkDataset(Dataset):
    """DL-Art-School's `SingleImageDataset.__getitem__` over the loader's tile index."""

    def __init__(self, cfg: Config, index: Any):
        self.cfg, self.index, self.o = cfg, index, cfg.options
        self.scale = 1 if self.o.eval else cfg.scale
        self.corrupt = Corruptor(self.o, cfg.name)

    def __len__(self) -> int:
        return len(self.index)

    def _tile(self, i: int) -> tuple[str, np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
        """ChunkWithReference's item: path, tile, reference, mask and the tile's centre."""
        frames, t = self.index.samples[i]
        folder = self.index.folders[frames[-1]]
        path = folder.store.path(folder.key(folder.tiles[t]))
        tile = read_image(path)
        ref_path = os.path.join(os.path.dirname(path), REF_NAME)
        if not (self.o.need_ref and os.path.exists(ref_path)):
            return path, tile, np.zeros_like(tile), np.zeros(tile.shape[:2] + (1,), np.float32), (0, 0)
        ref = read_image(ref_path)
        if self.o.centers_needed:
            centers = torch.load(os.path.join(os.path.dirname(path), CENTERS_NAME), weights_only=True)
            (y, x), width = centers[int(os.path.splitext(os.path.basename(path))[0])]
        else:
            (y, x), width = (128, 128), 256
        mask = np.full(tile.shape[:2] + (1,), 0.1, np.float32)
        mask[max(y - width // 2, 0):y + width // 2, max(x - width // 2, 0):x + width // 2] = 1
        return path, tile, ref, mask, (y, x)

    def __getitem__(self, i: int) -> dict[str, Any]:
        path, hq, ref, mask, center = self._tile(i)
        side = hq.shape[0]
        target = self.o.target_size
        if target is not None and target != side:
            hq, ref, mask = _area(hq, target), _area(ref, target), _area(mask, target)
            center, side = _moved(center, side, target), target
        cut = _cut(side, self.o.force_multiple * self.scale)
        hq, ref, mask, center = hq[:cut, :cut], ref[:cut, :cut], mask[:cut, :cut], _moved(center, side, cut)
        lq_side = cut // self.scale
        corrupt = not self.o.eval
        if corrupt and self.o.corrupt_before_downsize:
            lq = _area(self.corrupt(hq.copy()), lq_side)
        else:
            lq = _area(hq, lq_side)
            lq = self.corrupt(lq) if corrupt else lq
        lq_ref, lq_mask = _area(ref, lq_side), _area(mask, lq_side)
        return {"lq": _chw(lq), "hq": _chw(hq), "gt_fullsize_ref": torch.cat([_chw(ref), _chw(mask)]),
                "lq_fullsize_ref": torch.cat([_chw(lq_ref), _chw(lq_mask)]),
                "lq_center": torch.tensor(_moved(center, cut, lq_side)), "gt_center": torch.tensor(center),
                "LQ_path": path, "GT_path": path}


def _moved(point: tuple[int, int], old: int, new: int) -> tuple[int, int]:
    ratio = float(new) / float(old)
    return int(ratio * float(point[0])), int(ratio * float(point[1]))


class FolderDataset(Dataset):
    """DL-Art-School's `ImageFolderDataset.__getitem__` over the loader's folder index."""

    def __init__(self, cfg: Config, index: Any):
        self.cfg, self.index, self.o = cfg, index, cfg.options
        untimed = [key for key in _FOLDER_UNTIMED if getattr(self.o, key)]
        if untimed:
            raise ConfigError(f"{cfg.name}: the DL-Art-School baseline does not run {', '.join(untimed)}; remove it "
                              f"to compare, or pass --skip-baseline")
        self.corrupt = Corruptor(self.o, cfg.name)
        self.mean = torch.tensor(cfg.mean).view(-1, 1, 1) if cfg.mean is not None else None
        self.std = torch.tensor(cfg.std).view(-1, 1, 1) if cfg.std is not None else None

    def __len__(self) -> int:
        return len(self.index)

    def _lq(self, hq: np.ndarray) -> np.ndarray:
        """`synthesize_lq`: corrupt after the INTER_AREA downscale, or before it (at `corrupt_before_downsize_factor`
        first)."""
        o, scale, side = self.o, self.cfg.scale, hq.shape[0]
        if not o.corrupt_before_downsize:
            return self.corrupt(_area(hq, side // scale))
        factor = o.corrupt_before_downsize_factor
        if factor:
            hq, scale = _area(hq, side // factor), scale // factor
        else:
            hq = hq.copy()
        hq = self.corrupt(hq)
        return _area(hq, hq.shape[0] // scale)

    def __getitem__(self, i: int) -> dict[str, Any]:
        o = self.o
        store, key = self.index.stores[self.index.samples[i][0]], self.index.samples[i][1]
        path = store.path(key)
        hq = read_image(path)
        if o.center_crop_hq_sz:
            h, w = hq.shape[:2]
            top, left = h // 2 - o.center_crop_hq_sz // 2, w // 2 - o.center_crop_hq_sz // 2
            hq = hq[top:top + o.center_crop_hq_sz, left:left + o.center_crop_hq_sz]
        if not o.disable_flip and random.random() < 0.5:
            hq = hq[:, ::-1]
        if o.force_square:
            h, w = hq.shape[:2]
            dim = min(h, w)
            hq = hq[(h - dim) // 2:(h - dim) // 2 + dim, (w - dim) // 2:(w - dim) // 2 + dim]
        if o.target_size is not None and o.target_size != hq.shape[0]:
            hq = _area(hq, o.target_size)
        multiple = o.force_multiple * self.cfg.scale
        hq = hq[:_cut(hq.shape[0], multiple), :_cut(hq.shape[1], multiple)]
        out = {"hq": _chw(hq), "LQ_path": path, "HQ_path": path, "has_alt": False}
        if not o.skip_lq:
            out["lq"] = _chw(self._lq(hq))
        for name in ("hq", "lq"):
            if name in out and self.mean is not None:
                out[name].sub_(self.mean).div_(self.std)
            if name in out and o.rgb_n1_to_1:
                out[name] = out[name] * 2 - 1
        return out


def _seeded_worker(worker_id: int) -> None:
    """Every worker's own `random` stream (DL-Art-School's corruptor draws from `random` and its own Random)."""
    random.seed(torch.initial_seed() % 2 ** 32)


def chunk_batches(cfg: Config, index: Any, workers: int, on_gpu: bool) -> Iterator[dict]:
    """Endless DL-Art-School-style `SingleImageDataset` batches (see `baseline.dataloader_batches`)."""
    return dataloader_batches(ChunkDataset(cfg, index), cfg, workers, on_gpu, _seeded_worker)


def folder_batches(cfg: Config, index: Any, workers: int, on_gpu: bool) -> Iterator[dict]:
    """Endless DL-Art-School-style `ImageFolderDataset` batches (see `baseline.dataloader_batches`)."""
    return dataloader_batches(FolderDataset(cfg, index), cfg, workers, on_gpu, _seeded_worker)


def tile_values(index: Any, need_ref: bool, i: int) -> list[tuple[np.ndarray, str]]:
    """The encoded images sample `i` of a tile index reads: its tile (and its folder's reference)."""
    frames, t = index.samples[i]
    folder = index.folders[frames[-1]]
    keys = [folder.key(folder.tiles[t])] + ([folder.key(REF_NAME)] if need_ref else [])
    return [(folder.store.get(key), folder.store.label(key)) for key in keys]


def folder_values(index: Any, i: int) -> list[tuple[np.ndarray, str]]:
    """The encoded image sample `i` of a folder index reads."""
    store, key, value, _ = index.read(i)
    return [(value, store.label(key))]


def values_of(cfg: Config, index: Any) -> Optional[Callable[[int], list[tuple[np.ndarray, str]]]]:
    """(i) -> the encoded images sample `i` reads, for a DL-Art-School type the baselines cover; else None."""
    if cfg.type == CHUNK_TYPE:
        return functools.partial(tile_values, index, bool(cfg.options.need_ref))
    if cfg.type == FOLDER_TYPE:
        return functools.partial(folder_values, index)
    return None
