"""Read a stored image's format and size from its first bytes, without decoding it.

Formats the loader reads: PNG, JPEG, JPEG 2000 (JP2 file or J2K codestream), HTJ2K (JPH file or
Part 15 codestream) and `raw`
(binary PPM/PGM: a text header, then uint8 HWC pixels in RGB order). The sources use this
to pick crop windows and to name a bad file before DALI sees it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterator, Optional, Union

import numpy as np

from ..errors import DatasetError

SNIFF_BYTES = 1024  # what `sniff_codec` and `read_header` look at (a JPEG frame header may come later)
MAX_SIDE = 32768
MAX_PIXELS = 1 << 28

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JP2_MAGIC = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
J2K_MAGIC = b"\xff\x4f\xff\x51"
PNM_MAGICS = (b"P5", b"P6")  # binary gray / RGB
JPH_BRAND = b"jph "  # the file type of HTJ2K files (ISO/IEC 15444-15)
CAP_MARKER, SOT_MARKER = 0x50, 0x90  # JPEG 2000 codestream markers 0xFF50 (capabilities), 0xFF90 (start of tile)
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}  # IHDR colour type -> channels
Buffer = Union[bytes, memoryview]
# JPEG start-of-frame markers that carry the image size (not DHT, JPG, DAC).
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


@dataclass(frozen=True)
class ImageHeader:
    codec: str  # "png" | "jpeg" | "jpeg2000" | "htj2k" | "raw"
    height: int
    width: int
    channels: int
    offset: int = 0  # raw: where the pixels start
    transposed: bool = False  # Exif orientation 5-8: height/width are the stored ones swapped


def sniff_codec(data: bytes) -> str:
    """Codec name of stored image bytes from their start (give it `SNIFF_BYTES`: HTJ2K is told from classic
    JPEG 2000 by its file type or its codestream's main header): png, jpeg, jpeg2000, htj2k, raw, or a description."""
    if data.startswith(PNG_MAGIC):
        return "png"
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data.startswith(JP2_MAGIC) or data.startswith(J2K_MAGIC):
        return "htj2k" if _high_throughput(data) else "jpeg2000"
    if data[:2] in PNM_MAGICS and data[2:3].isspace():
        return "raw"
    return _name_codec(data)


def _high_throughput(data: bytes) -> bool:
    """Whether JPEG 2000 bytes are HTJ2K (Part 15): a JPH file (brand `jph `), or a codestream whose main header
    has the capabilities marker (CAP) that Part 15 codestreams carry."""
    if data.startswith(JP2_MAGIC):
        return data[20:24] == JPH_BRAND  # the file type box follows the 12-byte signature box
    pos = 2  # after SOC
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == CAP_MARKER:
            return True
        if marker == SOT_MARKER:  # the first tile: the main header has ended
            return False
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return False


def _name_codec(data: bytes) -> str:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[:2] == b"BM":
        return "BMP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if data[:2] in (b"P1", b"P2", b"P3", b"P4"):
        return "text or 1-bit PNM"
    return "unknown"


def _png(data: bytes, name: str) -> ImageHeader:
    if len(data) < 33 or data[12:16] != b"IHDR":
        raise DatasetError(f"{name}: truncated or corrupt PNG header; re-create the file")
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    bit_depth = data[24]
    if bit_depth > 8:
        raise DatasetError(f"{name}: {bit_depth}-bit PNG is not supported; store 8-bit images (cv2.imwrite of a uint8 array)")
    return ImageHeader("png", height, width, _PNG_CHANNELS.get(data[25], 3))


def _jpeg_segments(data: Buffer) -> Iterator[tuple[int, int]]:
    """(marker, position) of each JPEG marker segment before the scan data."""
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
            return
        yield marker, pos
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")


def jpeg_frame(data: bytes) -> Optional[tuple[int, int, int]]:
    """(height, width, components) from the first JPEG start-of-frame marker in `data`; None if not there."""
    for marker, pos in _jpeg_segments(data):
        if marker in _SOF_MARKERS:
            if pos + 10 > len(data):
                return None
            return (int.from_bytes(data[pos + 5:pos + 7], "big"), int.from_bytes(data[pos + 7:pos + 9], "big"),
                    data[pos + 9])
    return None


def _exif_orientation(tiff: Buffer) -> int:
    """The Orientation tag (1-8) of an Exif TIFF structure; 1 (as stored) when absent or unreadable."""
    tiff = bytes(tiff)
    order = {b"II": "little", b"MM": "big"}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return 1
    ifd = int.from_bytes(tiff[4:8], order)
    count = int.from_bytes(tiff[ifd:ifd + 2], order) if ifd + 2 <= len(tiff) else 0
    for entry in range(ifd + 2, min(ifd + 2 + 12 * count, len(tiff) - 11), 12):
        if int.from_bytes(tiff[entry:entry + 2], order) == 0x0112:
            value = int.from_bytes(tiff[entry + 8:entry + 10], order)
            return value if 1 <= value <= 8 else 1
    return 1


def _jpeg_orientation(data: Buffer) -> int:
    for marker, pos in _jpeg_segments(data):
        if marker == 0xE1 and data[pos + 4:pos + 10] == b"Exif\x00\x00":
            return _exif_orientation(data[pos + 10:pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")])
    return 1


def png_chunks(data: Buffer) -> Iterator[tuple[bytes, int, int]]:
    """(type, data offset, length) of each PNG chunk in `data` up to and including the first IDAT (or IEND).

    Stops early where `data` (possibly only the start of a file) ends.
    """
    pos = len(PNG_MAGIC)
    while pos + 8 <= len(data):
        length, kind = int.from_bytes(data[pos:pos + 4], "big"), bytes(data[pos + 4:pos + 8])
        yield kind, pos + 8, length
        if kind in (b"IDAT", b"IEND"):
            return
        pos += 12 + length


def _png_orientation(data: Buffer) -> int:
    """Orientation from an `eXIf` chunk before the image data."""
    for kind, start, length in png_chunks(data):
        if kind == b"eXIf":
            return _exif_orientation(data[start:start + length])
    return 1


PNG_END = b"IEND\xaeB`\x82"  # the IEND chunk's type and CRC: the last 8 bytes of every complete PNG
_END_SEARCH = 4096  # a few bytes after IEND (padding) are tolerated, as decoders tolerate them


def truncated(value: np.ndarray, header: "ImageHeader") -> bool:
    """Whether an encoded value is visibly cut short: a PNG without its IEND chunk near the end.

    Cheap (reads only the last few KiB). JPEG is not judged: camera files often carry data after
    the end marker, and decoders accept a missing one.
    """
    if header.codec != "png":
        return False
    return PNG_END not in value[-_END_SEARCH:].tobytes()


def _jpeg(data: bytes, name: str) -> ImageHeader:
    frame = jpeg_frame(data)
    if frame is None:
        raise DatasetError(f"{name}: truncated or corrupt JPEG header (no frame size found); re-create the file")
    return ImageHeader("jpeg", frame[0], frame[1], frame[2])


def _jpeg2000(data: bytes, name: str, codec: str) -> ImageHeader:
    """Size from the JP2/JPH `ihdr` box or the J2K SIZ marker; 8-bit components only."""
    if data.startswith(J2K_MAGIC):
        siz = data[4:]
        if len(siz) < 38:
            raise DatasetError(f"{name}: truncated JPEG 2000 header; re-create the file")
        width = int.from_bytes(siz[4:8], "big") - int.from_bytes(siz[12:16], "big")
        height = int.from_bytes(siz[8:12], "big") - int.from_bytes(siz[16:20], "big")
        channels = int.from_bytes(siz[36:38], "big")
        depths = {(b & 0x7F) + 1 for b in siz[38:38 + 3 * channels:3]}
    else:
        at = data.find(b"ihdr")
        if at < 0 or len(data) < at + 15:
            raise DatasetError(f"{name}: truncated or corrupt JPEG 2000 header (no ihdr box); re-create the file")
        height, width = int.from_bytes(data[at + 4:at + 8], "big"), int.from_bytes(data[at + 8:at + 12], "big")
        channels, depths = int.from_bytes(data[at + 12:at + 14], "big"), {(data[at + 14] & 0x7F) + 1}
    if depths != {8}:
        raise DatasetError(f"{name}: JPEG 2000 with {sorted(depths)}-bit components is not supported; store 8-bit "
                           f"images")
    return ImageHeader(codec, height, width, channels)


def _pnm(data: bytes, name: str) -> ImageHeader:
    """Binary PPM/PGM header: magic, width, height, maxval (comments allowed), one whitespace byte."""
    fields, pos = [], 2
    while len(fields) < 3:
        while pos < len(data) and (data[pos:pos + 1].isspace() or data[pos] == ord("#")):
            if data[pos] == ord("#"):
                end = data.find(b"\n", pos)
                pos = len(data) if end < 0 else end
            pos += 1
        start = pos
        while pos < len(data) and data[pos:pos + 1].isdigit():
            pos += 1
        if start == pos or pos >= len(data):
            raise DatasetError(f"{name}: truncated or corrupt PPM/PGM header; re-create the file")
        fields.append(int(data[start:pos]))
    width, height, maxval = fields
    if maxval != 255:
        raise DatasetError(f"{name}: PPM/PGM with maxval {maxval} is not supported; raw values must be 8-bit "
                           f"(maxval 255)")
    return ImageHeader("raw", height, width, 1 if data[:2] == b"P5" else 3, pos + 1)


def read_header(encoded: np.ndarray, name: str) -> ImageHeader:
    """Format and size of stored image bytes; `DatasetError` naming `name` if unsupported or bad."""
    data = encoded[:SNIFF_BYTES].tobytes()
    codec = sniff_codec(data)
    if codec == "png":
        header = _png(data, name)
    elif codec == "jpeg":
        try:
            header = _jpeg(data, name)
        except DatasetError:  # frame header after large APP segments (EXIF thumbnails)
            header = _jpeg(encoded.tobytes(), name)
    elif codec in ("jpeg2000", "htj2k"):
        header = _jpeg2000(data, name, codec)
    elif codec == "raw":
        header = _pnm(data, name)
    elif not data:
        raise DatasetError(f"{name}: empty file (0 bytes); re-create it")
    else:
        raise DatasetError(f"{name}: unsupported image format ({codec}); store PNG, JPEG, JPEG 2000, HTJ2K or raw "
                           f"(dali-sr pack --codec)")
    if codec in ("png", "jpeg"):
        # cv2.IMREAD_COLOR and DALI's decoders both apply Exif orientation: 5-8 swap height and width
        orientation = (_png_orientation if codec == "png" else _jpeg_orientation)(memoryview(encoded.reshape(-1)))
        if orientation >= 5:
            header = replace(header, height=header.width, width=header.height, transposed=True)
    if header.width <= 0 or header.height <= 0:
        raise DatasetError(f"{name}: image header says {header.height}x{header.width} pixels; the file is corrupt")
    if max(header.width, header.height) > MAX_SIDE or header.width * header.height > MAX_PIXELS:
        raise DatasetError(f"{name}: image is {header.height}x{header.width}, above the {MAX_SIDE}-pixel side / "
                           f"{MAX_PIXELS} pixel limit; split it into sub-images (dali-sr extract-subimages)")
    return header
