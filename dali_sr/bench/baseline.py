"""The baseline: BasicSR v1.4.2 `PairedImageDataset` work per sample, in torch DataLoader workers.

Per sample, as BasicSR does it: read the bytes (LMDB environment opened lazily in each
worker, read-only, no lock, no readahead; or a plain file read), `cv2.imdecode` to BGR,
float32 / 255, `paired_random_crop`, `augment`, optional Y channel, BGR->RGB, HWC->CHW
tensors, optional mean/std. On a GPU, batches come through pinned memory and are copied
on a side stream, as BasicSR's `CUDAPrefetcher`. (`REDSDataset` clips: `clip_baseline.py`.)
"""
from __future__ import annotations

import itertools
import random
from typing import Any, Callable, Iterator, Optional

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .. import Config
from ..errors import DaliSRError, DatasetError

PAIRED_TYPE = "PairedImageDataset"
PREFETCH_FACTOR = 2  # DataLoader's default: batches each worker keeps ready


def imdecode(buf: np.ndarray, name: str) -> np.ndarray:
    """`cv2.imdecode(buf, IMREAD_COLOR)` (HWC BGR uint8); a `DatasetError` naming `name` if it fails."""
    img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if img is None:
        raise DatasetError(f"cannot decode {name}: corrupt or truncated image data; re-create the file")
    return img


def read_float(store: Any, key: str) -> np.ndarray:
    """BasicSR's `imfrombytes(store.get(key), float32=True)` of a loader index's storage: HWC BGR float32 in
    [0, 1]."""
    return imdecode(store.get(key), store.label(key)).astype(np.float32) / 255.0


def paired_random_crop(img_gt: np.ndarray, img_lqs: list[np.ndarray], gt_patch_size: int, scale: int,
                       gt_path: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """BasicSR's `paired_random_crop`: one LQ window for every LQ image, the GT window = scale x it."""
    h_lq, w_lq = img_lqs[0].shape[:2]
    h_gt, w_gt = img_gt.shape[:2]
    lq_patch_size = gt_patch_size // scale
    if any(img.shape[:2] != (h_lq, w_lq) for img in img_lqs):
        raise DatasetError(f"the LQ frames of {gt_path} differ in size; every frame of a clip needs the same size")
    if (h_gt, w_gt) != (h_lq * scale, w_lq * scale):
        raise DatasetError(f"GT {gt_path} is {h_gt}x{w_gt}, not scale {scale} x its LQ ({h_lq}x{w_lq})")
    if h_lq < lq_patch_size or w_lq < lq_patch_size:
        raise DatasetError(f"LQ of {gt_path} is {h_lq}x{w_lq}, smaller than the patch {lq_patch_size}x{lq_patch_size}")
    top = random.randint(0, h_lq - lq_patch_size)
    left = random.randint(0, w_lq - lq_patch_size)
    img_lqs = [img[top:top + lq_patch_size, left:left + lq_patch_size, ...] for img in img_lqs]
    top_gt, left_gt = top * scale, left * scale
    img_gt = img_gt[top_gt:top_gt + gt_patch_size, left_gt:left_gt + gt_patch_size, ...]
    return img_gt, img_lqs


def augment(imgs: list[np.ndarray], hflip: bool, rotation: bool) -> list[np.ndarray]:
    """BasicSR's `augment`: hflip, vflip, transpose H/W, each with p=0.5, the same for every image."""
    hflip = hflip and random.random() < 0.5
    vflip = rotation and random.random() < 0.5
    rot90 = rotation and random.random() < 0.5

    def _augment(img: np.ndarray) -> np.ndarray:
        if hflip:
            cv2.flip(img, 1, img)
        if vflip:
            cv2.flip(img, 0, img)
        if rot90:
            img = img.transpose(1, 0, 2)
        return img

    return [_augment(img) for img in imgs]


def _y_channel(img: np.ndarray) -> np.ndarray:
    """BasicSR's `bgr2ycbcr(img, y_only=True)[..., None]` for float32 [0, 1] BGR input."""
    return ((np.dot(img, [24.966, 128.553, 65.481]) + 16.0) / 255.0).astype(np.float32)[..., None]


def img2tensor(img: np.ndarray) -> torch.Tensor:
    """BasicSR's `img2tensor(bgr2rgb=True, float32=True)`: RGB CHW float32 tensor."""
    if img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return torch.from_numpy(img.transpose(2, 0, 1)).float()


class BasicSRPairedDataset(Dataset):
    """BasicSR's `PairedImageDataset.__getitem__` over a loader's paired index (enlarged as `EnlargedSampler`)."""

    def __init__(self, cfg: Config, index: Any):
        self.cfg, self.index = cfg, index
        self.mean = torch.tensor(cfg.mean).view(-1, 1, 1) if cfg.mean is not None else None
        self.std = torch.tensor(cfg.std).view(-1, 1, 1) if cfg.std is not None else None

    def __len__(self) -> int:
        return len(self.index) * self.cfg.dataset_enlarge_ratio

    def __getitem__(self, i: int) -> dict[str, Any]:
        cfg, ix = self.cfg, self.index
        i %= len(ix)
        gt_path, lq_path = ix.gt.label(ix.gt_keys[i]), ix.lq.label(ix.lq_keys[i])
        img_gt, img_lq = read_float(ix.gt, ix.gt_keys[i]), read_float(ix.lq, ix.lq_keys[i])
        if cfg.is_train:
            img_gt, (img_lq,) = paired_random_crop(img_gt, [img_lq], cfg.gt_size, cfg.scale, gt_path)
            img_gt, img_lq = augment([img_gt, img_lq], cfg.use_hflip, cfg.use_rot)
        if cfg.color == "y":
            img_gt, img_lq = _y_channel(img_gt), _y_channel(img_lq)
        if not cfg.is_train:
            img_gt = img_gt[:img_lq.shape[0] * cfg.scale, :img_lq.shape[1] * cfg.scale, :]
        gt, lq = img2tensor(img_gt), img2tensor(img_lq)
        if self.mean is not None:
            gt.sub_(self.mean).div_(self.std)
            lq.sub_(self.mean).div_(self.std)
        return {"lq": lq, "gt": gt, "lq_path": lq_path, "gt_path": gt_path}


def cuda_prefetch(batches: Iterator[dict], device_id: int) -> Iterator[dict]:
    """BasicSR's `CUDAPrefetcher`: copy the next batch to the GPU on a side stream while this one is used."""
    device = torch.device("cuda", device_id)
    stream = torch.cuda.Stream(device)

    def load(batch: dict) -> dict:
        with torch.cuda.stream(stream):
            return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}

    upcoming = load(next(batches))
    for batch in batches:
        main = torch.cuda.current_stream(device)
        main.wait_stream(stream)
        current, upcoming = upcoming, load(batch)
        for v in current.values():
            if torch.is_tensor(v):
                v.record_stream(main)  # allocated on the side stream, used on the main one
        yield current


