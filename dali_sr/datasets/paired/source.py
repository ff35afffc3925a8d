"""External source of paired samples: bytes + integer crop windows + augment flags per batch.

Crop windows are computed here from the image headers (no decode): the LQ top-left is
drawn uniformly over the whole LQ image (inclusive bounds, as BasicSR's
`paired_random_crop`) and the GT window is exactly `scale` times the LQ window. Shape
checks happen here too, so a bad pair fails naming its files before DALI sees it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...config import Config
from ...errors import DatasetError
from ..degraded import chain_draws, draw_columns
from ..outputs import SourceOutputs, derived, flips, side
from ..plan import EpochPlan, Sampling
from ..source import Batch, PlanSource, read_value
from .index import PairedIndex


def paired_outputs(cfg: Config, index: PairedIndex) -> SourceOutputs:
    """Columns `lq`, `gt` (encoded bytes, or the RGB window of a raw side), windows, flags, `idx` (sample index).
    GT-only: no LQ column (the graph makes LQ from the GT window), and the GT window is drawn on the GT."""
    train = cfg.is_train
    lq = side("lq", ("lq",), index.lq_arrays is not None, train) if index.lq is not None else derived("lq")
    return SourceOutputs(lq=lq, gt=side("gt", ("gt",), index.gt_arrays is not None, train),
                         flips=flips(train, cfg.use_hflip, cfg.use_rot, cfg.use_vflip), training=train,
                         stacked=False, degradation=cfg.degradation, draws=draw_columns(cfg),
                         final_crop=cfg.crop_pad_size is not None, sharpen_gt=cfg.sharpen_gt, gt_usm=cfg.gt_usm,
                         yields_lq=index.lq is not None or cfg.degradation is not None,
                         stored_y=cfg.io_options.patch_shape is not None and cfg.io_options.patch_shape[2] == 1)


class PairedSource(PlanSource):
    """External source of pairs: one DALI row per pair."""

    def __init__(self, cfg: Config, index: PairedIndex, sampling: Sampling, start: tuple[int, int] = (0, 0)):
        super().__init__(cfg, index, sampling, start)
        self.outputs = paired_outputs(cfg, index)
        self.draws = chain_draws(cfg)

    def _read(self, i: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
        """LQ and GT values (encoded bytes, or pixel views for array sides) and the LQ (h, w)."""
        ix = self.index
        lq, lq_hw = read_value(ix.lq, ix.lq_keys[i], ix.lq_arrays)
        gt, gt_hw = read_value(ix.gt, ix.gt_keys[i], ix.gt_arrays)
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
        for j, i in enumerate(indices):
            key = ix.gt_keys[int(i)]
            row_images.append([(ix.gt, key)] if ix.gt_arrays is None else [])
            gt, (h, w) = read_value(ix.gt, key, ix.gt_arrays)
            name = f"GT {ix.gt.describe(key)} is"
            if self.draws is None:
                self._check_gt_only(name, (h, w), "remove it")
                gt_anchor[j], gt_shape[j] = self._gt_window(uniforms[j], h, w)
            else:
                self.draws.check_gt(name, (h, w))
                gt_anchor[j], gt_shape[j] = self.draws.window_of(uniforms[j], (h, w))
            gts.append(gt if ix.gt_arrays is None else ix.gt_arrays.cut(gt, gt_anchor[j], gt_shape[j]))
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
        for j, i in enumerate(indices):
            row_images.append([(store, keys[i]) for store, keys, arrays in
                               ((ix.lq, ix.lq_keys, ix.lq_arrays), (ix.gt, ix.gt_keys, ix.gt_arrays)) if arrays is None])
            lq, gt, (h, w) = self._read(int(i))
            lq_anchor[j], lq_shape[j] = self._window(uniforms[j], h, w)
            lqs += self._cut([lq], ix.lq_arrays, lq_anchor[j], lq_shape[j], gt=False)
            gts += self._cut([gt], ix.gt_arrays, lq_anchor[j], lq_shape[j], gt=True)
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
