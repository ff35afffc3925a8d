"""DL-Art-School's chunked format, as its `extract_subimages_with_ref.py` writes it: a dataset root holds one
folder per source image, each with its tiles (`%08d.jpg`), `ref.jpg` (the whole square source image at the tile
size) and `centers.pt` (`{tile_id: ((y, x), width)}`, each tile's centre and side in `ref.jpg` pixels).

This module reads the facts of one folder: its tiles in order, their common size, whether it has a reference and
its centres (read as plain data only)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ...errors import DatasetError
from ...storage.headers import SNIFF_BYTES, read_header

REF_NAME = "ref.jpg"
CENTERS_NAME = "centers.pt"
# DL-Art-School's image extensions (`data.util.IMG_EXTENSIONS`); its folders' tiles are every such file but ref.jpg.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".webp")

Centers = dict[int, tuple[tuple[int, int], int]]  # tile id -> ((y, x), width) in ref.jpg pixels


@dataclass(frozen=True)
class ChunkFolder:
    """One source image's folder: `name` (relative to the dataset root), its tile file names in order, their
    (h, w), the (h, w) of `ref.jpg` (None without one), its centres (None without `centers.pt`) or why they
    cannot be read."""

    name: str
    tiles: tuple[str, ...]
    size: tuple[int, int]
    ref_size: Optional[tuple[int, int]]
    centers: Optional[Centers]
    centers_error: Optional[str] = None


def is_tile(file_name: str) -> bool:
    """A tile of a chunk folder: an image file other than the reference."""
    return file_name != REF_NAME and file_name.lower().endswith(IMAGE_EXTENSIONS)


def _image_size(path: str) -> tuple[int, int]:
    """(h, w) of an image file from its header (the whole file when its frame header comes late)."""
    try:
        head = np.fromfile(path, np.uint8, count=SNIFF_BYTES)
        try:
            header = read_header(head, path)
        except DatasetError:
            header = read_header(np.fromfile(path, np.uint8), path)
    except OSError as e:
        raise DatasetError(f"cannot read {path}: {e.strerror}; check the file exists and is readable") from None
    return header.height, header.width


def _is_centers(value: Any) -> bool:
    def whole(n: Any) -> bool:
        return isinstance(n, int) and not isinstance(n, bool)

    return isinstance(value, dict) and all(
        whole(k) and isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], tuple) and len(v[0]) == 2
        and all(whole(n) for n in v[0]) and whole(v[1]) for k, v in value.items())


def read_centers(path: str) -> Centers:
    """`centers.pt` as plain data (`torch.load(weights_only=True)`: tuples and ints, no objects); `DatasetError`
    naming the file for anything else."""
    import torch  # only datasets in this format need it

    remedy = "re-write the folder with dali-sr extract-chunks, or set strict: false and need_ref: false"
    try:
        value = torch.load(path, weights_only=True)
    except Exception as e:  # torch raises UnpicklingError, RuntimeError, EOFError... for what it refuses
        reason = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise DatasetError(f"{path}: not a plain-data centers file ({reason}); {remedy}") from None
    if not _is_centers(value):
        raise DatasetError(f"{path}: expected a dict of tile id (int) -> ((y, x), width) ints, got "
                           f"{type(value).__name__}; {remedy}")
    return value


def read_folder(root: str, name: str) -> Optional[ChunkFolder]:
    """The facts of folder `name` under `root`; None when it has no tiles (DL-Art-School drops such folders).

    A tile of another size than the folder's first one is a `DatasetError` naming it. A `centers.pt` that is not
    plain data is kept as `centers_error`, raised only by a dataset that reads centres."""
    path = os.path.join(root, name)
    files = sorted(os.listdir(path))
    tiles = tuple(f for f in files if is_tile(f))
    if not tiles:
        return None
    size = _image_size(os.path.join(path, tiles[0]))
    for tile in tiles[1:]:
        other = _image_size(os.path.join(path, tile))
        if other != size:
            raise DatasetError(f"{os.path.join(path, tile)}: tile is {other[0]}x{other[1]} but {tiles[0]} in the same "
                               f"folder is {size[0]}x{size[1]}; every tile of a folder must have one size (re-extract "
                               f"the folder or remove the tile)")
    centers, error = None, None
    if CENTERS_NAME in files:
        try:
            centers = read_centers(os.path.join(path, CENTERS_NAME))
        except DatasetError as e:
            error = str(e)
    ref_size = _image_size(os.path.join(path, REF_NAME)) if REF_NAME in files else None
    return ChunkFolder(name, tiles, size, ref_size, centers, error)


def folder_names(root: str) -> list[str]:
    """The chunk folders of a dataset root, sorted by name (as DL-Art-School scans them)."""
    if not os.path.isdir(root):
        raise DatasetError(f"dataset folder {root} does not exist; fix 'paths'")
    return sorted(e.name for e in os.scandir(root) if e.is_dir())
