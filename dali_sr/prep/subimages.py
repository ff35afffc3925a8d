"""`dali-sr extract-subimages SRC DST`: crop large images into overlapping sub-images (BasicSR's rule).

Same windows, names and pixels as BasicSR's scripts/data_preparation/extract_subimages.py:
  starts along a side of length n: range(0, n - crop + 1, step), plus n - crop when the last
  window leaves more than `thresh` pixels uncovered; windows in row-major order, named
  `{stem}_s{index:03d}{ext}` with index from 1; images read with IMREAD_UNCHANGED (16-bit and
  alpha kept) and written with cv2.imwrite(..., [IMWRITE_PNG_COMPRESSION, level]) in the input's
  format (JPEG is re-encoded by OpenCV's default quality, as BasicSR does).
A DIV2K LR scale suffix ends the stem (`0001x4` -> `0001`), so HR and LR sub-images pair by name.
BasicSR removes `x2`/`x3`/`x4`/`x8` anywhere in the name; here only a suffix after a digit is
removed (identical for DIV2K / Flickr2K names, and `box2.png` stays `box2`).

Differences on bad input: images smaller than the crop (BasicSR crashes) are all named in one
error before anything is written, or kept with `keep_small` (a side shorter than the crop is
taken whole); two inputs that would write the same names are an error; so are images above the
pixel limit (`--max-pixels`, read from the header before anything is written) and sources that do
not decode completely (`source_image`). Only PNG outputs get the compression level (OpenCV warns
once per file about a parameter the JPEG, WebP, TIFF or BMP writer does not know).

The sub-images are written into `DST.partial` (`partial_folder`), renamed to DST when all are there;
`resume` continues an interrupted run with the same options.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import ConfigError, DatasetError
from ..cli_types import non_negative_int, positive_int
from ..parallel import check_workers, default_workers, run_pool
from ..storage.folders import list_images
from .source_pixels import probe_shape
from .partial_folder import FolderBuild, check_folder_destination, file_fingerprint, open_folder_build, write_whole
from .source_image import DEFAULT_MAX_PIXELS, add_max_pixels_argument, check_max_pixels, read_source_image

COMMAND = "extract-subimages"
_SCALE_SUFFIX = re.compile(r"(?<=\d)x[2348]$")
_SUBIMAGE_NAME = re.compile(r"[^/]+_s\d{3,}\.[A-Za-z0-9]+")


def subimage_stem(stem: str) -> str:
    """Output stem of an input stem: the DIV2K LR scale suffix removed (`0001x4` -> `0001`)."""
    return _SCALE_SUFFIX.sub("", stem)


def windows(size: int, crop: int, step: int, thresh: int, keep_small: bool = False) -> list[int]:
    """Window starts along one side of `size` pixels (BasicSR's rule); [] if size < crop (or [0] with keep_small)."""
    if size < crop:
        return [0] if keep_small else []
    starts = list(range(0, size - crop + 1, step))
    if size - (starts[-1] + crop) > thresh:
        starts.append(size - crop)
    return starts


@dataclass
class ExtractReport:
    images: int  # input images
    subimages: int  # files in DST
    kept_small: list[str]  # inputs smaller than the crop on some side, kept (keep_small)
    deep: list[str]  # inputs of more than 8 bits per channel, written as they are
    resumed: int = 0  # sub-images kept from an interrupted run


@dataclass
class _Job:
    path: str
    out_stem: str
    ext: str
    height: int = 0
    width: int = 0
    starts: tuple[tuple[int, int], ...] = ()  # (top, left) of each window, row-major

    @property
    def outputs(self) -> tuple[str, ...]:
        """The sub-images' file names, in window order."""
        return tuple(f"{self.out_stem}_s{i:03d}{self.ext}" for i in range(1, len(self.starts) + 1))


def _check_options(crop: int, step: int, thresh: int, level: int) -> None:
    for name, value, low in (("crop", crop, 1), ("step", step, 1), ("thresh", thresh, 0), ("level", level, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    if level > 9:
        raise ConfigError(f"level (PNG compression) must be 0..9, got {level}")


def _write_params(ext: str, level: int) -> list[int]:
    """cv2 write parameters: the compression level for PNG; none for other formats (BasicSR passes the PNG level
    to every format, which OpenCV ignores with a warning per file)."""
    import cv2

    return [cv2.IMWRITE_PNG_COMPRESSION, level] if ext.lower() == ".png" else []


def _crop_one(job: _Job, build: FolderBuild, crop: int, level: int, max_pixels: int) -> bool:
    """Write the sub-images of one input that `build` does not hold yet; whether it has more than 8 bits per
    channel."""
    import cv2
    import numpy as np

    img = read_source_image(job.path, max_pixels)
    if img.ndim not in (2, 3):
        raise DatasetError(f"{job.path}: decoded to {img.ndim} dimensions; store 2-D gray or colour images")
    if img.shape[:2] != (job.height, job.width):
        raise DatasetError(f"{job.path}: header says {job.height}x{job.width} but the image decodes to "
                           f"{img.shape[0]}x{img.shape[1]}; the file is corrupt, re-create it")
    ch, cw = min(crop, job.height), min(crop, job.width)
    params = _write_params(job.ext, level)
    for name, (top, left) in zip(job.outputs, job.starts):
        if name in build.kept:
            continue
        patch = np.ascontiguousarray(img[top:top + ch, left:left + cw, ...])
        try:
            ok, data = cv2.imencode(job.ext, patch, params)
        except cv2.error as e:
            raise DatasetError(f"{job.path}: OpenCV cannot write it as {job.ext} "
                               f"({str(e).strip().splitlines()[-1]}); convert the file to PNG") from None
        if not ok:
            raise DatasetError(f"{job.path}: OpenCV cannot write it as {job.ext}; convert the file to PNG")
        write_whole(build.path(name), data.tobytes())
    return img.dtype != np.uint8


def _deep(subimage: Path) -> bool:
    """Whether a sub-image kept from an interrupted run has more than 8 bits per channel (as its input has)."""
    import numpy as np

    return read_source_image(str(subimage)).dtype != np.uint8


def _jobs(src: str, names: list[str]) -> list[_Job]:
    jobs, owners = [], {}
    for name in names:
        stem, ext = os.path.splitext(name)
        out_stem = subimage_stem(stem)
        key = (out_stem, ext)
        if key in owners:
            raise DatasetError(f"{os.path.join(src, owners[key])} and {os.path.join(src, name)} would both write "
                               f"{out_stem}_sNNN{ext}; keep one of them in SRC")
        owners[key] = name
        jobs.append(_Job(os.path.join(src, name), out_stem, ext))
    return jobs


def extract_subimages(src: str, dst: str, crop: int = 480, step: int = 240, thresh: int = 0, level: int = 3,
                      keep_small: bool = False, workers: Optional[int] = None, force: bool = False,
                      resume: bool = False, progress: bool = True,
                      max_pixels: int = DEFAULT_MAX_PIXELS) -> ExtractReport:
    """Crop every image directly in `src` into sub-images in the new folder `dst` (BasicSR's extract_subimages).

    Built in `dst.partial` and renamed when complete; `resume` continues an interrupted run (same options),
    `force` replaces a `dst` of sub-images. Images above `max_pixels` pixels are refused before decoding.
    """
    _check_options(crop, step, thresh, level)
    check_max_pixels(max_pixels)
    workers = check_workers(workers)
    names = list_images(src)
    src_p, dst_p = Path(src), Path(dst)
    check_folder_destination(src_p, dst_p, force, resume, COMMAND, _SUBIMAGE_NAME.fullmatch, "sub-images")
    jobs = _jobs(src, names)

    shapes = run_pool(lambda j: probe_shape(j.path, max_pixels), jobs, workers, "reading sizes", "image", progress)
    small = []
    for job, (h, w, _) in zip(jobs, shapes):
        job.height, job.width = h, w
        job.starts = tuple((top, left) for top in windows(h, crop, step, thresh, keep_small)
                           for left in windows(w, crop, step, thresh, keep_small))
        if h < crop or w < crop:
            small.append(f"{os.path.basename(job.path)} ({h}x{w})")
    if small and not keep_small:
        shown = ", ".join(small[:5]) + (f" and {len(small) - 5} more" if len(small) > 5 else "")
        raise DatasetError(f"{len(small)} image(s) in {src} are smaller than the {crop}x{crop} crop: {shown}; "
                           f"lower --crop, remove them, or pass --keep-small to keep them whole")

    options = {"--crop": crop, "--step": step, "--thresh": thresh, "--level": level, "--keep-small": keep_small}
    by_name = {os.path.basename(job.path): job for job in jobs}
    build = open_folder_build(dst_p, COMMAND, options, {n: file_fingerprint(j.path) for n, j in by_name.items()},
                              lambda n: by_name[n].outputs, resume)
    todo = [job for job in jobs if not build.kept.issuperset(job.outputs)]
    done = run_pool(lambda j: _crop_one(j, build, crop, level, max_pixels), todo, workers, COMMAND, "image",
                    progress)
    wide = {job.path for job, deep in zip(todo, done) if deep}
    redone = {job.path for job in todo}
    wide.update(job.path for job in jobs if job.path not in redone and _deep(build.path(job.outputs[0])))
    build.finish()
    deep = [os.path.basename(job.path) for job in jobs if job.path in wide]
    return ExtractReport(images=len(jobs), subimages=sum(len(job.outputs) for job in jobs), kept_small=small,
                         deep=deep, resumed=len(build.kept))


def add_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add the `extract-subimages` subcommand to the `dali-sr` subparsers."""
    p = subparsers.add_parser(
        "extract-subimages", help="crop large images into overlapping sub-images (BasicSR extract_subimages)",
        description="Crop every image directly in SRC into crop x crop sub-images in the new folder DST, with "
                    "BasicSR's windows (starts 0, step, 2*step, ... plus a last window flush with the border when "
                    "more than --thresh pixels are left), names ({stem}_s001.png, row-major; DIV2K LR suffixes "
                    "x2/x3/x4/x8 removed so 0001x4.png gives 0001_s001.png) and pixels (IMREAD_UNCHANGED, "
                    "cv2.imwrite with PNG compression --level). DIV2K: HR --crop 480 --step 240, LR x2 240/120, "
                    "x3 160/80, x4 120/60. DST is built in DST.partial and renamed when complete; an interrupted "
                    "run continues with --resume.")
    p.add_argument("src", metavar="SRC", help="folder of images (not searched recursively)")
    p.add_argument("dst", metavar="DST", help="new folder for the sub-images")
    p.add_argument("--crop", type=positive_int, default=480, help="sub-image side in pixels (default 480)")
    p.add_argument("--step", type=positive_int, default=240, help="stride of the sliding window (default 240)")
    p.add_argument("--thresh", type=non_negative_int, default=0,
                   help="add a window flush with the right/bottom border only when more than THRESH pixels "
                        "are left uncovered (default 0)")
    p.add_argument("--level", type=int, choices=range(10), default=3, metavar="0-9",
                   help="PNG compression level, cv2.IMWRITE_PNG_COMPRESSION (default 3 as BasicSR; 0 decodes fastest)")
    p.add_argument("--keep-small", action="store_true",
                   help="keep images smaller than the crop: a side shorter than --crop is taken whole "
                        "(default: report them and stop)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help=f"threads cropping images (default {default_workers()})")
    p.add_argument("--resume", action="store_true",
                   help="continue the interrupted run in DST.partial (same options), keeping the sub-images it wrote")
    p.add_argument("--force", action="store_true",
                   help="replace an existing DST that holds only *_sNNN sub-images; without --resume, also discard "
                        "an unfinished DST.partial")
    add_max_pixels_argument(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    report = extract_subimages(args.src, args.dst, crop=args.crop, step=args.step, thresh=args.thresh,
                               level=args.level, keep_small=args.keep_small, workers=args.workers,
                               force=args.force, resume=args.resume, progress=not args.quiet,
                               max_pixels=args.max_pixels)
    note = f" ({len(report.kept_small)} smaller than the crop kept)" if report.kept_small else ""
    kept = f", {report.resumed} kept from the interrupted run" if report.resumed else ""
    print(f"wrote {report.subimages} sub-images of {report.images} images to {args.dst}{note}{kept}")
    if report.deep:
        shown = ", ".join(report.deep[:3]) + (f" and {len(report.deep) - 3} more" if len(report.deep) > 3 else "")
        print(f"warning: {len(report.deep)} input(s) have 16 bits per channel ({shown}) and their sub-images too; "
              f"the loader reads 8-bit images only: convert them to 8 bits before packing", file=sys.stderr)
    return 0
