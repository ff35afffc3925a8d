"""`dali-sr pack --codec source`: every value is its file's own bytes, unchanged (JPEG frames stay the JPEG they
are, nothing is re-encoded), and `meta_info.txt`'s last column names their codec as `<codec>:source`
(`jpeg:source`, `png:source`), which the loader and `dali-sr verify` read as that codec.

Every file is still decoded once, completely, before it is stored (a truncated file is refused, as for the
other codecs), and all files of one run must be of one codec the loader reads, in 8 bits.
"""
from __future__ import annotations

from typing import Sequence

from ..errors import DatasetError
from ..parallel import ordered_map
from ..storage.formats import CODECS
from ..storage.headers import SNIFF_BYTES, sniff_codec
from .source_image import read_file_bytes, read_source_image

SOURCE_CODEC = "source"


def source_tag(codec: str) -> str:
    """The `meta_info.txt` last column of files of `codec` stored as they are."""
    return f"{codec}:{SOURCE_CODEC}"


def files_codec(paths: Sequence[str], workers: int = 1) -> str:
    """The one codec of the files at `paths` (from their first bytes, read on `workers` threads); `DatasetError`
    naming the first file of another codec, or of a format the loader does not read."""
    codec, first = None, None
    sniffed = ordered_map(lambda path: sniff_codec(read_file_bytes(path, SNIFF_BYTES)), paths, workers)
    for path, found in zip(paths, sniffed):
        if found not in CODECS:
            raise DatasetError(f"{path}: {found} is not a format the loader reads ({', '.join(CODECS)}), so "
                               f"--codec source cannot store it as it is; pack with --codec png")
        if codec is None:
            codec, first = found, path
        elif found != codec:
            raise DatasetError(f"{path} is {found} but {first} is {codec}; --codec source stores one codec per "
                               f"LMDB: convert the files to one format, or pack with --codec png")
    if codec is None:
        raise DatasetError("no files to pack")
    return codec


def source_value(path: str, max_pixels: int) -> bytes:
    """The bytes of the file at `path`, once they decode completely to 8-bit pixels."""
    data = read_file_bytes(path)
    img = read_source_image(path, max_pixels, data)
    if img.dtype.name != "uint8":
        raise DatasetError(f"{path}: {img.dtype} pixels; the loader reads 8-bit images, so --codec source cannot "
                           f"store it as it is; pack with --codec png")
    return data
