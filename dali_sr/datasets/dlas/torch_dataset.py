"""`TorchDataset`: DL-Art-School's wrapper of torchvision's datasets (MNIST, Fashion-MNIST, CIFAR-10/100, image
folders, ImageNet) as batches of `lq` = `hq`, `labels` (and `coarse_labels` for CIFAR-100) and their paths.

Each image goes through DL-Art-School's transforms: with `random_crop`, torchvision's `RandomResizedCrop`
(area 8 %-100 %, aspect 3/4-4/3, 10 tries, then a centre crop) resized to `image_size` square; without it, the
shorter side resized to `image_size` and the centre square cut; then a horizontal flip (p = 0.5, in training)
and ImageNet's mean / std. The source computes each sample's windows; the graph resizes, cuts and flips.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ...config import Config, TypeOptions
from ...errors import ConfigError
from ...schema.fields import Field, choice, flag, integer
from ...storage.codecs import encode
from ..kind import DatasetKind
from ..plan import EpochPlan, Sampling
from ..source import Batch, PlanSource, read_value
from .torch_sets import DATASETS, TorchIndex, build_torch_index, check_kwargs

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_AREA = (0.08, 1.0)  # RandomResizedCrop's defaults: share of the image's area, and aspect ratio w / h
_RATIO = (3 / 4, 4 / 3)
_TRIES = 10


@dataclass(frozen=True)
class TorchDatasetOptions:
    """`Config.options` of `TorchDataset`."""

    dataset: str
    kwargs: dict
    image_size: int
    random_crop: bool
    fixed_len: Optional[int]
    offset: int


_KEYS = {
    "dataset": choice(DATASETS),
    "kwargs": Field((dict,), None),
    "image_size": integer(1, 1 << 16),
    "random_crop": flag(False),
    "fixed_len": integer(1, 1 << 40, None, nullable=True),
    "offset": integer(0, 1 << 40, 0),
}


def _prepare(v: dict, where: str) -> dict:
    """Required keys, the constructor arguments, and ImageNet's normalisation as every output's mean / std."""
    for key in ("dataset", "kwargs", "image_size"):
        if v[key] is None:
            raise ConfigError(f"{where}: TorchDataset needs '{key}'")
    check_kwargs(v["dataset"], v["kwargs"], where)
    for key in ("use_rot", "use_vflip"):
        if v[key]:
            raise ConfigError(f"{where}: TorchDataset flips horizontally in training (p = 0.5) and nothing else; "
                              f"remove '{key}'")
    for key in ("dataroot_gt", "dataroot_lq", "meta_info_file", "degradation", "gt_size", "mean", "std"):
        if v[key] is not None:
            raise ConfigError(f"{where}: TorchDataset reads its images from kwargs.root at image_size, normalised "
                              f"with ImageNet's mean and std; remove '{key}'")
    return {**v, "scale": v["scale"] or 1, "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}


def _index(cfg: Config) -> TorchIndex:
    o = cfg.options
    return build_torch_index(cfg.name, o.dataset, o.kwargs, o.fixed_len, o.offset)


@dataclass(frozen=True)
class TorchOutputs:
    """The source's columns (the image, its windows and flip, `idx`) and the graph's outputs (`hq`, `idx`);
    `pixels`: the images are HWC RGB uint8 pixels (else encoded files to decode)."""

    pixels: bool
    image_size: int
    columns: tuple[str, ...] = ("image", "roi_anchor", "roi_shape", "resize_x", "resize_y", "crop_anchor", "flip",
                                "idx")
    graph_outputs: tuple[str, ...] = ("hq", "idx")


def random_resized_crop(rng: np.random.Generator, h: int, w: int) -> tuple[int, int, int, int]:
    """torchvision's `RandomResizedCrop.get_params`: (x, y, w, h) of the window, drawn with `rng`."""
    area = h * w
    for _ in range(_TRIES):
        target = area * rng.uniform(*_AREA)
        ratio = math.exp(rng.uniform(math.log(_RATIO[0]), math.log(_RATIO[1])))
        cw, ch = int(round(math.sqrt(target * ratio))), int(round(math.sqrt(target / ratio)))
        if 0 < cw <= w and 0 < ch <= h:
            return int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1)), cw, ch
    if w / h < _RATIO[0]:
        cw, ch = w, int(round(w / _RATIO[0]))
    elif w / h > _RATIO[1]:
        cw, ch = int(round(h * _RATIO[1])), h
    else:
        cw, ch = w, h
    return (w - cw) // 2, (h - ch) // 2, cw, ch