def _one_line(error: DaliSRError) -> str:
    """The message of an error re-raised by a DataLoader worker (its last traceback line)."""
    text = str(error).strip()
    return text.splitlines()[-1].split(": ", 1)[-1] if "\n" in text else text


def dataloader_batches(dataset: Dataset, cfg: Config, workers: int, on_gpu: bool,
                       worker_init_fn: Optional[Callable[[int], None]] = None) -> Iterator[dict]:
    """Endless batches of `dataset` from `DataLoader(num_workers=workers, persistent_workers=True)`.

    On a GPU, through pinned memory and `cuda_prefetch`, as BasicSR. The DataLoader lives in
    this generator: closing it shuts the workers down.
    """
    loader = DataLoader(dataset, batch_size=cfg.batch_size, shuffle=cfg.shuffle,
                        num_workers=workers, drop_last=cfg.drop_last, pin_memory=on_gpu, persistent_workers=True,
                        prefetch_factor=PREFETCH_FACTOR, generator=torch.Generator().manual_seed(cfg.seed),
                        worker_init_fn=worker_init_fn)
    batches = (batch for _ in itertools.count() for batch in loader)
    if on_gpu:
        batches = cuda_prefetch(batches, cfg.device_id)
    try:
        yield from batches
    except DaliSRError as e:
        raise type(e)(_one_line(e)) from None


def baseline_batches(cfg: Config, index: Any, workers: int, on_gpu: bool) -> Iterator[dict]:
    """Endless BasicSR-style `PairedImageDataset` batches (see `dataloader_batches`)."""
    return dataloader_batches(BasicSRPairedDataset(cfg, index), cfg, workers, on_gpu)
