"""Read an encoded image's format and size from its first bytes, without decoding it.

The sources use this to pick crop windows and to name a bad file before DALI sees it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .errors import DatasetError

MAX_SIDE = 32768
MAX_PIXELS = 1 << 28

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers that carry the image size (not DHT, JPG, DAC).
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


@dataclass(frozen=True)
class ImageHeader:
    codec: str  # "png" | "jpeg"
    height: int
    width: int


def _name_codec(data: bytes) -> str:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[:2] == b"BM":
        return "BMP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if data[4:8] == b"jP  " or data[:4] == b"\xff\x4f\xff\x51":
        return "JPEG 2000"
    return "unknown"


def _png(data: bytes, name: str) -> ImageHeader:
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise DatasetError(f"{name}: truncated or corrupt PNG header; re-create the file")
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    bit_depth = data[24]
    if bit_depth > 8:
        raise DatasetError(f"{name}: {bit_depth}-bit PNG is not supported; store 8-bit images (cv2.imwrite of a uint8 array)")
    return ImageHeader("png", height, width)


def jpeg_frame(data: bytes) -> Optional[tuple[int, int, int]]:
    """(height, width, components) from the first JPEG start-of-frame marker in `data`; None if not there."""
    pos, n = 2, len(data)
    while pos + 4 <= n and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xD9, 0xDA):
            return None
        if marker in _SOF_MARKERS:
            if pos + 10 > n:
                return None
            return (int.from_bytes(data[pos + 5:pos + 7], "big"), int.from_bytes(data[pos + 7:pos + 9], "big"),
                    data[pos + 9])
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return None


def _jpeg(data: bytes, name: str) -> ImageHeader:
    frame = jpeg_frame(data)
    if frame is None:
        raise DatasetError(f"{name}: truncated or corrupt JPEG header (no frame size found); re-create the file")
    return ImageHeader("jpeg", frame[0], frame[1])


def read_header(encoded: np.ndarray, name: str) -> ImageHeader:
    """Format and size of PNG/JPEG bytes; `DatasetError` naming `name` if unsupported or bad."""
    data = encoded[:1024].tobytes()
    if data.startswith(PNG_MAGIC):
        header = _png(data, name)
    elif data[:3] == b"\xff\xd8\xff":
        try:
            header = _jpeg(data, name)
        except DatasetError:  # frame header after large APP segments (EXIF thumbnails)
            header = _jpeg(encoded.tobytes(), name)
    elif not data:
        raise DatasetError(f"{name}: empty file (0 bytes); re-create it")
    else:
        raise DatasetError(f"{name}: unsupported image format ({_name_codec(data)}); store PNG or JPEG images")
    if header.width <= 0 or header.height <= 0:
        raise DatasetError(f"{name}: image header says {header.height}x{header.width} pixels; the file is corrupt")
    if max(header.width, header.height) > MAX_SIDE or header.width * header.height > MAX_PIXELS:
        raise DatasetError(f"{name}: image is {header.height}x{header.width}, above the {MAX_SIDE}-pixel side / "
                           f"{MAX_PIXELS} pixel limit; split it into sub-images (BasicSR extract_subimages)")
    return header
