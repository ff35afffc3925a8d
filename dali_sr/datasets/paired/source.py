"""External source of paired samples: bytes + integer crop windows + augment flags per batch.

Crop windows are computed here from the image headers (no decode): the LQ top-left is
drawn uniformly over the whole LQ image (inclusive bounds, as BasicSR's
`paired_random_crop`) and the GT window is exactly `scale` times the LQ window. Shape
checks happen here too, so a bad pair fails naming its files before DALI sees it.

With `patches_per_image` > 1 the source decodes the encoded sides itself, keeps the decoded images
for the windows that follow (`decoded.DecodedImages`) and hands DALI the windows as pixels.
"""
from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from ...config import Config
from ...errors import DatasetError
from ...storage.backends import Storage
from ...storage.raw_pixels import ArraySide
from ..decoded import DecodedImages
from ..degraded import chain_draws, draw_columns
from ..outputs import SourceOutputs, derived, flips, side
from ..plan import IMAGES_PER_GROUP, EpochPlan, Sampling
from ..source import Batch, PlanSource, read_value
from .index import PairedIndex


def paired_outputs(cfg: Config, index: PairedIndex) -> SourceOutputs:
    """Columns `lq`, `gt` (encoded bytes, or the RGB window of a raw side), windows, flags, `idx` (sample index).
    GT-only: no LQ column (the graph makes LQ from the GT window), and the GT window is drawn on the GT.
    With `patches_per_image` > 1 both sides are windows of pixels (the source decodes)."""
    train = cfg.is_train
    many = cfg.patches_per_image > 1
    lq = side("lq", ("lq",), many or index.lq_arrays is not None, train) if index.lq is not None else derived("lq")
    return SourceOutputs(lq=lq, gt=side("gt", ("gt",), many or index.gt_arrays is not None, train),
                         flips=flips(train, cfg.use_hflip, cfg.use_rot, cfg.use_vflip), training=train,
                         stacked=False, degradation=cfg.degradation, draws=draw_columns(cfg),
                         final_crop=cfg.crop_pad_size is not None, sharpen_gt=cfg.sharpen_gt, gt_usm=cfg.gt_usm,
                         yields_lq=index.lq is not None or cfg.degradation is not None,
                         stored_y=cfg.io_options.patch_shape is not None and cfg.io_options.patch_shape[2] == 1)


Pixels = Optional[Union[ArraySide, DecodedImages]]  # how a side's values become pixels (None: DALI decodes them)


def _pixels(cfg: Config, store: Optional[Storage], arrays: Optional[ArraySide]) -> Pixels:
    """A side's stored pixels, or with `patches_per_image` > 1 its images decoded by the source."""
    if arrays is not None or store is None or cfg.patches_per_image == 1:
        return arrays
    return DecodedImages(store, 2 * IMAGES_PER_GROUP, cfg.num_threads)


