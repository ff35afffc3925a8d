"""The images of DL-Art-School image-folder datasets: every image file under each of `paths` (folders searched
recursively, in sorted order, `ref.jpg` tiles' references left out), each folder's list repeated `weights`
times. Nothing is cached on disk: DL-Art-School's `cache.pth` is neither read nor written."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ...errors import DatasetError
from ...storage.backends import DiskStorage, searchable_folder
from ..source import Batch, Images, read_value
from ..storages import fingerprint
from .roots import weighted_roots

# DL-Art-School's image extensions (its `IMG_EXTENSIONS`); the loader decodes PNG, JPEG, JPEG 2000 and PPM.
IMAGE_EXTENSIONS = (".jpg", ".JPG", ".jpeg", ".JPEG", ".png", ".PNG", ".ppm", ".PPM", ".bmp", ".BMP", ".webp",
                    ".WEBP")


def image_files(root: str) -> list[str]:
    """The image files under `root`, relative to it, in DL-Art-School's order (folders sorted, then names)."""
    found = []
    for folder, _, names in sorted(os.walk(root)):
        found += [os.path.relpath(os.path.join(folder, n), root) for n in sorted(names)
                  if n.endswith(IMAGE_EXTENSIONS) and "ref.jpg" not in n]
    return found


@dataclass
class FolderIndex:
    """Samples as (storage, key): each folder's images, repeated as its weight says."""

    name: str
    stores: list[DiskStorage]
    samples: list[tuple[int, str]]  # (store number, key)

    def __len__(self) -> int:
        return len(self.samples)

    def fingerprint(self) -> str:
        return fingerprint([f"{self.stores[s].root}\0{key}" for s, key in self.samples])

    def paths(self, indices: list[int]) -> list[str]:
        """The file path of each sample."""
        return [self.stores[self.samples[i][0]].path(self.samples[i][1]) for i in indices]

    def read(self, i: int) -> tuple[DiskStorage, str, np.ndarray, tuple[int, int]]:
        """Sample `i`'s storage, key, encoded bytes and (h, w) from its header."""
        store, key = self.stores[self.samples[i][0]], self.samples[i][1]
        value, hw = read_value(store, key, None)
        return store, key, value, hw

    def close(self) -> None:
        pass


def rows_batch(rows: Sequence[dict[str, Any]], images: list[Images], names: Sequence[str],
               indices: np.ndarray) -> Batch:
    """A batch of per-row column values: each of `names` as a list over the rows, and `idx`."""
    return Batch({**{name: [row[name] for row in rows] for name in names}, "idx": indices.astype(np.int64)}, images)


def build_folder_index(name: str, paths: object, weights: object) -> FolderIndex:
    """The index of `paths` / `weights`; `DatasetError` for a missing folder or one without images."""
    stores, samples = [], []
    for number, (root, repeats) in enumerate(weighted_roots(paths, weights, name)):
        if not searchable_folder(root, "image folder"):
            raise DatasetError(f"{name}: image folder {root} does not exist; fix 'paths'")
        files = image_files(root)
        if not files:
            raise DatasetError(f"{name}: image folder {root} holds no image ({', '.join(IMAGE_EXTENSIONS[::2])}); "
                               f"fix 'paths'")
        stores.append(DiskStorage(root))
        samples += [(number, key) for key in files] * repeats
    return FolderIndex(name, stores, samples)
