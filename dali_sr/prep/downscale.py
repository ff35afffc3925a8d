"""`dali-sr downscale SRC DST --scale S`: LQ images from GT with MATLAB's bicubic, without MATLAB.

Each image of SRC (a folder or an LMDB) is read as OpenCV reads it (`IMREAD_UNCHANGED`), cut to
multiples of S from its top-left corner (MATLAB's `modcrop`, as BasicSR's LR scripts do), downscaled
by `dali_sr.degrade.bicubic` (MATLAB's antialiased `imresize(img, 1/S, 'bicubic')`, the bicubic
GT-only loaders apply in their graph) and rounded to uint8 levels. The result is written under the
same key as BasicSR's level-1 PNG: into a folder (`key.png`), or into an LMDB when DST ends with
`.lmdb` (built in `DST.partial`, renamed when complete). `--resume` continues an interrupted run.
"""
from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..cli_types import positive_int
from ..degrade.bicubic import downscale as bicubic_down
from ..degrade.bicubic import to_uint8
from ..errors import ConfigError, DatasetError
from ..parallel import check_workers, ordered_map, usable_cpus
from ..progress import progress as progress_bar
from ..storage.codecs import DEFAULT_LEVEL, decode, encode, meta_tag
from ..storage.meta_files import Shape
from .partial_lmdb import check_destination, fill_partial, finish, open_partial, partial_path
from .stored_images import StoredImages


@dataclass(frozen=True)
class DownscaleReport:
    dst: str
    images: int  # images in DST
    written: int  # written by this run
    resumed: int  # already there from an interrupted run
    seconds: float


def downscale_image(value: np.ndarray, name: str, scale: int) -> np.ndarray:
    """The LQ pixels of one stored GT image: decoded, mod-cropped to multiples of `scale`, bicubic, uint8."""
    img = decode(value)
    if img is None:
        raise DatasetError(f"{name}: OpenCV cannot decode this image (corrupt or truncated); re-create or remove it")
    if img.dtype != np.uint8:
        raise DatasetError(f"{name}: {img.dtype} image; downscale reads 8-bit images, as the loader does: convert it")
    h, w = img.shape[0] - img.shape[0] % scale, img.shape[1] - img.shape[1] % scale
    if h == 0 or w == 0:
        raise DatasetError(f"{name}: {img.shape[0]}x{img.shape[1]} is smaller than scale {scale}; remove it")
    return to_uint8(bicubic_down(img[:h, :w], scale))


def _lq_value(images: StoredImages, key: str, scale: int) -> tuple[bytes, Shape]:
    lq = downscale_image(images.read(key), images.name(key), scale)
    shape = (lq.shape[0], lq.shape[1], 1 if lq.ndim == 2 else lq.shape[2])
    return encode(lq, "png", key, DEFAULT_LEVEL), shape


def _to_folder(images: StoredImages, dst: Path, scale: int, resume: bool, workers: int, progress: bool) -> tuple[int, int]:
    """(written, resumed): `key.png` files, each written whole (a temporary file renamed) so a rerun can skip it."""
    if dst.exists() and any(dst.iterdir()) and not resume:
        raise DatasetError(f"DST {dst} exists and is not empty; pass --resume to continue an interrupted downscale, "
                           f"or choose another DST")
    keys = images.keys()
    todo = [k for k in keys if not (dst / f"{k}.png").is_file()]

    def write(key: str) -> None:
        value, _ = _lq_value(images, key, scale)
        path = dst / f"{key}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(value)
        os.replace(tmp, path)

    with progress_bar(len(keys), f"downscale x{scale}", "img", progress, initial=len(keys) - len(todo)) as bar:
        for _ in ordered_map(write, todo, workers):
            bar.update()
    return len(todo), len(keys) - len(todo)


def _to_lmdb(images: StoredImages, src: Path, dst: Path, scale: int, resume: bool, force: bool, workers: int,
             progress: bool) -> tuple[int, int]:
    """(written, resumed): an LMDB of PNG values and BasicSR meta lines, built resumably."""
    tag = meta_tag("png", DEFAULT_LEVEL)
    check_destination(src, dst, force, resume, "downscale")
    partial = partial_path(str(dst))
    env, shapes = open_partial(partial, resume, "png", tag, 64 << 20, "downscale")
    resumed = len(shapes)
    todo = [k for k in images.keys() if k not in shapes]
    try:
        results = ordered_map(lambda k: _lq_value(images, k, scale), todo, workers)
        with progress_bar(len(shapes) + len(todo), f"downscale x{scale}", "img", progress, initial=resumed) as bar:
            fill_partial(env, shapes, todo, results, bar)
    finally:
        env.close()
    finish(partial, dst, shapes, "png", tag)
    return len(todo), resumed


def downscale(src: str, dst: str, scale: int, *, resume: bool = False, force: bool = False,
              workers: Optional[int] = None, progress: bool = True) -> DownscaleReport:
    """Write the bicubic LQ of every GT image in `src` (folder or LMDB) to `dst` (folder, or LMDB for `*.lmdb`)."""
    if not isinstance(scale, int) or isinstance(scale, bool) or scale < 2:
        raise ConfigError(f"--scale must be an integer of at least 2, got {scale!r}")
    workers = usable_cpus() if workers is None else check_workers(workers)
    t0 = time.perf_counter()
    src_p, dst_p = Path(src), Path(dst)
    if src_p.resolve() == dst_p.resolve():
        raise ConfigError(f"DST {dst} is SRC; write the LQ images to another folder")
    with StoredImages(src) as images:
        if dst.endswith(".lmdb"):
            written, resumed = _to_lmdb(images, src_p, dst_p, scale, resume, force, workers, progress)
        else:
            written, resumed = _to_folder(images, dst_p, scale, resume, workers, progress)
    return DownscaleReport(dst, written + resumed, written, resumed, time.perf_counter() - t0)


def add_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add the `downscale` subcommand to the `dali-sr` subparsers."""
    p = subparsers.add_parser(
        "downscale", help="LQ images from GT with MATLAB's bicubic imresize (folder or LMDB), without MATLAB",
        description="Cut every GT image of SRC (a folder of images or an LMDB) to multiples of S, downscale it "
                    "by S with MATLAB's antialiased bicubic imresize (the same the GT-only loaders apply), round "
                    "to uint8 and store it as a level-1 PNG under the same key: files in a folder DST, or an LMDB "
                    "when DST ends with .lmdb. On every core; --resume continues an interrupted run.")
    p.add_argument("src", metavar="SRC", help="GT folder or LMDB")
    p.add_argument("dst", metavar="DST", help="LQ folder, or LMDB folder ending in .lmdb")
    p.add_argument("--scale", type=positive_int, required=True, help="downscale factor (an integer >= 2)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run, keeping what it wrote")
    p.add_argument("--force", action="store_true", help="replace an existing LMDB DST")
    p.add_argument("--workers", type=positive_int, default=None, help="threads (default: every usable CPU)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    r = downscale(args.src, args.dst, args.scale, resume=args.resume, force=args.force, workers=args.workers,
                  progress=not args.quiet)
    kept = f", {r.resumed} kept from the interrupted run" if r.resumed else ""
    print(f"downscaled {r.images} images x{args.scale} into {r.dst}: {r.written} written{kept}, in {r.seconds:.1f} s")
    return 0
