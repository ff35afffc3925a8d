"""External source of paired samples: bytes + integer crop windows + augment flags per batch.

Crop windows are computed here from the image headers (no decode): the LQ top-left is
drawn uniformly over the whole LQ image (inclusive bounds, as BasicSR's
`paired_random_crop`) and the GT window is exactly `scale` times the LQ window. Shape
checks happen here too, so a bad pair fails naming its files before DALI sees it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .config import Config
from .epoch_plan import EpochPlan
from .errors import DatasetError
from .paired_index import PairedIndex
from .plan_source import PlanSource, read_value


class PairedSource(PlanSource):
    """External source of pairs: outputs `lq`, `gt` (encoded bytes, or the RGB window for array sides),
    the window and flag outputs of `PlanSource`, and `idx` (dataset index, to map back to paths).
    """

    def __init__(self, cfg: Config, index: PairedIndex):
        super().__init__(cfg, index, ("lq", "gt"))

    @property
    def rows_per_batch(self) -> int:
        """The pipeline's batch size: one DALI row per pair."""
        return self.cfg.batch_size

    def _read(self, i: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
        """LQ and GT values (encoded bytes, or pixel views for array sides) and the LQ (h, w)."""
        ix = self.index
        lq, lq_hw = read_value(ix.lq, ix.lq_keys[i], ix.lq_arrays)
        gt, gt_hw = read_value(ix.gt, ix.gt_keys[i], ix.gt_arrays)
        self._check_shapes(i, lq_hw, gt_hw)
        return lq, gt, lq_hw

    def _check_shapes(self, i: int, lq_hw: tuple[int, int], gt_hw: tuple[int, int]) -> None:
        ix = self.index
        lq = f"LQ {ix.lq.describe(ix.lq_keys[i])} is"
        self._check_gt(f"GT {ix.gt.describe(ix.gt_keys[i])}", lq, lq_hw, gt_hw)
        self._check_patch(lq, lq_hw, "remove it")

    def _assemble(self, batch_no: int, plan: EpochPlan, rows: slice) -> tuple:
        indices, uniforms, ix = plan.indices[rows], plan.uniforms[rows], self.index
        self.fed.append((batch_no, [[(ix.lq, ix.lq_keys[i]), (ix.gt, ix.gt_keys[i])] for i in indices]))
        n = len(indices)
        lqs, gts = [], []
        lq_anchor = np.zeros((n, 2), np.int32)
        lq_shape = np.zeros((n, 2), np.int32)
        for j, i in enumerate(indices):
            lq, gt, (h, w) = self._read(int(i))
            lq_anchor[j], lq_shape[j] = self._window(uniforms[j], h, w)
            lqs += self._cut([lq], ix.lq_arrays, lq_anchor[j], lq_shape[j], gt=False)
            gts += self._cut([gt], ix.gt_arrays, lq_anchor[j], lq_shape[j], gt=True)
        if self.patch is None and n > 1 and (lq_shape != lq_shape[0]).any():
            j = int(np.flatnonzero((lq_shape != lq_shape[0]).any(axis=1))[0])
            names = ix.paths([int(indices[0]), int(indices[j])])["lq_path"]
            raise DatasetError(f"{ix.name}: validation batch mixes image sizes ({names[0]} and {names[1]}); "
                               f"use batch_size_per_gpu: 1 for whole-image validation")
        return self._outputs({"lq": lqs, "gt": gts}, lq_anchor, lq_shape, plan.flips[rows], indices.astype(np.int64))

    def collate(self, out: dict[str, Any]) -> dict[str, Any]:
        """Add BasicSR's `lq_path` / `gt_path` to a DALI batch."""
        idx = out.pop("idx").numpy().astype(np.int64).tolist()
        out.update(self.index.paths(idx))
        return out

