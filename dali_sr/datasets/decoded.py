"""Decoded images kept for the windows that follow: how `patches_per_image` decodes an image once for many windows.

The source decodes a side's encoded values itself (OpenCV, `IMREAD_COLOR`, as RGB: the pixels DALI's
CPU decoder gives for lossless codecs) and keeps the most recently used images, enough for the
epoch plan's groups (`plan.IMAGES_PER_GROUP`), so each image of a group is decoded once for all its
windows. Windows are cut from the kept pixels and reach DALI as pixels (nothing left to decode).
The images a batch needs are decoded together on worker threads (OpenCV releases the GIL). The kept
images are a cache only: batches are the same whatever it holds, and a copy of the source sent to a
worker process starts with none.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Hashable, Iterable

import numpy as np

from ..errors import DatasetError
from ..parallel import ordered_map
from ..storage.backends import Storage
from .source import read_value


def decode_rgb(value: np.ndarray, name: str, hw: tuple[int, int]) -> np.ndarray:
    """Encoded bytes -> HWC uint8 RGB (gray and alpha converted as `cv2.IMREAD_COLOR`); `DatasetError` naming
    `name` when it does not decode to the (h, w) of its header."""
    import cv2

    try:
        img = cv2.imdecode(value, cv2.IMREAD_COLOR)
    except cv2.error:
        img = None
    if img is None or img.shape[:2] != hw:
        raise DatasetError(f"{name}: cannot be decoded to the {hw[0]}x{hw[1]} of its header (corrupt or "
                           f"truncated); re-create the file")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def keep_made(kept: OrderedDict, wanted: list[Hashable], make: Callable, capacity: int, workers: int) -> None:
    """Make every key of `wanted` (one batch's) present in `kept` (least recently used first), the missing ones
    together by `make` on `workers` threads, and keep at most `capacity` others besides them."""
    for key in wanted:
        if key in kept:
            kept.move_to_end(key)
    missing = [key for key in wanted if key not in kept]
    for key, value in zip(missing, ordered_map(make, missing, min(workers, max(1, len(missing))))):
        kept[key] = value
    while len(kept) > max(capacity, len(wanted)):
        kept.popitem(last=False)


class DecodedImages:
    """One side's decoded images by key, the `capacity` most recently used kept (more while one batch needs them).

    Stands in for a side's `ArraySide` in a source: `read` gives an image's pixels and (h, w), `cut` a window.
    """

    def __init__(self, store: Storage, capacity: int, workers: int):
        self.store, self.capacity, self.workers = store, capacity, workers
        self._images: OrderedDict[str, np.ndarray] = OrderedDict()

    def __getstate__(self) -> dict:
        return {"store": self.store, "capacity": self.capacity, "workers": self.workers}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["store"], state["capacity"], state["workers"])

    def _decode(self, key: str) -> np.ndarray:
        value, hw = read_value(self.store, key, None)
        return decode_rgb(value, self.store.describe(key), hw)

    def load(self, keys: Iterable[str]) -> None:
        """Make every image of `keys` (one batch's) present, decoding the missing ones together, and keep at most
        `capacity` others besides them."""
        keep_made(self._images, list(dict.fromkeys(keys)), self._decode, self.capacity, self.workers)

    def read(self, key: str) -> tuple[np.ndarray, tuple[int, int]]:
        """The decoded pixels of `key` and their (h, w)."""
        if key not in self._images:
            self.load([key])
        image = self._images[key]
        return image, image.shape[:2]

    @staticmethod
    def cut(pixels: np.ndarray, anchor: Iterable[int], shape: Iterable[int]) -> np.ndarray:
        """Contiguous copy of the window `shape` (w, h) at `anchor` (x, y)."""
        (x, y), (w, h) = anchor, shape
        return np.ascontiguousarray(pixels[y:y + h, x:x + w])
