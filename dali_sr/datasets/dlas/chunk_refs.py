"""DL-Art-School's reference images, made by the source: `ref.jpg` with the tile's mask as a 4th channel (1 over the
tile's square, 0.1 elsewhere), at the HQ side and at the LQ side, float32 CHW in [0, 1].

A folder's reference is the same image for every one of its tiles, so it is decoded and reduced once and kept
(the most recently used folders, up to `BUDGET` bytes); only the mask is made per tile. The arithmetic is the
graph's for the tile: box means of the 8-bit values (INTER_AREA by a whole factor) to `target_size`, scaled to
[0, 1], cut to `force_multiple`, then box means by the scale. The references a batch lacks are decoded together
on worker threads (OpenCV releases the GIL). The kept references are a cache only: batches are the same whatever
it holds, and a copy of the source sent to a worker process starts with none.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterable

import numpy as np

from ...errors import DatasetError
from ..decoded import decode_rgb, keep_made
from ..source import read_value
from .chunks import REF_NAME
from .tile_index import TileFolder

MASK_OUTSIDE = 0.1  # DL-Art-School's mask value outside the tile's square
BUDGET = 512 << 20  # bytes of references kept


def box_means(x: np.ndarray, factor: int) -> np.ndarray:
    """HWC values (8-bit or float) -> float32 means of their `factor` x `factor` blocks (sides multiples of it):
    cv2's INTER_AREA by a whole factor, on the float values."""
    import cv2

    x = x.astype(np.float32, copy=False)
    if factor == 1:
        return x
    h, w, c = x.shape
    return cv2.resize(x, (w // factor, h // factor), interpolation=cv2.INTER_AREA).reshape(h // factor, w // factor, c)


def at_hq_side(x: np.ndarray, tile_side: int, target_side: int, hq_side: int) -> np.ndarray:
    """A tile-sized HWC image at the HQ side, float32: box means to `target_side`, cut to `hq_side`."""
    return box_means(x, tile_side // target_side)[:hq_side, :hq_side]


def tile_square(side: int, center: tuple[int, int], width: int) -> np.ndarray:
    """(side, side, 1) uint8: 1 over the square of `width` centred at `center` (y, x), 0 elsewhere; the square is
    clipped at the image's edges."""
    square = np.zeros((side, side, 1), np.uint8)
    top, left = max(center[0] - width // 2, 0), max(center[1] - width // 2, 0)
    square[top:max(center[0] + width // 2, 0), left:max(center[1] + width // 2, 0)] = 1
    return square


class ReferenceImages:
    """Folders' references at the HQ and LQ sides, made once per folder and kept; `pair` adds a tile's mask."""

    def __init__(self, target_side: int, hq_side: int, scale: int, workers: int):
        self.target_side, self.hq_side, self.scale, self.workers = target_side, hq_side, scale, workers
        lq_side = hq_side // scale
        self.capacity = max(1, BUDGET // (3 * 4 * (hq_side * hq_side + lq_side * lq_side)))
        self._kept: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()

    def __getstate__(self) -> dict:
        return {"target_side": self.target_side, "hq_side": self.hq_side, "scale": self.scale,
                "workers": self.workers}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def _make(self, folder: TileFolder) -> tuple[np.ndarray, np.ndarray]:
        """The folder's reference (HWC float32 in [0, 1]) at the HQ side and at the LQ side."""
        key = folder.key(REF_NAME)
        value, hw = read_value(folder.store, key, None)
        name = folder.store.describe(key)
        if hw != (folder.side, folder.side):
            raise DatasetError(f"{name} is {hw[0]}x{hw[1]}, not the {folder.side}x{folder.side} of its folder's "
                               f"tiles; re-create the folder with dali-sr extract-chunks")
        hq = at_hq_side(decode_rgb(value, name, hw), folder.side, self.target_side, self.hq_side) / np.float32(255.0)
        return hq, box_means(hq, self.scale)

    def load(self, folders: Iterable[tuple[int, TileFolder]]) -> None:
        """Make the references of `folders` ((number, folder) of one batch) present, the missing ones together,
        keeping at most `capacity` others besides them."""
        wanted = dict(folders)
        keep_made(self._kept, list(wanted), lambda n: self._make(wanted[n]), self.capacity, self.workers)

    def pair(self, number: int, folder: TileFolder, center: tuple[int, int], width: int) -> tuple[np.ndarray, ...]:
        """`gt_fullsize_ref` and `lq_fullsize_ref` of one tile of folder `number` (loaded): CHW float32, the
        reference's 3 channels and the mask of the tile's square at `center` with `width` (in ref.jpg pixels)."""
        if number not in self._kept:
            self.load([(number, folder)])
        out = []
        mask = at_hq_side(tile_square(folder.side, center, width), folder.side, self.target_side, self.hq_side)
        mask = mask * np.float32(1.0 - MASK_OUTSIDE) + np.float32(MASK_OUTSIDE)
        for image, square in zip(self._kept[number], (mask, box_means(mask, self.scale))):
            both = np.empty((4,) + image.shape[:2], np.float32)
            both[:3] = image.transpose(2, 0, 1)
            both[3] = square[:, :, 0]
            out.append(both)
        return tuple(out)
