"""Which files in a dataset folder are images: those the loader reads, and those only OpenCV tools read."""
from __future__ import annotations

import os

from .errors import DatasetError

LOADER_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".jp2", ".ppm", ".pgm"})
OPENCV_ONLY_EXTENSIONS = frozenset({".bmp", ".webp", ".tif", ".tiff"})  # `dali-sr pack` converts them
IMAGE_EXTENSIONS = LOADER_EXTENSIONS | OPENCV_ONLY_EXTENSIONS


def image_names(folder: str) -> list[str]:
    """Names of the image files (any of `IMAGE_EXTENSIONS`) directly in `folder`, sorted; hidden files left out."""
    return sorted(e.name for e in os.scandir(folder)
                  if not e.name.startswith(".") and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS
                  and e.is_file())


def loader_image_names(folder: str) -> list[str]:
    """`image_names` of `folder`, all in formats the loader reads.

    A BMP, WebP or TIFF file is a `DatasetError` here, before any batch, naming the file and the fix.
    """
    names = image_names(folder)
    for name in names:
        ext = os.path.splitext(name)[1].lower()
        if ext in OPENCV_ONLY_EXTENSIONS:
            raise DatasetError(f"{os.path.join(folder, name)}: the loader reads PNG, JPEG, JPEG 2000 and PPM/PGM, "
                               f"not {ext[1:].upper()}; convert the folder (dali-sr pack SRC DST.lmdb writes PNG)")
    return names
