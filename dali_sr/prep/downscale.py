"""`dali-sr downscale SRC DST --scale S`: LQ images from GT with MATLAB's bicubic, without MATLAB.

Each image of SRC (a folder or an LMDB) is read as OpenCV reads it (`IMREAD_UNCHANGED`) by
`source_image` (refused above `--max-pixels` before decoding, and unless it decodes completely), cut
to multiples of S from its top-left corner (MATLAB's `modcrop`, as BasicSR's LR scripts do),
downscaled by `dali_sr.degrade.bicubic` (MATLAB's antialiased `imresize(img, 1/S, 'bicubic')`, the
bicubic GT-only loaders apply in their graph) in bands of rows, so the float work of a big image
stays small, and rounded to uint8 levels. The result is written under the same key as BasicSR's
level-1 PNG: into a folder (`key.png`, built in `DST.partial` by `partial_folder`), or into an LMDB
when DST ends with `.lmdb` (`partial_lmdb`); either is renamed to DST when complete. `--resume`
continues an interrupted run.
"""
from __future__ import annotations

import argparse
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..cli_types import positive_int
from ..degrade.bicubic import downscale as bicubic_down
from ..degrade.bicubic import taps, to_uint8
from ..errors import ConfigError, DatasetError
from ..parallel import check_workers, ordered_map, usable_cpus
from ..progress import progress as progress_bar
from ..storage.codecs import DEFAULT_LEVEL, encode, meta_tag
from ..storage.meta_files import Shape
from .partial_folder import Fingerprint, check_folder_destination, file_fingerprint, open_folder_build, write_whole
from .partial_lmdb import check_destination, fill_partial, finish, open_partial, partial_path
from .source_image import DEFAULT_MAX_PIXELS, add_max_pixels_argument, check_max_pixels, read_source_image
from .stored_images import StoredImages

COMMAND = "downscale"


@dataclass(frozen=True)
class DownscaleReport:
    dst: str
    images: int  # images in DST
    written: int  # written by this run
    resumed: int  # already there from an interrupted run
    seconds: float


BAND_PIXELS = 1 << 21  # input pixels of one band of rows: ~4 float32 copies of them per channel at a time


