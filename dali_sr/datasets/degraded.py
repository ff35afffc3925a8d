"""The source's side of a degradation chain: per-sample draws, and the window and crop a chain works on.

Each sample's draws come from its own generator, seeded by (seed, epoch, the sample's slot in the epoch),
so they are the same on every rank count, thread count and resume. A chain degrades the GT window
(`gt_size`, or `crop_pad_size` when larger, as Real-ESRGAN degrades 400 x 400 windows) and the graph then
crops the `gt_size` patch and its LQ patch at `crop_anchor`, drawn here too. A GT side shorter than the
window is mirrored in at its bottom / right end (BasicSR's `copyMakeBorder(BORDER_REFLECT_101)`).
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..config import Config
from ..degrade.chain import Chain
from ..degrade.draws import chain_columns, draw_sample
from ..errors import DatasetError

_STREAM = 0x5EED_DE6  # tells a sample's degradation generator apart from any other use of its seed


def draw_columns(cfg: Config) -> tuple[str, ...]:
    """The draw columns of `cfg`'s chain (none for bicubic or stored LQ)."""
    chain = cfg.degradation
    return () if chain is None or chain.is_bicubic else chain_columns(chain)


def window_size(cfg: Config) -> int:
    """The side of the square GT window a training chain degrades."""
    return cfg.crop_pad_size or cfg.gt_size


class ChainDraws:
    """Per-batch draw columns of a training chain over `window_size` windows."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.chain: Chain = cfg.degradation
        self.columns = chain_columns(self.chain)
        self.window = window_size(cfg)
        self.final_crop = cfg.crop_pad_size is not None

    def check_gt(self, name: str, hw: tuple[int, int]) -> None:
        """A GT image (named by `name`, "... is") must hold the window, or half of it to be mirrored to it."""
        need = self.window // 2 + 1 if self.final_crop else self.window
        if min(hw) < need:
            what = (f"half of crop_pad_size {self.window} plus one ({need}), the least that mirroring can pad"
                    if self.final_crop else f"the GT patch {need}x{need} (gt_size)")
            raise DatasetError(f"{self.cfg.name}: {name} {hw[0]}x{hw[1]}, smaller than {what}; remove it or lower "
                               f"{'crop_pad_size' if self.final_crop else 'gt_size'}")

    def window_of(self, uniform: np.ndarray, hw: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
        """(anchor (x, y), shape (w, h)) of the window cut from a GT of size `hw`: drawn uniformly where the GT
        is larger than the window, the whole side where it is smaller (the graph pads it)."""
        h, w = hw
        n = self.window
        return (int(uniform[1] * max(w - n + 1, 1)), int(uniform[0] * max(h - n + 1, 1))), (min(w, n), min(h, n))

    def rows(self, epoch: int, positions: np.ndarray, shapes: np.ndarray, transposed: np.ndarray) -> dict[str, Any]:
        """The chain's columns for samples at `positions` whose windows are `shapes` (w, h), transposed or not."""
        per_row: dict[str, list] = {name: [] for name in self.columns + ("crop_anchor", "pad")}
        patch = self.cfg.gt_size // self.cfg.scale
        lq_side = self.window // self.cfg.scale
        for position, shape, swap in zip(positions, shapes, transposed):
            rng = np.random.default_rng([self.cfg.seed, epoch, int(position), _STREAM])
            draws, _ = draw_sample(self.chain, rng, (self.window, self.window))
            for name in self.columns:
                per_row[name].append(draws[name])
            u = rng.random(2)
            per_row["crop_anchor"].append(np.array([int(u[1] * (lq_side - patch + 1)), int(u[0] * (lq_side - patch + 1))],
                                                   np.int32))
            per_row["pad"].append(_pad(shape, bool(swap), self.window))
        if not self.final_crop:
            del per_row["crop_anchor"], per_row["pad"]
        return per_row

    def placeholder_rows(self) -> dict[str, Any]:
        """One row of valid draws for a placeholder batch (a blank window)."""
        return self.rows(0, np.zeros(1, np.int64), np.full((1, 2), self.window, np.int32), np.zeros(1, bool))


def _pad(shape: np.ndarray, transposed: bool, window: int) -> np.ndarray:
    """(rows, columns) to mirror in after the flips, and the first row / column of the mirrored strips."""
    w, h = (int(shape[1]), int(shape[0])) if transposed else (int(shape[0]), int(shape[1]))
    ph, pw = window - h, window - w
    return np.array([ph, pw, h - 1 - ph, w - 1 - pw], np.int32)


def chain_draws(cfg: Config) -> Optional[ChainDraws]:
    """The draws of a training chain, or None (stored LQ, bicubic)."""
    return ChainDraws(cfg) if draw_columns(cfg) else None
