"""The storage codecs `dali-sr pack` writes and the loader reads: png, jpeg, jpeg2000, htj2k, raw.

- png: BasicSR's value, `cv2.imencode('.png', img, [IMWRITE_PNG_COMPRESSION, level])`;
  decoded on DALI's CPU threads (also on GPU).
- jpeg: lossy (`quality`); decoded by nvJPEG on the GPU.
- jpeg2000: reversible (lossless) JP2, decoded by nvJPEG2000 on the GPU. OpenCV's
  OpenJPEG writer uses five wavelet levels, so both sides must be at least 32 pixels.
- htj2k: lossless High-Throughput JPEG 2000 (Part 15) in a JPH file, written by OpenJPH
  (through imagecodecs, which bundles it); every code-block is an HT block, which
  nvJPEG2000 decodes on the GPU, and DALI's CPU decoder reads it several times faster than
  classic JPEG 2000. Any size.
- raw: binary PPM (RGB) / PGM (gray): a short text header with the size, then uint8 HWC
  pixels; the loader cuts windows from it without decoding.

Non-PNG codecs store 8-bit gray or colour: 16-bit images are refused and an alpha channel
is dropped, as `cv2.IMREAD_COLOR` (what the loader does) would drop it. `meta_info.txt`
records the codec in its last column: the PNG level (BasicSR's column), `jpeg:q<quality>`,
`jpeg2000:lossless`, `htj2k:lossless` or `raw`.
"""
from __future__ import annotations

import struct
from typing import Optional

import numpy as np

from ..errors import ConfigError, DatasetError
from .formats import CODECS, codec_extension
from .headers import JPH_BRAND

DEFAULT_LEVEL = 1
DEFAULT_QUALITY = 95
MIN_JPEG2000_SIDE = 32


def check_codec(codec: str, level: int = DEFAULT_LEVEL, quality: int = DEFAULT_QUALITY) -> None:
    """`ConfigError` for an unknown codec, a PNG level outside 0..9 or a JPEG quality outside 1..100."""
    if codec not in CODECS:
        raise ConfigError(f"unknown codec {codec!r}; choose one of {', '.join(CODECS)}")
    if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 9:
        raise ConfigError(f"PNG compression level must be 0..9, got {level!r}; BasicSR uses 1")
    if not isinstance(quality, int) or isinstance(quality, bool) or not 1 <= quality <= 100:
        raise ConfigError(f"JPEG quality must be 1..100, got {quality!r}")


def meta_tag(codec: str, level: int = DEFAULT_LEVEL, quality: int = DEFAULT_QUALITY) -> str:
    """The last column of a `meta_info.txt` line for values of `codec`."""
    return {"png": str(level), "jpeg": f"jpeg:q{quality}", "jpeg2000": "jpeg2000:lossless", "htj2k": "htj2k:lossless",
            "raw": "raw"}[codec]


def codec_of_tag(tag: str) -> Optional[str]:
    """The codec a `meta_info.txt` last column names (a bare number is BasicSR's PNG level); None if none."""
    if tag.isdigit():
        return "png"
    name = tag.split(":", 1)[0]
    return name if name in CODECS else None


def _to_8bit_colour(img: np.ndarray, name: str, codec: str) -> np.ndarray:
    if img.dtype != np.uint8:
        raise DatasetError(f"{name}: {img.dtype} image cannot be stored as {codec} (8-bit only); convert it to 8-bit "
                           f"or pack it with --codec png")
    if img.ndim == 3 and img.shape[2] == 4:
        return np.ascontiguousarray(img[:, :, :3])
    if img.ndim == 3 and img.shape[2] == 2:  # gray + alpha
        return np.ascontiguousarray(img[:, :, 0])
    return img


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def jph_file(codestream: bytes, height: int, width: int, channels: int) -> bytes:
    """An HTJ2K codestream in the JPH file format (ISO/IEC 15444-15): signature, file type `jph `, a header with
    the size and an sRGB (or grey) colour box, then the codestream. Decoders then need not guess the colours."""
    ihdr = struct.pack(">IIHBBBB", height, width, channels, 7, 7, 0, 0)  # 8 bits per component, wavelet coded
    colr = struct.pack(">BBBI", 1, 0, 0, 17 if channels == 1 else 16)  # enumerated: 16 sRGB, 17 greyscale
    return (_box(b"jP  ", b"\r\n\x87\n") + _box(b"ftyp", JPH_BRAND + b"\0\0\0\0" + JPH_BRAND + b"jp2 ")
            + _box(b"jp2h", _box(b"ihdr", ihdr) + _box(b"colr", colr)) + _box(b"jp2c", codestream))


