"""Read access to the files of one local folder by byte range, through memory maps.

`read` returns a view of the file's memory map (no copy, like an LMDB value view), valid until `close()`.
Maps are made lazily per process, so the object can be pickled into DALI's source worker processes.
"""
from __future__ import annotations

import mmap
import os
import threading
from typing import Optional

import numpy as np

from ..errors import DatasetError, MissingFileError


class LocalFiles:
    """The files under `root`; names are paths relative to it."""

    def __init__(self, root: str):
        self.url = str(root)
        self._lock = threading.Lock()
        self._maps: dict[str, np.ndarray] = {}
        self._pid = os.getpid()

    def __getstate__(self) -> dict:
        return {"url": self.url}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["url"])

    def describe(self, name: str) -> str:
        return os.path.join(self.url, name)

    def _map(self, name: str) -> np.ndarray:
        if self._pid != os.getpid():  # a forked child: the parent's maps are not ours to keep
            self._maps, self._pid = {}, os.getpid()
        view = self._maps.get(name)
        if view is not None:
            return view
        with self._lock:
            view = self._maps.get(name)
            if view is None:
                path = self.describe(name)
                try:
                    with open(path, "rb") as f:
                        size = os.fstat(f.fileno()).st_size
                        view = np.frombuffer(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), np.uint8) if size \
                            else np.zeros(0, np.uint8)
                except FileNotFoundError:
                    raise MissingFileError(f"{path} does not exist; re-create it or fix the dataroot") from None
                except OSError as e:
                    raise DatasetError(f"cannot read {path}: {e.strerror}; check it is readable") from None
                self._maps[name] = view
            return view

    def read(self, name: str, offset: int = 0, size: Optional[int] = None) -> np.ndarray:
        """`size` bytes of file `name` from `offset` (the rest when None): a view of its memory map."""
        data = self._map(name)
        end = data.size if size is None else offset + size
        if end > data.size:
            raise DatasetError(f"{self.describe(name)} is truncated at byte {data.size}: its index names bytes "
                               f"{offset}..{end}; re-create it")
        return data[offset:end]

    def exists(self, name: str) -> bool:
        return os.path.isfile(self.describe(name))

    def close(self) -> None:
        with self._lock:
            self._maps = {}  # the maps close when the last view of them is gone