class PairedSource(PlanSource):
    """External source of pairs: one DALI row per pair."""

    def __init__(self, cfg: Config, index: PairedIndex, sampling: Sampling, start: tuple[int, int] = (0, 0)):
        super().__init__(cfg, index, sampling, start)
        self.outputs = paired_outputs(cfg, index)
        self.draws = chain_draws(cfg)
        self.lq_pixels = _pixels(cfg, index.lq, index.lq_arrays)
        self.gt_pixels = _pixels(cfg, index.gt, index.gt_arrays)

    @staticmethod
    def _value(store: Storage, key: str, pixels: Pixels) -> tuple[np.ndarray, tuple[int, int]]:
        """A stored value (or its pixels) and its (h, w)."""
        if isinstance(pixels, DecodedImages):
            return pixels.read(key)
        return read_value(store, key, pixels)

    def _decode(self, indices: np.ndarray) -> None:
        """Decode together the images of a batch's rows that the sources' kept images lack."""
        for pixels, keys in ((self.lq_pixels, self.index.lq_keys), (self.gt_pixels, self.index.gt_keys)):
            if isinstance(pixels, DecodedImages):
                pixels.load(keys[int(i)] for i in indices)

    def _read(self, i: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
        """LQ and GT values (encoded bytes, or pixel views for array and decoded sides) and the LQ (h, w)."""
        ix = self.index
        lq, lq_hw = self._value(ix.lq, ix.lq_keys[i], self.lq_pixels)
        gt, gt_hw = self._value(ix.gt, ix.gt_keys[i], self.gt_pixels)
        lq_name = f"LQ {ix.lq.describe(ix.lq_keys[i])} is"
        self._check_gt(f"GT {ix.gt.describe(ix.gt_keys[i])}", lq_name, lq_hw, gt_hw)
        self._check_patch(lq_name, lq_hw, "remove it")
        return lq, gt, lq_hw

    def _assemble_gt_only(self, plan: EpochPlan, rows: slice) -> Batch:
        """GT windows drawn on the GT images; the graph makes LQ from them (with a chain's draws)."""
        indices, uniforms, ix = plan.indices[rows], plan.uniforms[rows], self.index
        n = len(indices)
        gts, row_images = [], []
        gt_anchor = np.zeros((n, 2), np.int32)
        gt_shape = np.zeros((n, 2), np.int32)
        self._decode(indices)
        for j, i in enumerate(indices):
            key = ix.gt_keys[int(i)]
            row_images.append([(ix.gt, key)] if self.gt_pixels is None else [])
            gt, (h, w) = self._value(ix.gt, key, self.gt_pixels)
            name = f"GT {ix.gt.describe(key)} is"
            if self.draws is None:
                self._check_gt_only(name, (h, w), "remove it")
                gt_anchor[j], gt_shape[j] = self._gt_window(uniforms[j], h, w)
            else:
                self.draws.check_gt(name, (h, w))
                gt_anchor[j], gt_shape[j] = self.draws.window_of(uniforms[j], (h, w))
            gts.append(gt if self.gt_pixels is None else self.gt_pixels.cut(gt, gt_anchor[j], gt_shape[j]))
        self._check_one_size(gt_shape, indices, "gt_path")
        flags = self._flags(plan.flips[rows])
        columns = {"gt": gts, "gt_anchor": gt_anchor, "gt_shape": gt_shape, "idx": indices.astype(np.int64), **flags}
        if self.draws is not None:
            transposed = flags["transpose"] & ("transpose" in self.outputs.flips)
            columns.update(self.draws.rows(plan.epoch, plan.positions[rows], gt_shape, transposed))
        return Batch(columns, row_images)

    def placeholder_sizes(self) -> dict[str, int]:
        sizes = super().placeholder_sizes()
        return sizes if self.draws is None else {**sizes, "gt": self.draws.window}

    def placeholder_columns(self) -> dict[str, Any]:
        columns = super().placeholder_columns()
        if self.draws is not None:
            columns.update(self.draws.placeholder_rows())
        return columns

    def _check_one_size(self, shapes: np.ndarray, indices: np.ndarray, named: str) -> None:
        """Whole-image validation batches must hold images of one size (named by their `named` paths)."""
        if self.patch is None and len(indices) > 1 and (shapes != shapes[0]).any():
            j = int(np.flatnonzero((shapes != shapes[0]).any(axis=1))[0])
            names = self.index.paths([int(indices[0]), int(indices[j])])[named]
            raise DatasetError(f"{self.index.name}: validation batch mixes image sizes ({names[0]} and {names[1]}); "
                               f"use batch_size_per_gpu: 1 for whole-image validation")

    def _assemble(self, plan: EpochPlan, rows: slice) -> Batch:
        if self.index.lq is None:
            return self._assemble_gt_only(plan, rows)
        indices, uniforms, ix = plan.indices[rows], plan.uniforms[rows], self.index
        n = len(indices)
        lqs, gts, row_images = [], [], []
        lq_anchor = np.zeros((n, 2), np.int32)
        lq_shape = np.zeros((n, 2), np.int32)
        self._decode(indices)
        for j, i in enumerate(indices):
            row_images.append([(store, keys[i]) for store, keys, pixels in
                               ((ix.lq, ix.lq_keys, self.lq_pixels), (ix.gt, ix.gt_keys, self.gt_pixels))
                               if pixels is None])
            lq, gt, (h, w) = self._read(int(i))
            lq_anchor[j], lq_shape[j] = self._window(uniforms[j], h, w)
            lqs += self._cut([lq], self.lq_pixels, lq_anchor[j], lq_shape[j], gt=False)
            gts += self._cut([gt], self.gt_pixels, lq_anchor[j], lq_shape[j], gt=True)
        self._check_one_size(lq_shape, indices, "lq_path")
        columns = {"lq": lqs, "gt": gts, "idx": indices.astype(np.int64),
                   **self._windows_and_flags(lq_anchor, lq_shape, plan.flips[rows])}
        return Batch(columns, row_images)

    def collate(self, out: dict[str, Any]) -> dict[str, Any]:
        """Add BasicSR's `lq_path` / `gt_path` (`gt_path` alone for GT alone) to a DALI batch."""
        idx = out.pop("idx").numpy().astype(np.int64).tolist()
        paths = self.index.paths(idx)
        if not self.outputs.yields_lq:
            del paths["lq_path"]
        out.update(paths)
        return out