def _bands(height: int, width: int, scale: int) -> list[tuple[int, int, int, int]]:
    """Bands of about `BAND_PIXELS` input pixels: the (first, last) input rows of each, and the (start, stop) of
    the rows of its output that are exact.

    Output row i reads input rows i * scale - anchor ... i * scale - anchor + taps - 1 (mirrored beyond the
    image); a band that also holds `margin` output rows' worth of input on each side (or reaches the image's
    edge) gives its middle rows exactly as the whole image does: the same products summed in the same order.
    """
    weights, anchor = taps(scale)
    margin = -(-max(anchor, len(weights) - anchor) // scale)
    rows = height // scale
    step = max(1, BAND_PIXELS // (width * scale))
    bands = []
    for top in range(0, rows, step):
        bottom = min(rows, top + step)
        first, last = max(0, top - margin), min(rows, bottom + margin)
        bands.append((first * scale, last * scale, top - first, bottom - first))
    return bands


def downscale_pixels(img: np.ndarray, scale: int) -> np.ndarray:
    """`to_uint8(bicubic_down(img, scale))` for `img` with sides multiples of `scale`, in bands of rows."""
    out = np.empty((img.shape[0] // scale, img.shape[1] // scale) + img.shape[2:], np.uint8)
    row = 0
    for first, last, top, bottom in _bands(img.shape[0], img.shape[1], scale):
        out[row:row + bottom - top] = to_uint8(bicubic_down(img[first:last], scale)[top:bottom])
        row += bottom - top
    return out


def downscale_image(value: np.ndarray, name: str, scale: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The LQ pixels of one stored GT image: decoded (`source_image`), mod-cropped to multiples of `scale`, bicubic,
    uint8."""
    img = read_source_image(name, max_pixels, data=value.tobytes())
    if img.dtype != np.uint8:
        raise DatasetError(f"{name}: {img.dtype} image; downscale reads 8-bit images, as the loader does: convert it")
    h, w = img.shape[0] - img.shape[0] % scale, img.shape[1] - img.shape[1] % scale
    if h == 0 or w == 0:
        raise DatasetError(f"{name}: {img.shape[0]}x{img.shape[1]} is smaller than scale {scale}; remove it")
    return downscale_pixels(img[:h, :w], scale)


def _lq_value(images: StoredImages, key: str, scale: int, max_pixels: int) -> tuple[bytes, Shape]:
    lq = downscale_image(images.read(key), images.name(key), scale, max_pixels)
    shape = (lq.shape[0], lq.shape[1], 1 if lq.ndim == 2 else lq.shape[2])
    return encode(lq, "png", key, DEFAULT_LEVEL), shape


def _fingerprints(images: StoredImages) -> dict[str, Fingerprint]:
    """What changes when a source image changes: a file's size and mtime; a stored value's size and first bytes."""
    if images.kind == "folder":
        return {key: file_fingerprint(images.name(key)) for key in images.keys()}
    return {key: [size, zlib.crc32(head.tobytes())] for key, size, head in images.heads()}


def _to_folder(images: StoredImages, src: Path, dst: Path, scale: int, resume: bool, force: bool, workers: int,
               progress: bool, max_pixels: int) -> tuple[int, int]:
    """(written, resumed): `key.png` files, built in DST.partial and renamed to DST when all are there."""
    if images.kind == "folder" and src.resolve() in dst.resolve().parents:
        raise ConfigError(f"DST {dst} is inside SRC {src}, whose images are read from every subfolder; choose a DST "
                          f"outside SRC")
    check_folder_destination(src, dst, force, resume, COMMAND, lambda name: name.endswith(".png"), "PNG images")
    keys = images.keys()
    build = open_folder_build(dst, COMMAND, {"--scale": scale}, _fingerprints(images), lambda key: [f"{key}.png"],
                              resume)
    todo = [k for k in keys if f"{k}.png" not in build.kept]

    def write(key: str) -> None:
        write_whole(build.path(f"{key}.png"), _lq_value(images, key, scale, max_pixels)[0])

    with progress_bar(len(keys), f"downscale x{scale}", "img", progress, initial=len(keys) - len(todo)) as bar:
        for _ in ordered_map(write, todo, workers):
            bar.update()
    build.finish()
    return len(todo), len(keys) - len(todo)


def _to_lmdb(images: StoredImages, src: Path, dst: Path, scale: int, resume: bool, force: bool, workers: int,
             progress: bool, max_pixels: int) -> tuple[int, int]:
    """(written, resumed): an LMDB of PNG values and BasicSR meta lines, built resumably."""
    tag = meta_tag("png", DEFAULT_LEVEL)
    check_destination(src, dst, force, resume, COMMAND)
    partial = partial_path(str(dst))
    env, shapes = open_partial(partial, resume, "png", tag, 64 << 20, COMMAND)
    resumed = len(shapes)
    todo = [k for k in images.keys() if k not in shapes]
    try:
        results = ordered_map(lambda k: _lq_value(images, k, scale, max_pixels), todo, workers)
        with progress_bar(len(shapes) + len(todo), f"downscale x{scale}", "img", progress, initial=resumed) as bar:
            fill_partial(env, shapes, todo, results, bar)
    finally:
        env.close()
    finish(partial, dst, shapes, "png", tag)
    return len(todo), resumed


def downscale(src: str, dst: str, scale: int, *, resume: bool = False, force: bool = False,
              workers: Optional[int] = None, progress: bool = True,
              max_pixels: int = DEFAULT_MAX_PIXELS) -> DownscaleReport:
    """Write the bicubic LQ of every GT image in `src` (folder or LMDB) to `dst` (folder, or LMDB for `*.lmdb`).

    Images above `max_pixels` pixels are refused before decoding; peak memory is about a decoded image per worker.
    """
    if not isinstance(scale, int) or isinstance(scale, bool) or scale < 2:
        raise ConfigError(f"--scale must be an integer of at least 2, got {scale!r}")
    check_max_pixels(max_pixels)
    workers = usable_cpus() if workers is None else check_workers(workers)
    t0 = time.perf_counter()
    src_p, dst_p = Path(src), Path(dst)
    if src_p.resolve() == dst_p.resolve():
        raise ConfigError(f"DST {dst} is SRC; write the LQ images to another folder")
    with StoredImages(src) as images:
        if dst.endswith(".lmdb"):
            written, resumed = _to_lmdb(images, src_p, dst_p, scale, resume, force, workers, progress, max_pixels)
        else:
            written, resumed = _to_folder(images, src_p, dst_p, scale, resume, force, workers, progress, max_pixels)
    return DownscaleReport(dst, written + resumed, written, resumed, time.perf_counter() - t0)


def add_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add the `downscale` subcommand to the `dali-sr` subparsers."""
    p = subparsers.add_parser(
        "downscale", help="LQ images from GT with MATLAB's bicubic imresize (folder or LMDB), without MATLAB",
        description="Cut every GT image of SRC (a folder of images or an LMDB) to multiples of S, downscale it "
                    "by S with MATLAB's antialiased bicubic imresize (the same the GT-only loaders apply), round "
                    "to uint8 and store it as a level-1 PNG under the same key: files in a folder DST, or an LMDB "
                    "when DST ends with .lmdb, built in DST.partial and renamed when complete. On every core; "
                    "--resume continues an interrupted run.")
    p.add_argument("src", metavar="SRC", help="GT folder or LMDB")
    p.add_argument("dst", metavar="DST", help="LQ folder, or LMDB folder ending in .lmdb")
    p.add_argument("--scale", type=positive_int, required=True, help="downscale factor (an integer >= 2)")
    p.add_argument("--resume", action="store_true",
                   help="continue the interrupted run in DST.partial (same --scale), keeping what it wrote")
    p.add_argument("--force", action="store_true",
                   help="replace an existing DST (an LMDB, or a folder of PNG images only); without --resume, also "
                        "discard an unfinished DST.partial")
    p.add_argument("--workers", type=positive_int, default=None, help="threads (default: every usable CPU)")
    add_max_pixels_argument(p)
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    r = downscale(args.src, args.dst, args.scale, resume=args.resume, force=args.force, workers=args.workers,
                  progress=not args.quiet, max_pixels=args.max_pixels)
    kept = f", {r.resumed} kept from the interrupted run" if r.resumed else ""
    print(f"downscaled {r.images} images x{args.scale} into {r.dst}: {r.written} written{kept}, in {r.seconds:.1f} s")
    return 0
