"""Which files in a dataset folder are images: those the loader reads, and those only OpenCV tools read."""
from __future__ import annotations

import os

from .errors import DatasetError

LOADER_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".jp2", ".ppm", ".pgm"})
OPENCV_ONLY_EXTENSIONS = frozenset({".bmp", ".webp", ".tif", ".tiff"})  # `dali-sr pack` converts them
IMAGE_EXTENSIONS = LOADER_EXTENSIONS | OPENCV_ONLY_EXTENSIONS


def loader_image_names(folder: str) -> list[str]:
    """Names of the image files directly in `folder` that the loader reads, sorted; hidden files left out.

    A BMP, WebP or TIFF file is a `DatasetError` here, before any batch, naming the file and the fix.
    """
    names = []
    for entry in os.scandir(folder):
        ext = os.path.splitext(entry.name)[1].lower()
        if entry.name.startswith(".") or ext not in IMAGE_EXTENSIONS or not entry.is_file():
            continue
        if ext in OPENCV_ONLY_EXTENSIONS:
            raise DatasetError(f"{entry.path}: the loader reads PNG, JPEG, JPEG 2000 and PPM/PGM, not "
                               f"{ext[1:].upper()}; convert the folder (dali-sr pack SRC DST.lmdb writes PNG)")
        names.append(entry.name)
    return sorted(names)
