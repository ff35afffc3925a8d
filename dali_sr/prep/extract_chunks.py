"""`dali-sr extract-chunks SRC DST`: cut images into DL-Art-School's chunked format (its extract_subimages_with_ref).

Every image under SRC (all levels, sorted by folder then name; names holding `ref.jpg` left out) gives a
folder in DST per square (`chunk_plan`): `ref.jpg` (the square, INTER_AREA to the first tile size),
`%08d.jpg` tiles (each window INTER_AREA to its tile size) and `centers.pt` ({tile id: ((y, x), width)} in
ref.jpg pixels, plain tuples and ints for `torch.load(weights_only=True)`), JPEGs by cv2.imencode at
`quality`. Ids run over the whole dataset in source order and, as the script numbers them, each folder's
reference takes one id before its tiles. Folder names count the folders written (`a_left_0`, `b_left_1`).

Differences from the script, where it fails: a missing mask is an error (the script silently keeps every
tile); the mask is scaled by its own size for every crop size (the script assumes 256-pixel masks and maps
them right only for the first crop size, when its resize is 1); grey masks work (the script fails on
them); split squares fit inside their half (the script sizes them by the whole width); an alpha channel is
dropped and 16-bit images are scaled to 8 bits (the script's JPEG write fails on both); centres and widths
are exact floors (the script's floating-point division can give one pixel less); grey images, skipped as
by the script, are listed with the small ones. Images above the pixel limit or that do not decode
completely are one-line errors.

Built in `DST.partial` (`partial_folder`) and renamed when complete; `resume` continues an interrupted run.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

from ..cli_types import non_negative_int, positive_int
from ..errors import DatasetError
from ..parallel import check_workers, default_workers, run_pool
from ..storage.formats import is_image_name
from .chunk_plan import (ChunkOptions, Square, Tile, check_chunk_options, folder_name, mask_name, mask_test,
                         squares, tiles, working_size)
from .partial_folder import FolderBuild, check_folder_destination, file_fingerprint, open_folder_build, write_whole
from .source_image import DEFAULT_MAX_PIXELS, add_max_pixels_argument, check_max_pixels, read_source_image
from .source_pixels import probe_shape

COMMAND = "extract-chunks"
REF_NAME = "ref.jpg"
CENTERS_NAME = "centers.pt"
_CHUNK_FILE = re.compile(r"[^/]+/(ref\.jpg|centers\.pt|\d{8,}\.jpg)")


@dataclass(frozen=True)
class ChunkFolder:
    """One output folder: its name, its square, the id of its reference and its tiles (ids following it)."""

    name: str
    square: Square
    ref_id: int
    tiles: tuple[Tile, ...]

    def tile_names(self) -> list[str]:
        return [f"{self.name}/{self.ref_id + i:08d}.jpg" for i in range(1, len(self.tiles) + 1)]

    def outputs(self) -> list[str]:
        """Its files, in the order they are written (centers.pt last)."""
        return [f"{self.name}/{REF_NAME}", *self.tile_names(), f"{self.name}/{CENTERS_NAME}"]

    def centers(self) -> dict[int, tuple[tuple[int, int], int]]:
        """`centers.pt`'s content: {tile id: ((y, x), width)}."""
        return {self.ref_id + i: (tile.center, tile.width) for i, tile in enumerate(self.tiles, 1)}


@dataclass
class _Source:
    path: str
    rel: str  # '/'-path under SRC: the key of its fingerprint
    height: int = 0  # as stored
    width: int = 0
    halved: bool = False
    skipped: str = ""  # why it gives no folder: "grey" or "small"
    cut: tuple[tuple[Square, tuple[Tile, ...]], ...] = ()  # the squares that have tiles
    folders: list[ChunkFolder] = field(default_factory=list)

    def outputs(self) -> list[str]:
        return [name for folder in self.folders for name in folder.outputs()]


@dataclass
class ChunkReport:
    images: int  # source images found
    folders: int  # chunk folders written
    tiles: int
    small: list[str]  # skipped: short side below --min-size (after halving)
    grey: list[str]  # skipped: one channel
    halved: list[str]  # above --max-size, halved first
    resumed: int = 0  # files kept from an interrupted run


