"""The baseline of DL-Art-School's image datasets: its per-sample work in torch DataLoader workers.

Per sample, as DL-Art-School's `SingleImageDataset` (chunked tiles) and `ImageFolderDataset` do it: read the
file, `cv2.imdecode` (IMREAD_UNCHANGED), float32 / 255, BGR -> RGB; for a tile also `ref.jpg` and `centers.pt`
and the reference mask; `cv2.resize` INTER_AREA to `target_size`, the `force_multiple` cut, INTER_AREA down by
`scale`; its `ImageCorruptor` values (`1 - cos(r pi / 2)`) for the JPEG and Gaussian-blur corruptions, before or
after the downscale; HWC -> CHW tensors.
"""
from __future__ import annotations

import io
import math
import os
import random
from typing import Any, Callable, Optional, Sequence

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..errors import ConfigError, DatasetError

# name -> (lowest quality, quality range) of DL-Art-School's JPEG corruptions
JPEG_QUALITIES = {"jpeg": (10, 20), "jpeg-low": (15, 10), "jpeg-medium": (23, 25), "jpeg-broad": (15, 60),
                  "jpeg-normal": (47, 35)}
CORRUPTIONS = (*JPEG_QUALITIES, "gaussian_blur", "none")


def read_rgb_float(path: str) -> np.ndarray:
    """DL-Art-School's `read_img(None, path, rgb=True)`: HWC RGB float32 in [0, 1], three channels."""
    img = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise DatasetError(f"cannot decode {path}: corrupt or truncated image data; re-create the file")
    img = img.astype(np.float32) / 255.0
    img = img[:, :, None] if img.ndim == 2 else img[:, :, :3]
    return cv2.cvtColor(np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img, cv2.COLOR_BGR2RGB)


def corruption_value(rng: random.Random, cosine_bias: bool = True) -> float:
    """A corruption's strength in [0, 1], leaning towards weak ones: `1 - cos(r pi / 2)`."""
    r = rng.random()
    return 1 - math.cos(r * math.pi / 2) if cosine_bias else r


def corrupt(img: np.ndarray, names: Sequence[str], blur_scale: float, rng: random.Random) -> np.ndarray:
    """`img` (HWC RGB float32) through the fixed corruptions `names`, in order."""
    for name in names:
        value = corruption_value(rng)
        if name in JPEG_QUALITIES:
            low, span = JPEG_QUALITIES[name]
            buffer = io.BytesIO()
            Image.fromarray((img * 255).astype(np.uint8)).save(buffer, "JPEG", quality=int((1 - value) * span) + low,
                                                               optimize=True)
            img = cv2.cvtColor(cv2.imdecode(np.frombuffer(buffer.getvalue(), np.uint8), cv2.IMREAD_UNCHANGED),
                               cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        elif name == "gaussian_blur":
            img = cv2.GaussianBlur(img, (0, 0), blur_scale * value * 1.5) if value > 0 else img
    return img


def check_corruptions(names: Sequence[str], where: str) -> None:
    """The baseline implements the JPEG and Gaussian-blur corruptions; any other name is refused."""
    for name in names:
        if name not in CORRUPTIONS:
            raise ConfigError(f"{where}: bench's DL-Art-School baseline does not implement corruption '{name}'; "
                              f"measure with {', '.join(CORRUPTIONS)}")


def area(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """cv2's INTER_AREA resize to (height, width), keeping a trailing channel axis of one."""
    out = cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA)
    return out[:, :, None] if img.ndim == 3 and out.ndim == 2 else out


def sized(img: np.ndarray, target_size: Optional[int], multiple: int) -> np.ndarray:
    """INTER_AREA to `target_size` (square), then cut to a multiple of `multiple` (`force_multiple` x scale)."""
    if target_size is not None and target_size != img.shape[0]:
        img = area(img, target_size, target_size)
    h, w = img.shape[:2]
    return img[:h - h % multiple, :w - w % multiple]


def chw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float()


class DlasStyleDataset(Dataset):
    """One of DL-Art-School's image datasets over `paths` (tiles or images), with `sample(path, rng)` as its
    per-sample work; `rng` is the worker's `random` module, as DL-Art-School's corruptor draws from it."""

    def __init__(self, paths: Sequence[str], sample: Callable[[str, random.Random], dict[str, Any]]):
        self.paths, self.sample = list(paths), sample

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.sample(self.paths[i], random)  # type: ignore[arg-type]


def lq_of(hq: np.ndarray, scale: int, corruptions: Sequence[str], blur_scale: float, before: bool,
          rng: random.Random) -> np.ndarray:
    """LQ from HQ: INTER_AREA down by `scale`, corrupted before or after."""
    if before:
        hq = corrupt(hq, corruptions, blur_scale, rng)
    lq = area(hq, hq.shape[0] // scale, hq.shape[1] // scale)
    return lq if before else corrupt(lq, corruptions, blur_scale, rng)


def tile_sample(opts: dict[str, Any]) -> Callable[[str, random.Random], dict[str, Any]]:
    """DL-Art-School's `SingleImageDataset` work for one tile (with its folder's `ref.jpg` and `centers.pt`)."""
    scale, multiple = opts["scale"], opts["force_multiple"] * opts["scale"]

    def sample(path: str, rng: random.Random) -> dict[str, Any]:
        tile = read_rgb_float(path)
        folder = os.path.dirname(path)
        ref = read_rgb_float(os.path.join(folder, "ref.jpg"))
        centers = torch.load(os.path.join(folder, "centers.pt"), weights_only=True)
        (cy, cx), width = centers[int(os.path.splitext(os.path.basename(path))[0])]
        mask = np.full(tile.shape[:2] + (1,), 0.1, np.float32)
        mask[max(cy - width // 2, 0):cy + width // 2, max(cx - width // 2, 0):cx + width // 2] = 1
        hq, hq_ref, hq_mask = (sized(x, opts["target_size"], multiple) for x in (tile, ref, mask))
        lq = lq_of(hq, scale, opts["fixed_corruptions"], opts["corruption_blur_scale"],
                   opts["corrupt_before_downsize"], rng)
        lq_ref, lq_mask = (area(x, x.shape[0] // scale, x.shape[1] // scale) for x in (hq_ref, hq_mask))
        return {"lq": chw(lq), "hq": chw(hq), "gt_fullsize_ref": chw(np.concatenate([hq_ref, hq_mask], axis=2)),
                "lq_fullsize_ref": chw(np.concatenate([lq_ref, lq_mask], axis=2)), "LQ_path": path, "GT_path": path}

    return sample


def image_sample(opts: dict[str, Any]) -> Callable[[str, random.Random], dict[str, Any]]:
    """DL-Art-School's `ImageFolderDataset` work for one image: a random horizontal flip, the centre square,
    the resize and cut, and LQ."""
    scale, multiple = opts["scale"], opts["force_multiple"] * opts["scale"]

    def sample(path: str, rng: random.Random) -> dict[str, Any]:
        hq = read_rgb_float(path)
        if rng.random() < 0.5:
            hq = hq[:, ::-1]
        h, w = hq.shape[:2]
        side = min(h, w)
        hq = sized(hq[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side],
                   opts["target_size"], multiple)
        lq = lq_of(hq, scale, opts["fixed_corruptions"], opts["corruption_blur_scale"],
                   opts["corrupt_before_downsize"], rng)
        return {"hq": chw(hq), "lq": chw(lq), "LQ_path": path, "HQ_path": path, "has_alt": False}

    return sample
