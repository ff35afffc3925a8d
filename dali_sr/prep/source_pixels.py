"""The (h, w, c) that `cv2.imread(path, cv2.IMREAD_UNCHANGED)` gives a source image, for extract-subimages and
meta-info: from the header where that is exact (PNG, JPEG: only the file's first bytes are read), else from a
decode by `source_image.read_source_image` (the pixel limit before decoding, complete files only)."""
from __future__ import annotations

from typing import Optional

from ..errors import DatasetError
from ..storage.headers import PNG_MAGIC, jpeg_frame, png_chunks
from .source_image import DEFAULT_MAX_PIXELS, HEAD_BYTES, png_ihdr, read_file_bytes, read_source_image

Shape = tuple[int, int, int]


def _png_shape(start: bytes, whole: bool, path: str) -> Optional[Shape]:
    """(h, w, c) from the PNG chunks before IDAT in `start` (the file's first bytes; all of it if `whole`) when
    the header fixes OpenCV's channel count; None when the decoder must say (tRNS, palettes, IDAT not reached)."""
    height, width, depth, ctype = png_ihdr(start, path)
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


def probe_shape(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> Shape:
    """(h, w, c) of `cv2.imread(path, IMREAD_UNCHANGED)` (c = 1 for gray): from the header when exact, else decoded;
    a one-line `DatasetError` for an image of more than `max_pixels` pixels (never decoded)."""
    start = read_file_bytes(path, HEAD_BYTES)
    shape = None
    if start.startswith(PNG_MAGIC):
        shape = _png_shape(start, len(start) < HEAD_BYTES, path)
    elif start[:3] == b"\xff\xd8\xff":
        shape = _jpeg_shape(start)
        if shape is None and len(start) == HEAD_BYTES:  # frame header after large APP segments
            shape = _jpeg_shape(read_file_bytes(path))
    if shape is not None and shape[0] * shape[1] <= max_pixels:
        return shape
    img = read_source_image(path, max_pixels)  # refuses an image above the limit before decoding it
    if img.ndim not in (2, 3):
        raise DatasetError(f"{path}: decoded to {img.ndim} dimensions; store 2-D gray or colour images")
    return img.shape[0], img.shape[1], 1 if img.ndim == 2 else img.shape[2]
