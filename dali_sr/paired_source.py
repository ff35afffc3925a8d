"""External source of paired samples: bytes + integer crop windows + augment flags per batch.

Crop windows are computed here from the image headers (no decode): the LQ top-left is
drawn uniformly over the whole LQ image (inclusive bounds, as BasicSR's
`paired_random_crop`) and the GT window is exactly `scale` times the LQ window. Shape
checks happen here too, so a bad pair fails naming its files before DALI sees it.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Optional

import numpy as np

from .config import Config
from .epoch_plan import EpochPlan
from .errors import DatasetError, named_errors
from .image_header import read_header
from .paired_index import PairedIndex

class PairedSource:
    """Callable for `fn.external_source(batch=True, num_outputs=len(names))`; one batch per call.

    Outputs, in `names` order: `lq`, `gt` (encoded bytes, or RGB arrays for raw LMDBs),
    then for training `lq_anchor`, `lq_shape`, `gt_anchor` ((x, y) / (w, h) pixels) and
    the flags `hflip`, `vflip`, `transpose` that augmentation uses; for validation
    `gt_shape` (LQ size x scale); always `idx` (dataset index, to map back to paths).
    """

    def __init__(self, cfg: Config, index: PairedIndex):
        self.cfg = cfg
        self.index = index
        self.patch = cfg.gt_size // cfg.scale if cfg.is_train else None
        self.plan: Optional[EpochPlan] = None
        self.next_batch = 0
        self.fed: deque = deque(maxlen=16)  # (batch number, dataset indices) of recent calls
        self.error: Optional[DatasetError] = None
        names = ["lq", "gt"]
        if cfg.is_train:
            names += ["lq_anchor", "lq_shape", "gt_anchor", "gt_shape"]
            names += (["hflip"] if cfg.use_hflip or cfg.use_rot else []) + (["vflip", "transpose"] if cfg.use_rot else [])
        else:
            names += ["gt_shape"]
        self.names = tuple(names + ["idx"])

    @property
    def rows_per_batch(self) -> int:
        """The pipeline's batch size: one DALI row per pair."""
        return self.cfg.batch_size

    def start(self, plan: EpochPlan, batch: int = 0) -> None:
        """Serve `plan` from batch number `batch` on."""
        self.plan, self.next_batch, self.error = plan, batch, None
        self.fed.clear()

    def _read(self, i: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
        ix = self.index
        lq_key, gt_key = ix.lq_keys[i], ix.gt_keys[i]
        lq, gt = ix.lq.get(lq_key), ix.gt.get(gt_key)
        if ix.raw:
            lq, lq_hw = raw_rgb(lq, ix.lq_raw_shape, ix.lq.describe(lq_key))
            gt, gt_hw = raw_rgb(gt, ix.gt_raw_shape, ix.gt.describe(gt_key))
        else:
            lq_h = read_header(lq, ix.lq.describe(lq_key))
            gt_h = read_header(gt, ix.gt.describe(gt_key))
            lq_hw, gt_hw = (lq_h.height, lq_h.width), (gt_h.height, gt_h.width)
        self._check_shapes(i, lq_hw, gt_hw)
        return lq, gt, lq_hw

    def _check_shapes(self, i: int, lq_hw: tuple[int, int], gt_hw: tuple[int, int]) -> None:
        s, ix = self.cfg.scale, self.index
        want = (lq_hw[0] * s, lq_hw[1] * s)
        bad = gt_hw != want if self.cfg.is_train else (gt_hw[0] < want[0] or gt_hw[1] < want[1])
        if bad:
            raise DatasetError(f"{ix.name}: GT {ix.gt.describe(ix.gt_keys[i])} is {gt_hw[0]}x{gt_hw[1]} but LQ "
                               f"{ix.lq.describe(ix.lq_keys[i])} is {lq_hw[0]}x{lq_hw[1]}; GT must be scale {s} x LQ "
                               f"({want[0]}x{want[1]}): check scale and the LQ/GT folders")
        if self.patch is not None and (lq_hw[0] < self.patch or lq_hw[1] < self.patch):
            raise DatasetError(f"{ix.name}: LQ {ix.lq.describe(ix.lq_keys[i])} is {lq_hw[0]}x{lq_hw[1]}, smaller than the "
                               f"LQ patch {self.patch}x{self.patch} (gt_size {self.cfg.gt_size} / scale {s}); "
                               f"remove it or lower gt_size")

    def __call__(self):
        plan = self.plan
        if plan is None or self.next_batch >= len(plan):
            raise StopIteration
        rows = plan.batch(self.next_batch)
        indices = plan.indices[rows]
        self.fed.append((self.next_batch, indices))
        self.next_batch += 1
        try:
            with named_errors(self.index.name):
                return self._assemble(indices, plan.uniforms[rows], plan.flips[rows])
        except DatasetError as e:
            self.error = e
            raise

    def _assemble(self, indices: np.ndarray, uniforms: np.ndarray, flips: np.ndarray) -> tuple:
        n, s = len(indices), self.cfg.scale
        lqs, gts = [], []
        lq_anchor = np.zeros((n, 2), np.int32)
        lq_shape = np.zeros((n, 2), np.int32)
        for j, i in enumerate(indices):
            lq, gt, (h, w) = self._read(int(i))
            lqs.append(lq)
            gts.append(gt)
            if self.patch is None:  # validation: whole LQ, GT cut to LQ x scale
                lq_shape[j] = (w, h)
            else:
                top = int(uniforms[j, 0] * (h - self.patch + 1))
                left = int(uniforms[j, 1] * (w - self.patch + 1))
                lq_anchor[j] = (left, top)
                lq_shape[j] = (self.patch, self.patch)
        if self.patch is None and n > 1 and (lq_shape != lq_shape[0]).any():
            j = int(np.flatnonzero((lq_shape != lq_shape[0]).any(axis=1))[0])
            names = self.index.paths([int(indices[0]), int(indices[j])])["lq_path"]
            raise DatasetError(f"{self.index.name}: validation batch mixes image sizes ({names[0]} and {names[1]}); "
                               f"use batch_size_per_gpu: 1 for whole-image validation")
        hflip = flips[:, 0] & self.cfg.use_hflip  # with only use_rot, BasicSR never flips horizontally
        out = {"lq": lqs, "gt": gts, "lq_anchor": lq_anchor, "lq_shape": lq_shape, "gt_anchor": lq_anchor * s,
               "gt_shape": lq_shape * s, "hflip": hflip.astype(np.int32),
               "vflip": flips[:, 1].astype(np.int32), "transpose": flips[:, 2].copy(), "idx": indices.astype(np.int64)}
        return tuple(out[name] for name in self.names)


    def suspects(self, batch_no: int, row: Optional[int]) -> list[tuple[str, np.ndarray]]:
        """(name, stored bytes) of the images of row `row` of batch `batch_no` (all rows if None)."""
        indices = dict(self.fed).get(batch_no)
        if indices is None or self.index.raw:
            return []
        chosen = [indices[row]] if row is not None and row < len(indices) else indices
        return [item for i in chosen for item in self.index.encoded(int(i))]

    def collate(self, out: dict[str, Any]) -> dict[str, Any]:
        """Add BasicSR's `lq_path` / `gt_path` to a DALI batch."""
        idx = out.pop("idx").numpy().astype(np.int64).tolist()
        out.update(self.index.paths(idx))
        return out


def raw_rgb(value: np.ndarray, shape: tuple[int, int, int], name: str) -> tuple[np.ndarray, tuple[int, int]]:
    """An old EDVR raw value (HWC BGR uint8 bytes) as a contiguous HWC RGB array."""
    h, w, c = shape
    if value.size != h * w * c:
        raise DatasetError(f"{name}: raw value has {value.size} bytes, not {h}x{w}x{c} from meta_info.pkl; "
                           f"the LMDB is corrupt, re-create it")
    img = value.reshape(h, w, c)
    img = np.repeat(img, 3, axis=2) if c == 1 else img[:, :, 2::-1]
    return np.ascontiguousarray(img), (h, w)
