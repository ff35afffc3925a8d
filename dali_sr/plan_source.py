"""What every external source shares: serving an epoch plan batch by batch, windows, outputs, suspects.

A source subclass reads its samples in `_assemble(batch_no, plan, rows)` and records, per
DALI row, the (storage, key) of every image it fed, so a failed decode can be traced back.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Optional, Sequence

import numpy as np

from .config import Config
from .epoch_plan import EpochPlan
from .errors import DatasetError, named_errors
from .image_header import read_header
from .storage import Storage
from .stored_arrays import ArraySide


class PlanSource:
    """Callable for `fn.external_source(batch=True, num_outputs=len(names))`; one batch per call.

    `names`: the subclass's image outputs, then for training `lq_anchor`, `lq_shape`,
    `gt_anchor`, `gt_shape` ((x, y) / (w, h) pixels) and the flags augmentation uses
    (`hflip`, `vflip`, `transpose`); outside training `gt_shape` (LQ size x scale); then `idx`.
    Windows are left out for array sides, whose values the source cuts itself.
    """

    def __init__(self, cfg: Config, index: Any, image_names: Sequence[str]):
        self.cfg, self.index = cfg, index
        self.patch = cfg.gt_size // cfg.scale if cfg.is_train else None
        self.plan: Optional[EpochPlan] = None
        self.next_batch = 0
        self.fed: deque = deque(maxlen=16)  # (batch number, per DALI row the (storage, key) of its images)
        self.error: Optional[DatasetError] = None
        names = list(image_names)
        lq_decoded, gt_decoded = index.lq_arrays is None, index.gt_arrays is None  # array sides arrive cut
        if cfg.is_train:
            names += (["lq_anchor", "lq_shape"] if lq_decoded else []) + (["gt_anchor", "gt_shape"] if gt_decoded else [])
            names += (["hflip"] if cfg.use_hflip or cfg.use_rot else []) + (["vflip", "transpose"] if cfg.use_rot else [])
        elif gt_decoded:
            names += ["gt_shape"]
        self.names = tuple(names + ["idx"])

    def start(self, plan: EpochPlan, batch: int = 0) -> None:
        """Serve `plan` from batch number `batch` on."""
        self.plan, self.next_batch, self.error = plan, batch, None
        self.fed.clear()

    def __call__(self):
        plan = self.plan
        if plan is None or self.next_batch >= len(plan):
            raise StopIteration
        batch_no, rows = self.next_batch, plan.batch(self.next_batch)
        self.next_batch += 1
        try:
            with named_errors(self.index.name):
                return self._assemble(batch_no, plan, rows)
        except DatasetError as e:
            self.error = e
            raise

    def _assemble(self, batch_no: int, plan: EpochPlan, rows: slice) -> tuple:
        raise NotImplementedError

    def _window(self, uniform: np.ndarray, h: int, w: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """(anchor (x, y), shape (w, h)) of the LQ window: drawn over the whole LQ image in training
        (bounds included, as BasicSR's `paired_random_crop`), the whole image otherwise."""
        if self.patch is None:
            return (0, 0), (w, h)
        return (int(uniform[1] * (w - self.patch + 1)), int(uniform[0] * (h - self.patch + 1))), (self.patch,
                                                                                                  self.patch)

    def _check_gt(self, gt: str, lq: str, lq_hw: tuple[int, int], gt_hw: tuple[int, int]) -> None:
        """GT of size `gt_hw` must be `scale` x the LQ (at least that outside training, where it is cut to it).

        `gt` / `lq` name the images in the message, e.g. "GT frame key '...'" and "LQ frames of clip 001 are".
        """
        s = self.cfg.scale
        want = (lq_hw[0] * s, lq_hw[1] * s)
        if gt_hw != want if self.cfg.is_train else (gt_hw[0] < want[0] or gt_hw[1] < want[1]):
            raise DatasetError(f"{self.index.name}: {gt} is {gt_hw[0]}x{gt_hw[1]} but {lq} {lq_hw[0]}x{lq_hw[1]}; "
                               f"GT must be scale {s} x LQ ({want[0]}x{want[1]}): check scale and the LQ/GT folders")

    def _check_patch(self, lq: str, lq_hw: tuple[int, int], remedy: str) -> None:
        """In training, LQ of size `lq_hw` (named by `lq`, "... is"/"... are") must hold the LQ patch."""
        if self.patch is not None and (lq_hw[0] < self.patch or lq_hw[1] < self.patch):
            raise DatasetError(f"{self.index.name}: {lq} {lq_hw[0]}x{lq_hw[1]}, smaller than the LQ patch "
                               f"{self.patch}x{self.patch} (gt_size {self.cfg.gt_size} / scale {self.cfg.scale}); "
                               f"{remedy} or lower gt_size")

    def _cut(self, values: list, arrays: Optional[ArraySide], anchor, shape, gt: bool) -> list:
        """Values of an array side cut to the LQ window (`scale` x it for GT); encoded values as they are."""
        if arrays is None:
            return values
        s = self.cfg.scale if gt else 1
        return [arrays.cut(v, (anchor[0] * s, anchor[1] * s), (shape[0] * s, shape[1] * s)) for v in values]

    def _outputs(self, images: dict[str, Any], lq_anchor: np.ndarray, lq_shape: np.ndarray, flags: np.ndarray,
                 idx: np.ndarray) -> tuple:
        """The batch in `names` order; the GT window is `scale` x the LQ window."""
        s = self.cfg.scale
        out = dict(images, lq_anchor=lq_anchor, lq_shape=lq_shape, gt_anchor=lq_anchor * s, gt_shape=lq_shape * s,
                   hflip=(flags[:, 0] & self.cfg.use_hflip).astype(np.int32),  # use_rot alone never flips horizontally
                   vflip=flags[:, 1].astype(np.int32), transpose=flags[:, 2].copy(), idx=idx)
        return tuple(out[name] for name in self.names)

    def suspects(self, batch_no: int, row: Optional[int]) -> list[tuple[str, np.ndarray]]:
        """(name, stored bytes) of the images of DALI row `row` of batch `batch_no` (all rows if None)."""
        rows = dict(self.fed).get(batch_no)
        if rows is None:
            return []
        decoded = [store for store, arrays in ((self.index.lq, self.index.lq_arrays),
                                                (self.index.gt, self.index.gt_arrays)) if arrays is None]
        chosen = [rows[row]] if row is not None and row < len(rows) else rows
        return [(store.describe(key), store.get(key)) for images in chosen for store, key in images
                if any(store is d for d in decoded)]


def read_value(store: Storage, key: str, arrays: Optional[ArraySide]) -> tuple[np.ndarray, tuple[int, int]]:
    """A stored value and its (h, w): encoded bytes (size from the header) or, on array sides, a pixel view."""
    value = store.get(key)
    if arrays is not None:
        pixels = arrays.view(value, store.describe(key))
        return pixels, pixels.shape[:2]
    header = read_header(value, store.describe(key))
    return value, (header.height, header.width)
