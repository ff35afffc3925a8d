"""Dataset sides whose values are pixels rather than encoded images: nothing to decode.

Two kinds: old EDVR LMDBs (HWC BGR uint8, one shape for all from `meta_info.pkl`) and the
`raw` codec of `dali-sr pack` (binary PPM/PGM: the size in a text header, RGB or gray
pixels). The sources cut each sample's window straight out of the stored bytes, so only
the window is copied, and DALI receives it ready (moved to the GPU when there is one).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np

from ..errors import DatasetError
from .formats import is_raw_name
from .headers import read_header




@dataclass(frozen=True)
class ArraySide:
    """How one side's values hold their pixels: bare arrays of `edvr_shape` (h, w, c) (EDVR's BGR, or RGB when not
    `bgr`), or PPM/PGM if None."""

    edvr_shape: Optional[tuple[int, int, int]] = None
    bgr: bool = True

    def view(self, value: np.ndarray, name: str) -> np.ndarray:
        """The stored (h, w, c) uint8 pixels of `value`, without copying; `DatasetError` naming `name` if bad."""
        if self.edvr_shape is not None:
            h, w, c = self.edvr_shape
            if value.size != h * w * c:
                raise DatasetError(f"{name}: raw value has {value.size} bytes, not the {h}x{w}x{c} of its meta file "
                                   f"or io_backend.patch_shape; fix patch_shape, or re-create the data")
            return value.reshape(h, w, c)
        header = read_header(value, name)
        if header.codec != "raw":
            raise DatasetError(f"{name}: value is {header.codec}, but meta_info.txt says every value here is raw; "
                               f"re-pack the LMDB (dali-sr pack --codec) or fix its meta_info.txt")
        h, w, c = header.height, header.width, header.channels
        pixels = value[header.offset:]
        if pixels.size != h * w * c:
            raise DatasetError(f"{name}: raw value holds {pixels.size} pixel bytes, not {h}x{w}x{c} from its header; "
                               f"the value is truncated or corrupt, re-create it")
        return pixels.reshape(h, w, c)

    def cut(self, pixels: np.ndarray, anchor: Iterable[int], shape: Iterable[int]) -> np.ndarray:
        """Contiguous HWC RGB copy of the window `shape` (w, h) at `anchor` (x, y) of a `view`."""
        (x, y), (w, h) = anchor, shape
        window = pixels[y:y + h, x:x + w]
        if window.shape[2] == 1:
            return np.repeat(window, 3, axis=2)
        return np.ascontiguousarray(window[:, :, ::-1] if self.edvr_shape is not None and self.bgr else window)


def raw_files_side(keys: list[str]) -> Optional[ArraySide]:
    """An `ArraySide` for a folder side whose files are all PPM/PGM; None otherwise (they go to the decoder)."""
    if keys and all(is_raw_name(k) for k in keys):
        return ArraySide()
    return None
