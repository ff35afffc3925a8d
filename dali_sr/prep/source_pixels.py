"""Source images as `cv2.imread(path, cv2.IMREAD_UNCHANGED)` gives them, for extract-subimages and meta-info: the
(h, w, c) from the header where that is exact, and the pixels of any bit depth.

`source_image` reads every source (the pixel limit before decoding, complete files only) but refuses 16-bit
PNGs, which the loader cannot read. BasicSR's extract_subimages and generate_meta_info keep them, so these two
commands read 16-bit PNGs here, with the same checks.
"""
from __future__ import annotations

import struct
from typing import Optional

import numpy as np

from ..errors import DatasetError
from ..storage.headers import PNG_END, PNG_MAGIC, jpeg_frame, png_chunks
from .source_image import DEFAULT_MAX_PIXELS, read_source_image

Shape = tuple[int, int, int]
_HEAD_BYTES = 65536  # the chunks or segments before the image data, in all but unusual files


def _read(path: str, size: int = -1) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(size)
    except OSError as e:
        raise DatasetError(f"{path}: cannot read ({e.strerror}); check the file and its permissions") from None
    if not data:
        raise DatasetError(f"{path}: empty file (0 bytes); re-create it or remove it from the folder")
    return data


def _png_header(start: bytes, path: str) -> tuple[int, int, int, int]:
    """(height, width, bit depth, colour type) from a PNG's IHDR chunk."""
    chunks = list(png_chunks(start))
    if not chunks or chunks[0][0] != b"IHDR" or chunks[0][2] < 13 or len(start) < chunks[0][1] + 13:
        raise DatasetError(f"{path}: truncated or corrupt PNG header; re-create the file")
    width, height, depth, ctype = struct.unpack(">IIBB", start[chunks[0][1]:chunks[0][1] + 10])
    if width == 0 or height == 0:
        raise DatasetError(f"{path}: PNG header says {height}x{width} pixels; the file is corrupt, re-create it")
    return height, width, depth, ctype


def _png_shape(start: bytes, whole: bool, path: str) -> Optional[Shape]:
    """(h, w, c) from the PNG chunks before IDAT in `start` (the file's first bytes; all of it if `whole`) when
    the header fixes OpenCV's channel count; None when the decoder must say (tRNS, palettes, IDAT not reached)."""
    height, width, depth, ctype = _png_header(start, path)
    kinds = [kind for kind, _, _ in png_chunks(start)]
    if b"IDAT" not in kinds:
        if whole:
            raise DatasetError(f"{path}: truncated PNG (no image data); re-create the file")
        return None
    if b"tRNS" in kinds:  # transparency changes what OpenCV returns: decode then
        return None
    if depth in (8, 16) and ctype in (0, 2, 6):
        return height, width, {0: 1, 2: 3, 6: 4}[ctype]
    return None


def _jpeg_shape(data: bytes) -> Optional[Shape]:
    frame = jpeg_frame(data)
    if frame is None or 0 in frame[:2] or frame[2] not in (1, 3):
        return None  # unusual (DNL height, CMYK) or not found: let the decoder say
    return frame


def _deep_png(path: str, data: bytes, max_pixels: int) -> np.ndarray:
    """A 16-bit PNG's pixels, with `source_image`'s checks: size limit first, then IEND, then a decode of that size."""
    import cv2

    height, width, _, _ = _png_header(data, path)
    if height * width > max_pixels:
        raise DatasetError(f"{path}: {height}x{width} = {height * width:,} pixels, above the limit of {max_pixels:,}; "
                           f"split the image, or raise --max-pixels if the machine has the memory")
    if PNG_END not in data[-4096:]:
        raise DatasetError(f"{path}: truncated PNG (no IEND chunk at its end); re-create the file or remove it")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None or img.shape[:2] != (height, width):
        raise DatasetError(f"{path}: OpenCV cannot decode this 16-bit PNG to its {height}x{width} pixels (corrupt); "
                           f"re-create or remove it")
    return img


def read_source_pixels(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """`source_image.read_source_image` (BGR, BGRA or gray as `cv2.imread(path, IMREAD_UNCHANGED)`), also for
    16-bit PNGs; a one-line `DatasetError` naming the file for an image above `max_pixels` or one that does not
    decode completely."""
    head = _read(path, 33)
    if not (head.startswith(PNG_MAGIC) and len(head) == 33 and head[24] == 16):
        return read_source_image(path, max_pixels)
    return _deep_png(path, _read(path), max_pixels)


def probe_shape(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> Shape:
    """(h, w, c) of `cv2.imread(path, IMREAD_UNCHANGED)` (c = 1 for gray): from the header when exact, else decoded;
    a one-line `DatasetError` for an image of more than `max_pixels` pixels (never decoded)."""
    start = _read(path, _HEAD_BYTES)
    shape = None
    if start.startswith(PNG_MAGIC):
        shape = _png_shape(start, len(start) < _HEAD_BYTES, path)
    elif start[:3] == b"\xff\xd8\xff":
        shape = _jpeg_shape(start)
        if shape is None and len(start) == _HEAD_BYTES:  # frame header after large APP segments
            shape = _jpeg_shape(_read(path))
    if shape is not None and shape[0] * shape[1] <= max_pixels:
        return shape
    img = read_source_pixels(path, max_pixels)  # refuses an image above the limit before decoding it
    if img.ndim not in (2, 3):
        raise DatasetError(f"{path}: decoded to {img.ndim} dimensions; store 2-D gray or colour images")
    return img.shape[0], img.shape[1], 1 if img.ndim == 2 else img.shape[2]
