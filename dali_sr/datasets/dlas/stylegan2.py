"""`Stylegan2Dataset`: DL-Art-School's StyleGAN2 image folder. Each image's shorter side resized to `target_size`
(bilinear, antialiased), then with probability `aug_prob` a random crop of 1/2 to all of its area at an aspect of
0.98 to 1.02 resized to `target_size` x `target_size` (torchvision's RandomResizedCrop), else the centre square;
`lq` and `hq` are the same image."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, make_dataclass
from typing import Any

import numpy as np

from ...config import Config, TypeOptions
from ...errors import ConfigError, DatasetError
from ...schema.fields import Field, flag, integer, text
from ...storage.codecs import encode
from ...storage.backends import DiskStorage, searchable_folder
from ..kind import DatasetKind
from ..plan import EpochPlan
from ..source import Batch, PlanSource
from .folder_index import FolderIndex, rows_batch

STYLEGAN2_KEYS: dict[str, Field] = {
    "path": text(),
    "target_size": integer(1, 1 << 16, None, nullable=True),
    "aug_prob": Field((int, float), None, lambda v: 0 <= v <= 1, "a number in [0, 1]"),
    "transparent": flag(False),
}
Stylegan2Options = make_dataclass("Stylegan2Options", [(key, object, None) for key in STYLEGAN2_KEYS], frozen=True)
Stylegan2Options.__module__ = __name__  # where pickle finds it (a Config travels to source worker processes)
EXTENSIONS = ("jpg", "jpeg", "png", "webp")  # DL-Art-School's, in its order
_STREAM = 0x5_7E6A_2  # tells a sample's crop draws apart from any other use of its seed
COLUMNS = ("hq", "resized_hw", "crop_anchor", "crop_shape", "final_hw")


def _prepare(v: dict, where: str) -> dict:
    for key in ("dataroot_gt", "dataroot_lq", "degradation", "gt_size", "use_hflip", "use_flip", "use_rot",
                "use_vflip", "color"):
        if v[key]:
            raise ConfigError(f"{where}: Stylegan2Dataset does not read '{key}'; remove it")
    if v["transparent"]:
        raise ConfigError(f"{where}: Stylegan2Dataset's 'transparent' (RGBA images) is not available; remove it")
    for key in ("path", "target_size", "aug_prob"):
        if v[key] is None:
            raise ConfigError(f"{where}: Stylegan2Dataset needs '{key}'")
    if v["scale"] not in (None, 1):
        raise ConfigError(f"{where}: Stylegan2Dataset yields lq = hq; remove 'scale'")
    v["scale"] = 1
    return v


def build_index(cfg: Config) -> FolderIndex:
    """Every `*.jpg`, `*.jpeg`, `*.png` and `*.webp` under `path` (recursively), extension by extension, sorted."""
    root = cfg.options.path
    if not searchable_folder(root, "image folder"):
        raise DatasetError(f"{cfg.name}: image folder {root} does not exist; fix 'path'")
    keys = [os.path.relpath(os.path.join(folder, n), root) for ext in EXTENSIONS
            for folder, _, names in sorted(os.walk(root)) for n in sorted(names) if n.endswith(f".{ext}")]
    if not keys:
        raise DatasetError(f"{cfg.name}: image folder {root} holds no .jpg, .jpeg, .png or .webp image; fix 'path'")
    return FolderIndex(cfg.name, [DiskStorage(root)], [(0, key) for key in keys])


def resized_size(hw: tuple[int, int], size: int) -> tuple[int, int]:
    """(h, w) after torchvision's `Resize(size)`: the shorter side `size`, the longer in proportion (truncated)."""
    h, w = hw
    return (int(size * h / w), size) if w <= h else (size, int(size * w / h))


@dataclass(frozen=True)
class Crop:
    """The window (top, left, h, w) cut from the resized image, and whether it is resized to the square."""

    top: int
    left: int
    h: int
    w: int
    resized: bool


def crop_draw(seed: int, epoch: int, position: int, hw: tuple[int, int], size: int, aug_prob: float) -> Crop:
    """The crop of the sample at `position` of a resized image of size `hw`: torchvision's RandomResizedCrop
    (scale 0.5 to 1, ratio 0.98 to 1.02, ten tries, else the whole image cut to that ratio) with probability
    `aug_prob`, else its CenterCrop(size)."""
    rng = np.random.default_rng([seed, epoch, position, _STREAM])
    h, w = hw
    if rng.random() >= aug_prob:
        return Crop(int(round((h - size) / 2.0)), int(round((w - size) / 2.0)), size, size, False)
    log_ratio = (math.log(0.98), math.log(1.02))
    for _ in range(10):
        area = h * w * rng.uniform(0.5, 1.0)
        aspect = math.exp(rng.uniform(*log_ratio))
        cw, ch = int(round(math.sqrt(area * aspect))), int(round(math.sqrt(area / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            return Crop(int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1)), ch, cw, True)
    ratio = w / h
    cw, ch = (int(round(h * 1.02)), h) if ratio > 1.02 else (w, int(round(w / 0.98))) if ratio < 0.98 else (w, h)
    return Crop((h - ch) // 2, (w - cw) // 2, ch, cw, True)


class Stylegan2Outputs:
    """The source's columns and the graph's outputs."""

    columns = COLUMNS + ("idx",)
    graph_outputs = ("hq", "idx")


class Stylegan2Source(PlanSource):
    """One DALI row per image: its resized size and its crop."""

    outputs = Stylegan2Outputs()

    def _row(self, epoch: int, position: int, hw: tuple[int, int]) -> dict[str, Any]:
        options = self.cfg.options
        size = options.target_size
        resized = resized_size(hw, size)
        c = crop_draw(self.cfg.seed, epoch, position, resized, size, options.aug_prob)
        return {"resized_hw": np.array(resized, np.float32), "crop_anchor": np.array([c.left, c.top], np.int32),
                "crop_shape": np.array([c.w, c.h], np.int32), "final_hw": np.array([size, size], np.float32)}

    def _assemble(self, plan: EpochPlan, rows: slice) -> Batch:
        samples, images = [], []
        for i, position in zip(plan.indices[rows], plan.positions[rows]):
            store, key, value, hw = self.index.read(int(i))
            samples.append({"hq": value, **self._row(plan.epoch, int(position), hw)})
            images.append([(store, key)])
        return rows_batch(samples, images, COLUMNS, plan.indices[rows])

    def placeholder_columns(self) -> dict[str, Any]:
        size = self.cfg.options.target_size
        blank = np.frombuffer(encode(np.zeros((size, size, 3), np.uint8), "png", "placeholder"), np.uint8)
        return {"hq": [blank], **{k: [v] for k, v in self._row(0, 0, (size, size)).items()},
                "idx": np.full(1, -1, np.int64)}

    def collate(self, out: dict[str, Any]) -> dict[str, Any]:
        """DL-Art-School's batch: `lq` and `hq` (the same tensor) and `GT_path`."""
        idx = out.pop("idx").numpy().astype(np.int64).tolist()
        return {"lq": out["hq"], "hq": out["hq"], "GT_path": self.index.paths(idx)}


STYLEGAN2 = DatasetKind(TypeOptions(STYLEGAN2_KEYS, Stylegan2Options, needs_gt_size=False, makes_lq=False,
                                    prepare=_prepare), build_index, Stylegan2Source)