def source_images(src: str) -> list[str]:
    """'/'-paths under `src` of the images to cut: every level, folders in sorted path order and the names in each
    sorted, leaving out names that hold `ref.jpg`; a one-line `DatasetError` when there is none."""
    if not os.path.isdir(src):
        raise DatasetError(f"{src} is not a folder; give the folder that holds the images")
    found = []
    for root, _, names in sorted(os.walk(src)):
        rel = Path(root).relative_to(src)
        found.extend((rel / name).as_posix() for name in sorted(names)
                     if is_image_name(name) and REF_NAME not in name)
    if not found:
        raise DatasetError(f"{src} holds no images; put the photographs to cut (png, jpg, ...) there")
    return found


def _eight_bits(img):
    """`img` as 8 bits per channel (16-bit values scaled by 255/65535, rounded)."""
    import numpy as np

    if img.dtype == np.uint8:
        return img
    return ((img.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _plan(source: _Source, opts: ChunkOptions, mask_dir: Optional[str], max_pixels: int) -> None:
    """Fill in the size of `source` and the tiles of each of its squares (the mask read here)."""
    h, w, c = probe_shape(source.path, max_pixels)
    source.height, source.width = h, w
    if c == 1:
        source.skipped = "grey"
        return
    wh, ww = working_size(h, w, opts.max_size)
    source.halved = (wh, ww) != (h, w)
    if min(wh, ww) < opts.min_size:
        source.skipped = "small"
        return
    mask = _eight_bits(read_source_image(os.path.join(mask_dir, mask_name(source.path)), max_pixels)) if mask_dir \
        else None
    cut = []
    for square in squares(wh, ww, opts.vertical_split):
        found = tiles(square.size, opts, None if mask is None else mask_test(mask, square.size))
        if found:
            cut.append((square, found))
    source.cut = tuple(cut)


def _number(sources: list[_Source]) -> None:
    """Name the folders and number the ids in source order: a folder's reference takes an id, then its tiles."""
    next_id = counter = 0
    for source in sources:
        for square, found in source.cut:
            source.folders.append(ChunkFolder(folder_name(source.path, square.label, counter), square, next_id,
                                              found))
            next_id += 1 + len(found)
            counter += 1


def _fingerprint(source: _Source, mask_dir: Optional[str]) -> list:
    """What changes when the source, its mask or what it writes (names, ids, windows) changes."""
    plan = json.dumps([asdict(folder) for folder in source.folders], sort_keys=True).encode()
    mask = file_fingerprint(os.path.join(mask_dir, mask_name(source.path))) if mask_dir else []
    return [*file_fingerprint(source.path), *mask, hashlib.sha256(plan).hexdigest()]


def _encode(img, quality: int) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise DatasetError(f"OpenCV could not encode a tile of shape {img.shape} as JPEG")
    return data.tobytes()


def _centers_bytes(folder: ChunkFolder) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(folder.centers(), buffer)
    return buffer.getvalue()


def working_image(path: str, height: int, width: int, halved: bool, max_pixels: int):
    """The source image the squares are cut from: BGR, 8 bits (alpha dropped), halved by INTER_AREA if `halved`."""
    import cv2
    import numpy as np

    img = _eight_bits(read_source_image(path, max_pixels))
    if img.shape[:2] != (height, width):
        raise DatasetError(f"{path}: header says {height}x{width} but the image decodes to "
                           f"{img.shape[0]}x{img.shape[1]}; the file is corrupt, re-create it")
    if img.ndim == 3 and img.shape[2] == 4:
        img = np.ascontiguousarray(img[:, :, :3])
    if halved:
        img = cv2.resize(img, (width // 2, height // 2), interpolation=cv2.INTER_AREA)
    return img


def _write_source(source: _Source, build: FolderBuild, opts: ChunkOptions, max_pixels: int) -> None:
    import cv2

    img = working_image(source.path, source.height, source.width, source.halved, max_pixels)
    ref_size = opts.tile_sizes[0]
    for folder in source.folders:
        sq = folder.square
        square = img[sq.top:sq.top + sq.size, sq.left:sq.left + sq.size]
        ref_name, *tile_names, centers_name = folder.outputs()
        if ref_name not in build.kept:
            write_whole(build.path(ref_name), _encode(cv2.resize(square, (ref_size, ref_size),
                                                                 interpolation=cv2.INTER_AREA), opts.quality))
        for name, tile in zip(tile_names, folder.tiles):
            if name in build.kept:
                continue
            window = square[tile.top:tile.top + tile.crop, tile.left:tile.left + tile.crop]
            pixels = cv2.resize(window, (tile.size, tile.size), interpolation=cv2.INTER_AREA)
            write_whole(build.path(name), _encode(pixels, opts.quality))
        if centers_name not in build.kept:
            write_whole(build.path(centers_name), _centers_bytes(folder))


def _check_masks(src: str, rels: list[str], mask_dir: str) -> None:
    if not os.path.isdir(mask_dir):
        raise DatasetError(f"--mask-dir {mask_dir} is not a folder; give the folder of the masks (a.jpg -> a.jpg.png)")
    missing = [rel for rel in rels if not os.path.isfile(os.path.join(mask_dir, mask_name(rel)))]
    if missing:
        raise DatasetError(f"{len(missing)} image(s) of {src} have no mask in {mask_dir}: "
                           f"{os.path.join(mask_dir, mask_name(missing[0]))} is missing; add the masks or leave out "
                           f"--mask-dir")


def _options(opts: ChunkOptions, mask_dir: Optional[str]) -> dict:
    return {"--crop-size": list(opts.crop_sizes), "--step": list(opts.steps), "--thres-size": opts.thres_size,
            "--resize": list(opts.resizes), "--quality": opts.quality, "--only-resize": opts.only_resize,
            "--vertical-split": opts.vertical_split, "--min-size": opts.min_size, "--max-size": opts.max_size,
            "--mask-dir": None if mask_dir is None else os.path.abspath(mask_dir)}


def extract_chunks(src: str, dst: str, opts: ChunkOptions = ChunkOptions(), mask_dir: Optional[str] = None,
                   workers: Optional[int] = None, force: bool = False, resume: bool = False, progress: bool = True,
                   max_pixels: int = DEFAULT_MAX_PIXELS) -> ChunkReport:
    """Cut every image under `src` into DL-Art-School's chunked format in the new folder `dst`.

    Built in `dst.partial` and renamed when complete; `resume` continues an interrupted run (same options),
    `force` replaces a `dst` of chunk folders. Images above `max_pixels` pixels are refused before decoding.
    """
    check_chunk_options(opts)
    check_max_pixels(max_pixels)
    workers = check_workers(workers)
    rels = source_images(src)
    check_folder_destination(Path(src), Path(dst), force, resume, COMMAND, _CHUNK_FILE.fullmatch, "chunk folders")
    if mask_dir is not None:
        _check_masks(src, rels, mask_dir)
    sources = [_Source(os.path.join(src, *rel.split("/")), rel) for rel in rels]
    run_pool(lambda s: _plan(s, opts, mask_dir, max_pixels), sources, workers, "planning", "image", progress)
    _number(sources)
    small = [f"{s.rel} ({s.height}x{s.width}{', halved' if s.halved else ''})" for s in sources
             if s.skipped == "small"]
    grey = [s.rel for s in sources if s.skipped == "grey"]
    writing = [s for s in sources if s.folders]
    if not writing:
        raise DatasetError(f"no image of {src} gives a tile ({len(small)} smaller than --min-size {opts.min_size}, "
                           f"{len(grey)} grey, the rest smaller than every --crop-size or masked out); lower "
                           f"--min-size or --crop-size")
    by_rel = {s.rel: s for s in writing}
    build = open_folder_build(Path(dst), COMMAND, _options(opts, mask_dir),
                              {rel: _fingerprint(s, mask_dir) for rel, s in by_rel.items()},
                              lambda rel: by_rel[rel].outputs(), resume)
    todo = [s for s in writing if not build.kept.issuperset(s.outputs())]
    run_pool(lambda s: _write_source(s, build, opts, max_pixels), todo, workers, COMMAND, "image", progress)
    build.finish()
    return ChunkReport(images=len(sources), folders=sum(len(s.folders) for s in writing),
                       tiles=sum(len(f.tiles) for s in writing for f in s.folders), small=small, grey=grey,
                       halved=[s.rel for s in sources if s.halved], resumed=len(build.kept))


def add_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add the `extract-chunks` subcommand to the `dali-sr` subparsers."""
    p = subparsers.add_parser(
        COMMAND, help="cut images into DL-Art-School's chunked format (extract_subimages_with_ref)",
        description="Cut every image under SRC (all levels) into DL-Art-School's chunked format in the new folder "
                    "DST: per image a folder with ref.jpg (its centre square, INTER_AREA to the first tile size), "
                    "%08d.jpg tiles (windows of each --crop-size every --step pixels over the square, plus one flush "
                    "with the border when more than --thres-size pixels are left, INTER_AREA to crop x --resize) "
                    "and centers.pt ({tile id: ((y, x), width)} in ref.jpg pixels). Images larger than --max-size "
                    "are halved first; smaller than --min-size, skipped and listed. DST is built in DST.partial and "
                    "renamed when complete; an interrupted run continues with --resume.")
    p.add_argument("src", metavar="SRC", help="folder of images (searched at every level)")
    p.add_argument("dst", metavar="DST", help="new folder for the chunk folders")
    p.add_argument("--crop-size", type=positive_int, nargs="+", default=[256, 512], metavar="N",
                   help="window side of each scale in pixels of the square (default 256 512)")
    p.add_argument("--step", type=positive_int, nargs="+", default=[128, 256], metavar="N",
                   help="stride of each scale's sliding window (default 128 256)")
    p.add_argument("--thres-size", type=non_negative_int, default=128, metavar="N",
                   help="add a window flush with the right/bottom border only when more than N pixels are left "
                        "uncovered (default 128)")
    p.add_argument("--resize", type=float, nargs="+", default=[1.0, 0.5], metavar="F",
                   help="each scale's tiles are int(crop x F) pixels, by INTER_AREA (default 1 0.5)")
    p.add_argument("--quality", type=int, default=95, metavar="0-100", help="JPEG quality of every file (default 95)")
    p.add_argument("--only-resize", action="store_true",
                   help="no sliding windows: each scale gives one tile, the whole square at its tile size")
    p.add_argument("--vertical-split", action="store_true",
                   help="stereo pairs side by side: a folder per half (_left_/_right_), each from the square of its "
                        "half nearest the middle")
    p.add_argument("--mask-dir", metavar="DIR",
                   help="masks named after the images (a.jpg -> DIR/a.jpg.png), each covering the image's square: "
                        "a tile is kept only where its mask averages at least 127.5")
    p.add_argument("--min-size", type=non_negative_int, default=512, metavar="N",
                   help="skip (and list) images whose short side is below N pixels, after halving (default 512)")
    p.add_argument("--max-size", type=positive_int, default=5500, metavar="N",
                   help="halve (INTER_AREA) images with a side above N pixels before anything else (default 5500)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help=f"threads cutting images (default {default_workers()})")
    p.add_argument("--resume", action="store_true",
                   help="continue the interrupted run in DST.partial (same options), keeping the files it wrote")
    p.add_argument("--force", action="store_true",
                   help="replace an existing DST that holds only chunk folders; without --resume, also discard an "
                        "unfinished DST.partial")
    add_max_pixels_argument(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    opts = ChunkOptions(crop_sizes=tuple(args.crop_size), steps=tuple(args.step), thres_size=args.thres_size,
                        resizes=tuple(args.resize), quality=args.quality, only_resize=args.only_resize,
                        vertical_split=args.vertical_split, min_size=args.min_size, max_size=args.max_size)
    report = extract_chunks(args.src, args.dst, opts, mask_dir=args.mask_dir, workers=args.workers, force=args.force,
                            resume=args.resume, progress=not args.quiet, max_pixels=args.max_pixels)
    kept = f", {report.resumed} files kept from the interrupted run" if report.resumed else ""
    print(f"wrote {report.tiles} tiles in {report.folders} folders from {report.images} images to {args.dst}{kept}")
    if report.halved:
        print(f"halved first (a side above --max-size {opts.max_size}): {len(report.halved)}")
    for title, names in ((f"skipped, short side below --min-size {opts.min_size}", report.small),
                         ("skipped, grey (one channel)", report.grey)):
        if names:
            print(f"{title}: {len(names)}")
            for name in names:
                print(f"  {name}")
    return 0
