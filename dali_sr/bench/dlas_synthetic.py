"""The CONFIG words of `dali-sr bench` that build a DL-Art-School dataset once (in $DALI_SR_CACHE, by default
~/.cache/dali_sr): `synthetic-chunks` (SingleImageDataset on chunk folders written by `dali-sr extract-chunks`)
and `synthetic-folder` (ImageFolderDataset on a folder of JPEG photographs)."""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import ConfigError
from ..parallel import ordered_map, usable_cpus
from ..prep.chunk_plan import ChunkOptions
from ..prep.extract_chunks import extract_chunks
from ..synthetic import cache_dir
from ..synthetic.images import natural_image
from .dlas_baseline import CHUNK_TYPE, FOLDER_TYPE
from .synthetic_configs import build_once

CHUNK_SOURCE_SIDE = 1024  # source photographs of synthetic-chunks: 58 tiles of 256 px each at DLAS's defaults
FOLDER_HW = (480, 640)  # the images of synthetic-folder
DEFAULT_CHUNK_SOURCES, DEFAULT_FOLDER_IMAGES = 24, 256
CORRUPTIONS = ["jpeg-broad", "gaussian_blur"]  # each sample's LQ: a blur and a JPEG at DL-Art-School's broad range


def _write_photo(folder: Path, hw: tuple[int, int], k: int) -> None:
    img = natural_image(np.random.default_rng([7, k]), *hw)
    cv2.imwrite(str(folder / f"{k:05d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 95])


def _photos(folder: Path, n: int, hw: tuple[int, int]) -> None:
    """`n` JPEG photographs of `hw` in `folder` (made once: kept while the folder holds `n`)."""
    if folder.is_dir() and len(list(folder.glob("*.jpg"))) == n:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.jpg"):
        stale.unlink()
    for _ in ordered_map(partial(_write_photo, folder, hw), range(n), usable_cpus()):
        pass


def _chunks(root: Path, n: int) -> str:
    """DL-Art-School chunk folders of `n` photographs, as its script cuts them by default (crops 256 and 512 at
    steps 128 and 256, all tiles 256 px)."""
    chunks = root / "chunks"
    if not chunks.is_dir():
        _photos(root / "photos", n, (CHUNK_SOURCE_SIDE, CHUNK_SOURCE_SIDE))
        extract_chunks(str(root / "photos"), str(chunks), ChunkOptions(), workers=usable_cpus(), progress=False)
    return str(chunks)


def _jpeg_only(word: str, codec: str) -> None:
    if codec != "png":
        raise ConfigError(f"--codec applies to 'synthetic' and 'synthetic-clips'; {word} is JPEG photographs, as "
                          f"DL-Art-School's datasets are")


def synthetic_chunks(n: int, codec: str) -> dict[str, Any]:
    """SingleImageDataset on chunk folders of `n` synthetic photographs: tiles to target_size 128, x2, references
    with their centres, `jpeg-broad` + `gaussian_blur` on every LQ."""
    _jpeg_only("synthetic-chunks", codec)
    root = cache_dir() / f"bench-chunks-{n}"
    path = build_once(root, f"chunk folders of {n} photographs", lambda: {"chunks": _chunks(root, n)})["chunks"]
    return {"type": CHUNK_TYPE, "name": f"synthetic-chunks-{n}", "paths": path, "scale": 2, "target_size": 128,
            "force_multiple": 32, "need_ref": True, "strict": True, "fixed_corruptions": CORRUPTIONS,
            "batch_size_per_gpu": 16}


def synthetic_folder(n: int, codec: str) -> dict[str, Any]:
    """ImageFolderDataset on `n` synthetic 640x480 JPEG photographs: the centre square to target_size 256 (INTER_AREA),
    x4, a flip with probability 1/2, `jpeg-broad` + `gaussian_blur` on every LQ."""
    _jpeg_only("synthetic-folder", codec)
    root = cache_dir() / f"bench-folder-{n}"
    build_once(root, f"{n} photographs", lambda: _photos(root / "photos", n, FOLDER_HW) or {})
    return {"type": FOLDER_TYPE, "name": f"synthetic-folder-{n}", "paths": str(root / "photos"), "scale": 4,
            "target_size": 256, "fixed_corruptions": CORRUPTIONS, "batch_size_per_gpu": 16}


DLAS_SYNTHETIC = {"synthetic-chunks": (synthetic_chunks, DEFAULT_CHUNK_SOURCES),
                  "synthetic-folder": (synthetic_folder, DEFAULT_FOLDER_IMAGES)}
