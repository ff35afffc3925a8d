"""Several storages read as one: a dataset side given as a list of folders (or LMDBs). A key of the joined
storage is `N/key`, the key `key` of its N-th storage; labels and error names are those of that storage."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .backends import Storage


def joined_key(number: int, key: str) -> str:
    """The joined storage's key of `key` in its `number`-th storage."""
    return f"{number}/{key}"


class JoinedStorage:
    """The storages of a list of roots behind one `Storage`; `root` names the first."""

    def __init__(self, stores: Sequence[Storage]):
        self.stores = list(stores)
        self.root = self.stores[0].root

    def _split(self, key: str) -> tuple[Storage, str]:
        number, _, inner = key.partition("/")
        return self.stores[int(number)], inner

    def get(self, key: str) -> np.ndarray:
        store, inner = self._split(key)
        return store.get(inner)

    def has(self, key: str) -> bool:
        store, inner = self._split(key)
        return store.has(inner)

    def label(self, key: str) -> str:
        store, inner = self._split(key)
        return store.label(inner)

    def describe(self, key: str) -> str:
        store, inner = self._split(key)
        return store.describe(inner)

    def close(self) -> None:
        for store in self.stores:
            store.close()
