"""`dali-sr meta-info DIR`: a BasicSR disk meta file for a folder of images or of clip folders.

Lines (BasicSR's formats):
  images (generate_meta_info.py):  `0001_s001.png (480,480,3)`   sorted names, one per image
  `--clips reds`:                   `000 100 (720,1280,3)`        clip folder, frame count, first frame's shape
  `--clips vimeo90k`:               `00001/0001 7 (256,448,3)`    two-level clip folders

Shapes are those `cv2.imread(path, cv2.IMREAD_UNCHANGED)` gives (c = 1 for gray). They come
from the file header where that is exact (8/16-bit gray, RGB, RGBA PNG; gray / colour JPEG),
otherwise from decoding the image (`source_pixels`); an image above the pixel limit is refused.
Names holding whitespace are refused: every reader of these files (BasicSR's and dali_sr's loaders)
takes a line's first whitespace-separated token as the name.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Iterable, Optional, Sequence

from ..cli_types import positive_int
from ..datasets.clips.frames import gaps, order_stems, scan_clip, scan_clip_names
from ..errors import ConfigError, DatasetError
from ..parallel import check_workers, default_workers, run_pool
from ..storage.folders import list_images
from .source_image import DEFAULT_MAX_PIXELS, add_max_pixels_argument, check_max_pixels
from .source_pixels import probe_shape

CLIP_LAYOUTS = {"reds": 1, "vimeo90k": 2}  # layout -> depth of the clip folders


def shape_text(shape: Iterable[int]) -> str:
    return "(" + ",".join(str(int(v)) for v in shape) + ")"


def _check_listable(folder: str, names: Sequence[str], what: str) -> None:
    """Refuse `names` (relative to `folder`) that a meta file line cannot hold: readers split lines at whitespace."""
    spaced = [name for name in names if any(ch.isspace() for ch in name)]
    if spaced:
        more = f" and {len(spaced) - 1} more" if len(spaced) > 1 else ""
        raise DatasetError(f"{os.path.join(folder, spaced[0])!r}{more}: whitespace in a name, which meta file lines "
                           f"cannot hold (BasicSR and dali_sr read a line's first whitespace-separated token as the "
                           f"name); rename the {what}")


# ---------------------------------------------------------------- meta-info

def _clip_line(root: str, clip: str, layout: str, max_pixels: int) -> str:
    frames = scan_clip(root, clip, None) or {}
    folder = os.path.join(root, clip)
    if not frames:
        has_dirs = any(e.is_dir() for e in os.scandir(folder))
        hint = ("it holds folders: for two-level clips (00001/0001) use --clips vimeo90k" if has_dirs and layout == "reds"
                else "add the frames or remove the folder")
        raise DatasetError(f"clip folder {folder} holds no images; {hint}")
    stems = order_stems(list(frames), None)
    missing = gaps(stems)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DatasetError(f"clip folder {folder} is missing frames {shown} between {stems[0]} and {stems[-1]}; "
                           f"restore them (BasicSR indexes frames by number)")
    first = os.path.join(root, frames[stems[0]])
    return f"{clip} {len(stems)} {shape_text(probe_shape(first, max_pixels))}"


def meta_info_lines(folder: str, clips: Optional[str] = None, workers: Optional[int] = None,
                    progress: bool = True, max_pixels: int = DEFAULT_MAX_PIXELS) -> list[str]:
    """BasicSR meta lines for `folder`: one per image (`clips=None`), or one per clip (`'reds'`, `'vimeo90k'`).

    Names with whitespace and images above `max_pixels` pixels are refused in one line naming the file."""
    workers = check_workers(workers)
    check_max_pixels(max_pixels)
    if clips is None:
        names = list_images(folder)
        _check_listable(folder, names, "file")
        shapes = run_pool(lambda n: probe_shape(os.path.join(folder, n), max_pixels), names, workers,
                          "meta-info", "image", progress)
        return [f"{n} {shape_text(s)}" for n, s in zip(names, shapes)]
    if clips not in CLIP_LAYOUTS:
        raise ConfigError(f"clips must be one of {', '.join(CLIP_LAYOUTS)} (or None for images), got {clips!r}")
    if not os.path.isdir(folder):
        raise DatasetError(f"{folder} is not a folder; give the folder that holds the clip folders")
    depth = CLIP_LAYOUTS[clips]
    names = scan_clip_names(folder, depth)
    if not names:
        hint = ("clip folders must be two levels deep (00001/0001/im1.png); for one level use --clips reds"
                if depth == 2 else "clip folders hold the frames (000/00000000.png)")
        raise DatasetError(f"{folder} holds no {clips} clip folders; {hint}")
    _check_listable(folder, names, "folder")
    return run_pool(lambda c: _clip_line(folder, c, clips, max_pixels), names, workers, "meta-info", "clip", progress)


def write_meta_info(folder: str, out: Optional[str] = None, clips: Optional[str] = None,
                    workers: Optional[int] = None, force: bool = False, progress: bool = True,
                    max_pixels: int = DEFAULT_MAX_PIXELS) -> list[str]:
    """Write `meta_info_lines` to `out` (stdout when None); refuses an existing `out` unless `force`."""
    if out is not None and os.path.exists(out) and not force:
        raise DatasetError(f"{out} already exists; pass --force to overwrite it or choose another --out")
    if out is not None and os.path.isdir(out):
        raise DatasetError(f"{out} is a folder; give a file name for --out (e.g. {os.path.join(out, 'meta_info.txt')})")
    lines = meta_info_lines(folder, clips=clips, workers=workers, progress=progress, max_pixels=max_pixels)
    text = "".join(line + "\n" for line in lines)
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        parent = os.path.dirname(os.path.abspath(out))
        if not os.path.isdir(parent):
            raise DatasetError(f"folder {parent} of --out does not exist; create it first")
        tmp = out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, out)
    return lines


def add_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add the `meta-info` subcommand to the `dali-sr` subparsers."""
    p = subparsers.add_parser(
        "meta-info", help="write a BasicSR meta_info file for a folder of images or clips",
        description="Write BasicSR's disk meta file: 'name (h,w,c)' per image (sorted, as generate_meta_info.py), "
                    "or with --clips reds 'clip frame_count (h,w,c)' per clip folder (000 100 (720,1280,3)), with "
                    "--clips vimeo90k per two-level clip folder (00001/0001 7 (256,448,3)). Shapes are what "
                    "cv2.imread(..., IMREAD_UNCHANGED) gives (c=1 for gray): read from PNG/JPEG headers where exact, "
                    "decoded otherwise.")
    p.add_argument("dir", metavar="DIR", help="folder of images, or of clip folders with --clips")
    p.add_argument("--out", default=None, metavar="FILE", help="write the lines to FILE (default: stdout)")
    p.add_argument("--clips", default=None, choices=tuple(CLIP_LAYOUTS),
                   help="DIR holds clip folders: reds (DIR/000/00000000.png) or vimeo90k (DIR/00001/0001/im1.png)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help=f"threads reading images (default {default_workers()})")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out file")
    add_max_pixels_argument(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    lines = write_meta_info(args.dir, out=args.out, clips=args.clips, workers=args.workers, force=args.force,
                            progress=not args.quiet, max_pixels=args.max_pixels)
    if args.out is not None:
        what = "clips" if args.clips else "images"
        print(f"wrote {len(lines)} lines ({what}) to {args.out}")
    return 0
