"""Reading one source image file for the preparation commands: its size from the header first (a pixel limit
refuses decompression bombs before any pixel memory is taken), then a decode that must be complete.

OpenCV's `imread` turns a truncated JPEG into a full-size image whose missing part is grey fill, with
nothing but libjpeg's "Premature end of JPEG file" on stderr to say so; a writer that stored it would make
that fill ground truth. So a JPEG must reach its end-of-image marker, a PNG its IEND chunk, and every
file must decode to the size its header gives.
"""
from __future__ import annotations

import argparse
from typing import Optional

import numpy as np

from ..errors import DatasetError
from ..storage.headers import PNG_END, png_chunks, read_header, sniff_codec

DEFAULT_MAX_PIXELS = 1 << 26  # 67,108,864: 8192 x 8192, above 8K UHD frames and 61-megapixel photographs
HEAD_BYTES = 1 << 16  # where headers lie in all but unusual files
_OTHER_FORMATS = {"BMP": "bmp", "TIFF": "tiff", "WebP": "webp"}  # read by OpenCV only; sized by Pillow


def add_max_pixels_argument(parser: argparse.ArgumentParser) -> None:
    """`--max-pixels N`: the largest source image (height x width) a preparation command decodes."""
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
                        help=f"refuse source images with more than N pixels (height x width) before decoding them; "
                             f"bounds each worker's memory (default {DEFAULT_MAX_PIXELS:,}, 8192 x 8192)")


def check_max_pixels(max_pixels: int) -> None:
    if not isinstance(max_pixels, int) or isinstance(max_pixels, bool) or max_pixels < 1:
        raise DatasetError(f"--max-pixels must be a positive number of pixels, got {max_pixels!r}")


def jpeg_complete(data: bytes) -> bool:
    """Whether JPEG bytes run through every scan to the end-of-image marker (FFD9) that follows the last one.

    Walks the marker segments; inside entropy-coded data a 0xFF byte is always followed by a stuffed 0x00
    or a restart marker, so the next other marker ends the scan. Bytes after EOI (camera trailers) are
    allowed.
    """
    pos, n, scanned = 2, len(data), False
    while pos + 2 <= n:
        if data[pos] != 0xFF:
            return False  # a segment boundary holds no marker: damaged
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            return scanned
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            pos += 2
            continue
        if pos + 4 > n:
            return False
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker != 0xDA:
            continue
        scanned = True
        while True:  # entropy-coded data up to the next marker that is not a stuffed byte or a restart
            pos = data.find(b"\xff", pos)
            if pos < 0 or pos + 1 >= n:
                return False
            follower = data[pos + 1]
            if follower == 0x00 or 0xD0 <= follower <= 0xD7 or follower == 0xFF:
                pos += 1 if follower == 0xFF else 2
                continue
            break
    return False


def _other_format_size(data: bytes, path: str, kind: str) -> tuple[int, int]:
    """(height, width) of a BMP, TIFF or WebP file from its header (Pillow reads only the header here)."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
    except Exception as e:  # noqa: BLE001 - any failure to read the header is a bad file
        raise DatasetError(f"{path}: unreadable {kind} header ({e}); re-create or remove the file") from None
    return height, width


def read_file_bytes(path: str, size: int = -1) -> bytes:
    """The first `size` bytes of the file at `path` (all of it by default); a one-line `DatasetError` naming it if
    it cannot be read or is empty."""
    try:
        with open(path, "rb") as f:
            data = f.read(size)
    except OSError as e:
        raise DatasetError(f"cannot read {path}: {e.strerror}; check it exists and is readable") from None
    if not data:
        raise DatasetError(f"{path}: empty file (0 bytes); re-create or remove it")
    return data


def png_ihdr(data: bytes, path: str) -> tuple[int, int, int, int]:
    """(height, width, bit depth, colour type) from the IHDR chunk of PNG bytes (any bit depth: sources may be
    16-bit, which OpenCV reads and BasicSR's preparation scripts keep)."""
    chunks = list(png_chunks(data))
    if not chunks or chunks[0][0] != b"IHDR" or chunks[0][2] < 13 or len(data) < chunks[0][1] + 13:
        raise DatasetError(f"{path}: truncated or corrupt PNG header; re-create the file")
    at = chunks[0][1]
    width, height = int.from_bytes(data[at:at + 4], "big"), int.from_bytes(data[at + 4:at + 8], "big")
    if width == 0 or height == 0:
        raise DatasetError(f"{path}: PNG header says {height}x{width} pixels; the file is corrupt, re-create it")
    return height, width, data[at + 8], data[at + 9]


def source_size(data: bytes, path: str) -> tuple[str, int, int]:
    """(codec, height, width) of source image bytes from their header, without decoding."""
    codec = sniff_codec(data[:1024])
    if codec in _OTHER_FORMATS:
        return _OTHER_FORMATS[codec], *_other_format_size(data, path, codec)
    if codec == "png":
        return codec, *png_ihdr(data, path)[:2]
    header = read_header(np.frombuffer(data, np.uint8), path)
    return header.codec, header.height, header.width


def check_pixels(path: str, height: int, width: int, max_pixels: int) -> None:
    """A one-line `DatasetError` naming `path` if a `height` x `width` image is above `max_pixels`."""
    if height * width > max_pixels:
        raise DatasetError(f"{path}: {height}x{width} = {height * width:,} pixels, above the limit of "
                           f"{max_pixels:,}; split the image, or raise --max-pixels if the machine has the memory")


def source_image_size(path: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """(height, width) of the image at `path` from its header, refused above `max_pixels` as `read_source_image`
    refuses it: for checks before anything is written. Reads the file's first 64 KiB (all of it when the header
    lies further, as a JPEG frame after large Exif segments or a TIFF directory at the end)."""
    head = read_file_bytes(path, HEAD_BYTES)
    try:
        _, height, width = source_size(head, path)
    except DatasetError:
        if len(head) < HEAD_BYTES:
            raise
        _, height, width = source_size(read_file_bytes(path), path)
    check_pixels(path, height, width, max_pixels)
    return height, width


def _check_complete(data: bytes, codec: str, path: str) -> None:
    if codec == "jpeg" and not jpeg_complete(data):
        raise DatasetError(f"{path}: truncated or damaged JPEG (it ends before its end-of-image marker; a decoder "
                           f"would fill the rest with grey); re-create the file or remove it")
    if codec == "png" and PNG_END not in data[-4096:]:
        raise DatasetError(f"{path}: truncated PNG (no IEND chunk at its end); re-create the file or remove it")


def read_source_image(path: str, max_pixels: int = DEFAULT_MAX_PIXELS, data: Optional[bytes] = None) -> np.ndarray:
    """The image at `path` as `cv2.imread(path, cv2.IMREAD_UNCHANGED)` gives it (BGR, BGRA or gray, 8 or 16 bits),
    only if it decodes completely; a one-line `DatasetError` naming the file otherwise.

    The header is read first: an image above `max_pixels` is refused before its pixels are decoded. `data`
    are the file's bytes when the caller has read them already.
    """
    import cv2

    data = read_file_bytes(path) if data is None else data
    codec, height, width = source_size(data, path)
    check_pixels(path, height, width, max_pixels)
    _check_complete(data, codec, path)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise DatasetError(f"{path}: OpenCV cannot decode this image (corrupt or truncated); re-create or remove it")
    if img.shape[:2] != (height, width) and img.shape[:2] != (width, height):
        raise DatasetError(f"{path}: its header says {height}x{width} but it decodes to {img.shape[0]}x{img.shape[1]}; "
                           f"the file is corrupt, re-create it")
    return img
