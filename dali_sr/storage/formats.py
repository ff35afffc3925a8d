"""The one table of stored image formats: codec names, file extensions, and which ones the loader reads.

Every module that lists image files, names a codec or strips an extension uses these names.
"""
from __future__ import annotations

import os

CODECS = ("png", "jpeg", "jpeg2000", "htj2k", "raw")  # what the loader reads and `dali-sr pack --codec` writes
LOSSLESS = ("png", "jpeg2000", "htj2k", "raw")

# File extensions of each codec, the first one written by `pack` (raw: `.pgm` for one channel).
CODEC_EXTENSIONS = {"png": (".png",), "jpeg": (".jpg", ".jpeg"), "jpeg2000": (".jp2",), "htj2k": (".jph",),
                    "raw": (".ppm", ".pgm")}
RAW_GRAY_EXTENSION = ".pgm"

LOADER_EXTENSIONS = frozenset(ext for exts in CODEC_EXTENSIONS.values() for ext in exts)
# Formats only OpenCV-based tools read: `dali-sr pack` converts them, the loader refuses them.
CONVERTIBLE_EXTENSIONS = frozenset({".bmp", ".webp", ".tif", ".tiff"})
IMAGE_EXTENSIONS = LOADER_EXTENSIONS | CONVERTIBLE_EXTENSIONS


def extension_of(name: str) -> str:
    """The lower-case extension of a file name (`.png`), '' if none."""
    return os.path.splitext(name)[1].lower()


def is_image_name(name: str) -> bool:
    """Whether `name` has the extension of an image file any dali_sr tool reads."""
    return extension_of(name) in IMAGE_EXTENSIONS


def is_raw_name(name: str) -> bool:
    """Whether `name` is a binary PPM/PGM file (the `raw` codec: pixels, nothing to decode)."""
    return extension_of(name) in CODEC_EXTENSIONS["raw"]


def codec_extension(codec: str, channels: int = 3) -> str:
    """The extension `pack` gives a value of `codec` with `channels` channels (meta lines, unpacked files)."""
    if codec == "raw" and channels == 1:
        return RAW_GRAY_EXTENSION
    return CODEC_EXTENSIONS[codec][0]


def listed_extensions() -> str:
    """The image extensions, for messages: `.bmp, .jp2, .jpeg, ...`."""
    return ", ".join(sorted(IMAGE_EXTENSIONS))
