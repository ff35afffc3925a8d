"""Where DL-Art-School's chunk extraction cuts its tiles, worked out from image sizes alone.

The rules of its `extract_subimages_with_ref.py`: an image larger than `max_size` on a side is halved
first (INTER_AREA); one smaller than `min_size` on its short side is skipped; the rest is cut to a square
(the centre square; with `vertical_split`, one square per half, taken towards the middle of the image:
the bottom-right square of the left half and the top-left square of the right half); every crop size
slides its windows over the square (the BasicSR rule of `subimages.windows`, with `thres_size`), each
window becoming a tile of `int(crop * resize)` pixels. The square's reference image has the first tile
size; a tile's centre and width are given in that reference image's pixels.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional

from ..errors import ConfigError
from .subimages import windows

if TYPE_CHECKING:
    import numpy as np

MASK_KEEP_MEAN = 255 / 2  # a tile is kept when the mask over it averages at least this much


@dataclass(frozen=True)
class ChunkOptions:
    """The options of one chunk extraction (the script's `opt` keys as command-line options)."""

    crop_sizes: tuple[int, ...] = (256, 512)
    steps: tuple[int, ...] = (128, 256)
    thres_size: int = 128
    resizes: tuple[float, ...] = (1.0, 0.5)
    quality: int = 95
    only_resize: bool = False
    vertical_split: bool = False
    min_size: int = 512
    max_size: int = 5500

    @property
    def tile_sizes(self) -> tuple[int, ...]:
        """The side of the tiles of each crop size: int(crop * resize), as the script truncates it."""
        return tuple(int(crop * resize) for crop, resize in zip(self.crop_sizes, self.resizes))


def check_chunk_options(opts: ChunkOptions) -> None:
    """A one-line `ConfigError` for options the extraction cannot use."""
    n = len(opts.crop_sizes)
    if n == 0:
        raise ConfigError("--crop-size needs at least one size, e.g. --crop-size 256 512")
    if len(opts.steps) != n or len(opts.resizes) != n:
        raise ConfigError(f"--crop-size gives {n} size(s) but --step gives {len(opts.steps)} and --resize "
                          f"{len(opts.resizes)}; give one step and one resize factor per crop size")
    for flag, values in (("--crop-size", opts.crop_sizes), ("--step", opts.steps)):
        if any(v < 1 for v in values):
            raise ConfigError(f"{flag} must be positive integers, got {' '.join(map(str, values))}")
    if any(not r > 0 for r in opts.resizes):
        raise ConfigError(f"--resize must be factors above 0, got {' '.join(map(str, opts.resizes))}")
    for crop, resize, size in zip(opts.crop_sizes, opts.resizes, opts.tile_sizes):
        if size < 1:
            raise ConfigError(f"--crop-size {crop} with --resize {resize} gives tiles of {crop * resize:g} pixels; "
                              f"raise the factor so that crop x resize is at least 1")
    if opts.thres_size < 0 or opts.min_size < 0 or opts.max_size < 1:
        raise ConfigError("--thres-size and --min-size must be >= 0 and --max-size >= 1")
    if not 0 <= opts.quality <= 100:
        raise ConfigError(f"--quality must be a JPEG quality 0..100, got {opts.quality}")


def working_size(height: int, width: int, max_size: int) -> tuple[int, int]:
    """The image size the tiles are cut from: halved (floor) when a side is above `max_size`."""
    if max(height, width) > max_size:
        return height // 2, width // 2
    return height, width


@dataclass(frozen=True)
class Square:
    """The square a chunk folder is cut from, in the working image: its label (`left`/`right`), top, left, side."""

    label: str
    top: int
    left: int
    size: int


def squares(height: int, width: int, vertical_split: bool) -> tuple[Square, ...]:
    """The squares of a working image: its centre square, or with `vertical_split` one per half."""
    if not vertical_split:
        side = min(height, width)
        return (Square("left", (height - side) // 2, (width - side) // 2, side),)
    half = width // 2
    left_side, right_side = min(height, half), min(height, width - half)
    return (Square("left", height - left_side, half - left_side, left_side),
            Square("right", 0, half, right_side))


@dataclass(frozen=True)
class Tile:
    """One tile: its window in the square (top, left, crop), its side, and its centre and width in the reference."""

    top: int
    left: int
    crop: int
    size: int
    center: tuple[int, int]
    width: int


MaskTest = Callable[[int, int, int], bool]  # (top, left, crop) of a window in the square -> keep its tile


def tiles(side: int, opts: ChunkOptions, keep: Optional[MaskTest] = None) -> tuple[Tile, ...]:
    """The tiles of a square of `side` pixels, crop size by crop size, windows row-major; `keep` filters them.

    Centres and widths are exact floors of the window's centre and crop in reference pixels (the reference
    being `side` scaled to the first tile size). With `only_resize` each crop size has one window, the square.
    """
    ref = opts.tile_sizes[0]
    found = []
    for crop, step, size in zip(opts.crop_sizes, opts.steps, opts.tile_sizes):
        if opts.only_resize:
            crop, starts = side, [0]
        else:
            starts = windows(side, crop, step, opts.thres_size)
        for top in starts:
            for left in starts:
                if keep is not None and not keep(top, left, crop):
                    continue
                center = ((top + crop // 2) * ref // side, (left + crop // 2) * ref // side)
                found.append(Tile(top, left, crop, size, center, crop * ref // side))
    return tuple(found)


def mask_test(mask: "np.ndarray", side: int) -> MaskTest:
    """The tiles a mask keeps: the mask covers the square (scaled to the mask's own size), and a window is kept
    when the mask pixels under it average at least half of 255 (over every channel)."""
    mh, mw = mask.shape[:2]

    def keep(top: int, left: int, crop: int) -> bool:
        r0, c0 = top * mh // side, left * mw // side
        r1, c1 = max(r0 + 1, (top + crop) * mh // side), max(c0 + 1, (left + crop) * mw // side)
        return float(mask[r0:r1, c0:c1].mean()) >= MASK_KEEP_MEAN

    return keep


def mask_name(source: str) -> str:
    """The mask file of a source image: its file name with `.png` added (`a.jpg` -> `a.jpg.png`)."""
    return os.path.basename(source) + ".png"


def folder_name(source: str, label: str, counter: int) -> str:
    """A chunk folder's name: the source file name without `.jpg`/`.png`, its half's label and the running count
    of folders written (`a.jpg` -> `a_left_0`)."""
    stem = os.path.basename(source).replace(".jpg", "").replace(".png", "")
    return f"{stem}_{label}_{counter}"
