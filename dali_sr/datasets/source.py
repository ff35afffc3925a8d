"""What every external source shares: a pure function from (epoch, batch number) to one batch of columns.

DALI calls a source with `BatchInfo` (`batch_info=True`); the source maps DALI's running iteration
count onto (epoch, batch) from the position the pipeline was built at, so one pipeline runs from
epoch to epoch without ever ending: nothing is drained or re-armed. Being pure, a source also runs
in DALI's parallel worker processes (`source_workers`), and any batch can be read again on the
training thread, which is how a failure is named.

A data problem found while reading batch k (a bad header, a window outside its image, a value
missing from an LMDB) does not raise inside DALI, where it would surface before the batches
prefetched ahead of it were delivered: the source serves a placeholder batch whose `idx` is -1, and
the loader, on reaching it, reads batch k again and raises that `DatasetError`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ..config import Config
from ..errors import DatasetError, named_errors
from ..storage.codecs import encode
from ..storage.headers import read_header, truncated
from ..storage.backends import Storage
from ..storage.raw_pixels import ArraySide
from .outputs import SourceOutputs
from .plan import EpochPlan, Sampling

Images = list[tuple[Storage, str]]  # the (storage, key) of each image a DALI row decodes


@dataclass(frozen=True)
class Batch:
    """One batch as the source reads it: its columns by name, and per DALI row the images it decodes."""

    columns: dict[str, Any]
    row_images: list[Images]


class PlanSource:
    """Callable for `fn.external_source(batch=True, batch_info=True, num_outputs=len(outputs.columns))`.

    Subclasses set `outputs` and implement `_assemble(plan, rows) -> Batch` (recording in `row_images` only
    the images DALI decodes) and `collate`.
    `start` is the (epoch, batch) DALI's first iteration delivers.
    """

    outputs: SourceOutputs
    idx_shape: tuple[int, ...] = (1,)  # the `idx` column of a placeholder batch

    def __init__(self, cfg: Config, index: Any, sampling: Sampling, start: tuple[int, int] = (0, 0)):
        self.cfg, self.index, self.sampling = cfg, index, sampling
        self.start = start
        self.patch = cfg.gt_size // cfg.scale if cfg.is_train and cfg.gt_size is not None else None

    # -- the external source ----------------------------------------------------------------
    def position(self, iteration: int) -> tuple[int, int]:
        """(epoch, batch) of DALI's `iteration` (counted from the pipeline's start, across epochs)."""
        return self.sampling.locate(self.start, iteration)

    def __call__(self, info: Any) -> tuple:
        epoch, batch = self.position(info.iteration)
        try:
            return self.read_batch(epoch, batch)
        except DatasetError:
            return self.placeholder()

    def read_batch(self, epoch: int, batch: int) -> tuple:
        """The columns of `batch` of `epoch`, in `outputs.columns` order; `DatasetError` for bad data."""
        columns = self.assemble(epoch, batch).columns
        return tuple(columns[name] for name in self.outputs.columns)

    def assemble(self, epoch: int, batch: int) -> Batch:
        plan = self.sampling.plan(epoch)
        with named_errors(self.index.name):
            return self._assemble(plan, plan.batch(batch))

    def _assemble(self, plan: EpochPlan, rows: slice) -> Batch:
        raise NotImplementedError

    def collate(self, out: dict[str, Any]) -> dict[str, Any]:
        """A DALI batch -> the batch the loader yields (names added from `idx`)."""
        raise NotImplementedError

    @property
    def rows_per_batch(self) -> int:
        """The most DALI rows one batch can have (the pipeline's batch size)."""
        return self.cfg.batch_size

    # -- failures ---------------------------------------------------------------------------
    def placeholder(self) -> tuple:
        """A one-row batch that flows through the graph untouched by the failure: blank images of the
        window's size, windows at the origin, no flips, and `idx` -1."""
        columns = self.placeholder_columns()
        return tuple(columns[name] for name in self.outputs.columns)

    def placeholder_sizes(self) -> dict[str, int]:
        """The side of each image side's blank placeholder image."""
        lq_side = self.patch or 1
        return {"lq": lq_side, "gt": lq_side * self.cfg.scale}

    def placeholder_columns(self) -> dict[str, Any]:
        sizes = self.placeholder_sizes()
        columns: dict[str, Any] = {"idx": np.full(self.idx_shape, -1, np.int64)}
        for image_side in (self.outputs.lq, self.outputs.gt):
            n = sizes[image_side.name]
            blank = np.zeros((n, n, 3), np.uint8)
            value = blank if image_side.pixels else np.frombuffer(encode(blank, "png", "placeholder"), np.uint8)
            columns.update({c: [value] for c in image_side.columns})
            columns[image_side.anchor] = np.zeros((1, 2), np.int32)
            columns[image_side.shape] = np.full((1, 2), n, np.int32)
        columns.update(hflip=np.zeros(1, np.int32), vflip=np.zeros(1, np.int32), transpose=np.zeros(1, bool))
        return columns

    def suspects(self, epoch: int, batch: int, row: Optional[int]) -> list[tuple[str, np.ndarray]]:
        """(name, stored bytes) of the encoded images of DALI row `row` of the batch (all rows if None)."""
        rows = self.assemble(epoch, batch).row_images
        chosen = [rows[row]] if row is not None and row < len(rows) else rows
        return [(store.describe(key), store.get(key)) for images in chosen for store, key in images]

    # -- windows and checks -----------------------------------------------------------------
    def _window(self, uniform: np.ndarray, h: int, w: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """(anchor (x, y), shape (w, h)) of the LQ window: drawn over the whole LQ image in training
        (bounds included, as BasicSR's `paired_random_crop`), the whole image otherwise."""
        if self.patch is None:
            return (0, 0), (w, h)
        return (int(uniform[1] * (w - self.patch + 1)), int(uniform[0] * (h - self.patch + 1))), (self.patch,
                                                                                                  self.patch)

    def _check_gt(self, gt: str, lq: str, lq_hw: tuple[int, int], gt_hw: tuple[int, int]) -> None:
        """GT of size `gt_hw` must be `scale` x the LQ; outside training, BasicSR cuts GT to LQ x scale, so a GT
        side may also exceed it by less than `scale` (benchmark sides that do not divide), never more.

        `gt` / `lq` name the images in the message, e.g. "GT frame key '...'" and "LQ frames of clip 001 are".
        """
        s = self.cfg.scale
        want = (lq_hw[0] * s, lq_hw[1] * s)
        if self.cfg.is_train:
            ok = gt_hw == want
        else:
            ok = all(w <= g < w + s for g, w in zip(gt_hw, want))
        if not ok:
            slack = "" if self.cfg.is_train else f" to {want[0] + s - 1}x{want[1] + s - 1}"
            raise DatasetError(f"{self.index.name}: {gt} is {gt_hw[0]}x{gt_hw[1]} but {lq} {lq_hw[0]}x{lq_hw[1]}; "
                               f"GT must be scale {s} x LQ ({want[0]}x{want[1]}{slack}): check scale and the LQ/GT "
                               f"folders")

    def _check_patch(self, lq: str, lq_hw: tuple[int, int], remedy: str) -> None:
        """In training, LQ of size `lq_hw` (named by `lq`, "... is"/"... are") must hold the LQ patch."""
        if self.patch is not None and (lq_hw[0] < self.patch or lq_hw[1] < self.patch):
            raise DatasetError(f"{self.index.name}: {lq} {lq_hw[0]}x{lq_hw[1]}, smaller than the LQ patch "
                               f"{self.patch}x{self.patch} (gt_size {self.cfg.gt_size} / scale {self.cfg.scale}); "
                               f"{remedy} or lower gt_size")

    def _cut(self, values: list, arrays: Any, anchor, shape, gt: bool) -> list:
        """Values of a pixel side (`arrays`: an `ArraySide`, or anything with its `cut`, e.g. images the source
        decoded) cut to the LQ window (`scale` x it for GT); encoded values (`arrays` None) as they are."""
        if arrays is None:
            return values
        s = self.cfg.scale if gt else 1
        return [arrays.cut(v, (anchor[0] * s, anchor[1] * s), (shape[0] * s, shape[1] * s)) for v in values]

    def _gt_window(self, uniform: np.ndarray, h: int, w: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """(anchor (x, y), shape (w, h)) of a GT-only sample's GT window: `gt_size` square drawn over the whole GT
        image in training (bounds included); else (or without `gt_size`) the whole image, cut to multiples of the
        scale."""
        if self.patch is not None:
            g = self.cfg.gt_size
            return (int(uniform[1] * (w - g + 1)), int(uniform[0] * (h - g + 1))), (g, g)
        s = self.cfg.scale
        return (0, 0), (w - w % s, h - h % s)

    def _check_gt_only(self, gt: str, gt_hw: tuple[int, int], remedy: str) -> None:
        """A GT-only GT image (named by `gt`, "... is"/"... are") must hold the GT patch, or one LQ pixel."""
        need = self.cfg.gt_size if self.patch is not None else self.cfg.scale
        if gt_hw[0] < need or gt_hw[1] < need:
            what = f"the GT patch {need}x{need} (gt_size)" if self.patch is not None else f"scale {need}"
            raise DatasetError(f"{self.index.name}: {gt} {gt_hw[0]}x{gt_hw[1]}, smaller than {what}; {remedy} or "
                               f"lower gt_size")

    def _flags(self, flags: np.ndarray) -> dict[str, Any]:
        return {"hflip": (flags[:, 0] & self.cfg.use_hflip).astype(np.int32),  # use_rot alone never flips horizontally
                "vflip": flags[:, 1].astype(np.int32), "transpose": flags[:, 2].copy()}

    def _windows_and_flags(self, lq_anchor: np.ndarray, lq_shape: np.ndarray, flags: np.ndarray) -> dict[str, Any]:
        """The window columns of both sides (GT = `scale` x LQ) and the flag columns, for every row."""
        s = self.cfg.scale
        return {"lq_anchor": lq_anchor, "lq_shape": lq_shape, "gt_anchor": lq_anchor * s, "gt_shape": lq_shape * s,
                **self._flags(flags)}


def read_value(store: Storage, key: str, arrays: Optional[ArraySide]) -> tuple[np.ndarray, tuple[int, int]]:
    """A stored value and its (h, w): encoded bytes (size from the header) or, on array sides, a pixel view.

    `DatasetError` naming the value for an unsupported or bad header and for a visibly truncated file.
    """
    value = store.get(key)
    name = store.describe(key)
    if arrays is not None:
        pixels = arrays.view(value, name)
        return pixels, pixels.shape[:2]
    header = read_header(value, name)
    if truncated(value, header):
        raise DatasetError(f"{name}: truncated {header.codec.upper()} (its end is missing); re-create the file")
    return value, (header.height, header.width)