def _htj2k(img: np.ndarray) -> bytes:
    """Lossless HTJ2K (OpenJPH through imagecodecs, reversible 5/3 wavelet) of a BGR or gray uint8 image."""
    import imagecodecs

    pixels = img if img.ndim == 2 else np.ascontiguousarray(img[:, :, ::-1])  # stored as RGB, as decoders read it
    channels = 1 if img.ndim == 2 else img.shape[2]
    return jph_file(bytes(imagecodecs.htj2k_encode(pixels, level=0)), img.shape[0], img.shape[1], channels)


def encode(img: np.ndarray, codec: str, name: str, level: int = DEFAULT_LEVEL,
           quality: int = DEFAULT_QUALITY) -> bytes:
    """Bytes of `img` (as `cv2.imread(path, IMREAD_UNCHANGED)` gives it: BGR, BGRA or gray) in `codec`.

    jpeg2000 and htj2k values are decoded again (by OpenCV's OpenJPEG) and compared, so a value
    that would not round-trip exactly is never stored. `DatasetError` naming `name` when the
    image cannot be stored this way.
    """
    import cv2

    if codec == "htj2k":
        img = _to_8bit_colour(img, name, codec)
        buf = np.frombuffer(_htj2k(img), np.uint8)
        _check_lossless(buf, img, name, "HTJ2K (OpenJPH)")
        return buf.tobytes()
    if codec == "png":
        params = [cv2.IMWRITE_PNG_COMPRESSION, level]
    else:
        img = _to_8bit_colour(img, name, codec)
        params = {"jpeg": [cv2.IMWRITE_JPEG_QUALITY, quality],
                  "jpeg2000": [cv2.IMWRITE_JPEG2000_COMPRESSION_X1000, 1000], "raw": []}[codec]
        if codec == "jpeg2000" and min(img.shape[:2]) < MIN_JPEG2000_SIDE:
            raise DatasetError(f"{name}: {img.shape[0]}x{img.shape[1]} is too small for JPEG 2000 (OpenCV's encoder "
                               f"needs sides of at least {MIN_JPEG2000_SIDE}); pack it with --codec raw or png")
    channels = 1 if img.ndim == 2 else img.shape[2]
    try:
        ok, buf = cv2.imencode(codec_extension(codec, channels), img, params)
    except cv2.error:
        ok = False
    if not ok:
        raise DatasetError(f"{name}: cannot store a {img.dtype} image of shape {img.shape} as {codec}; convert it to "
                           f"1 or 3 channels of 8 bits")
    if codec == "jpeg2000":
        _check_lossless(buf, img, name, "this OpenCV's JPEG 2000")
    return buf.tobytes()


def _check_lossless(buf: np.ndarray, img: np.ndarray, name: str, encoder: str) -> None:
    """`DatasetError` unless `buf` decodes to exactly `img`."""
    back = decode(buf)
    if back is None or back.shape != img.shape or not np.array_equal(back, img):
        raise DatasetError(f"{name}: the {encoder} encoder did not store the image losslessly; pack with --codec raw "
                           f"or png")


def decode(value: np.ndarray) -> Optional[np.ndarray]:
    """Pixels of stored bytes as OpenCV reads them (`IMREAD_UNCHANGED`: BGR or gray); None if undecodable."""
    import cv2

    try:
        return cv2.imdecode(value, cv2.IMREAD_UNCHANGED)
    except cv2.error:
        return None