def resize_and_center(h: int, w: int, size: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """torchvision's `Resize(size)` then `CenterCrop(size)`: the resized (w, h) (shorter side `size`) and the
    (x, y) of the centre square in it."""
    if w <= h:
        rw, rh = size, int(size * h / w)
    else:
        rw, rh = int(size * w / h), size
    return (rw, rh), (int(round((rw - size) / 2.0)), int(round((rh - size) / 2.0)))


class TorchSource(PlanSource):
    """One DALI row per sample: the image (pixels or file bytes), the window to resize, the size to resize it
    to, the square to cut, the flip."""

    def __init__(self, cfg: Config, index: TorchIndex, sampling: Sampling, start: tuple[int, int] = (0, 0)):
        super().__init__(cfg, index, sampling, start)
        self.outputs = TorchOutputs(index.pixels is not None, cfg.options.image_size)

    def _image(self, item: int) -> tuple[Any, tuple[int, int], list]:
        """The image of `item` (RGB pixels, or its file's bytes), its (h, w) and the files DALI decodes."""
        ix = self.index
        if ix.pixels is not None:
            pixels = ix.pixels[item]
            return (np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels), pixels.shape[:2], []
        key = ix.keys[item]
        value, hw = read_value(ix.files, key, None)
        return value, hw, [(ix.files, key)]

    def _assemble(self, plan: EpochPlan, rows: slice) -> Batch:
        indices, positions, size = plan.indices[rows], plan.positions[rows], self.cfg.options.image_size
        n = len(indices)
        images, row_images = [], []
        roi_anchor, roi_shape, crop_anchor = (np.zeros((n, 2), np.int32) for _ in range(3))
        resize = np.zeros((n, 2), np.float32)
        for j, i in enumerate(indices):
            image, (h, w), files = self._image(self.index.item(int(i)))
            images.append(image)
            row_images.append(files)
            if self.cfg.options.random_crop:
                rng = np.random.default_rng([self.cfg.seed, plan.epoch, int(positions[j])])
                x, y, cw, ch = random_resized_crop(rng, h, w)
                roi_anchor[j], roi_shape[j], resize[j] = (x, y), (cw, ch), (size, size)
            else:
                roi_shape[j] = (w, h)
                resize[j], crop_anchor[j] = resize_and_center(h, w, size)
        flip = plan.flips[rows][:, 0] & self.cfg.is_train
        columns = {"image": images, "roi_anchor": roi_anchor, "roi_shape": roi_shape,
                   "resize_x": np.ascontiguousarray(resize[:, 0]), "resize_y": np.ascontiguousarray(resize[:, 1]),
                   "crop_anchor": crop_anchor, "flip": flip.astype(np.int32), "idx": indices.astype(np.int64)}
        return Batch(columns, row_images)

    def placeholder_columns(self) -> dict[str, Any]:
        """One blank row of `image_size` that the graph passes through unchanged."""
        size = self.cfg.options.image_size
        blank = np.zeros((size, size, 3), np.uint8)
        if not self.outputs.pixels:
            blank = np.frombuffer(encode(blank, "png", "placeholder"), np.uint8)
        return {"image": [blank], "roi_anchor": np.zeros((1, 2), np.int32),
                "roi_shape": np.full((1, 2), size, np.int32), "resize_x": np.full(1, size, np.float32),
                "resize_y": np.full(1, size, np.float32), "crop_anchor": np.zeros((1, 2), np.int32),
                "flip": np.zeros(1, np.int32), "idx": np.full(1, -1, np.int64)}

    def collate(self, out: dict[str, Any]) -> dict[str, Any]:
        """DL-Art-School's batch: `lq` and `hq` (the same tensor), `labels`, `coarse_labels` (CIFAR-100),
        `LQ_path` and `GT_path`."""
        import torch

        ix = self.index
        items = [ix.item(i) for i in out.pop("idx").numpy().astype(np.int64).tolist()]
        hq = out["hq"]
        paths = [ix.path(item) for item in items]
        batch = {"lq": hq, "hq": hq, "labels": torch.as_tensor(ix.labels[items], device=hq.device)}
        if ix.coarse_labels is not None:
            batch["coarse_labels"] = torch.as_tensor(ix.coarse_labels[items], device=hq.device)
        batch.update(LQ_path=paths, GT_path=list(paths))
        return batch


TORCH_DATASET = DatasetKind(TypeOptions(_KEYS, TorchDatasetOptions, needs_gt_size=False, makes_lq=False,
                                        prepare=_prepare), _index, TorchSource)
