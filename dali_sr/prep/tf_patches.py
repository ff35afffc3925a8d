"""`dali-sr pack SRC DST --format tf-patches`: the patch TFRecords of the classic TensorFlow SR loader.

For each image in file-name order (decoded by OpenCV): its BT.601 Y channel (`rgb2ycbcr` as MATLAB and
BasicSR compute it on uint8 RGB, rounded to uint8), or with `color='rgb'` its RGB pixels; every `patch` x
`patch` window at a step of `patch // 3 * 2`, row by row; each window one `tf.train.Example` whose one feature
`gt` holds the window's raw bytes (HW, or HWC for RGB), dealt round-robin over `data0.tfrecords` ...
`data{files-1}.tfrecords`. `sample_num.txt` holds the record count, and each file has its DALI index beside
it (`data0.idx`, ...).

The folder is read as it is by `io_backend: {type: tfrecord, feature: gt, patch_shape: [patch, patch]}`
(`[patch, patch, 3]` for RGB; see `configs/tf_y_patch_records.yml`). It is built in `DST.partial` and
renamed to DST when complete, so an interrupted run never leaves a folder a loader would take; such a
run is started over (`--force`), not resumed.
"""
from __future__ import annotations

import argparse
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..cli_types import positive_int
from ..errors import ConfigError, DatasetError
from ..parallel import check_workers, ordered_map
from ..progress import progress as progress_bar
from ..storage import tfrecord
from ..storage.shards import index_name
from .pack_sources import select_images
from .partial_folder import check_folder_destination, file_fingerprint, open_folder_build
from .source_image import DEFAULT_MAX_PIXELS, check_max_pixels, read_source_image

FEATURE = "gt"
SAMPLE_NUM = "sample_num.txt"
COLORS = ("y", "rgb")
DEFAULT_FILES = 10
_OURS = re.compile(r"data\d+\.(tfrecords|idx)|" + re.escape(SAMPLE_NUM))
# BasicSR's rgb2ycbcr(y_only=True) on [0, 1] RGB (MATLAB's BT.601 table): Y = x . coefficients + 16, in levels
_Y_COEFFICIENTS = np.array([65.481, 128.553, 24.966])


@dataclass(frozen=True)
class TfPatchesReport:
    dst: str  # the finished folder
    images: int  # source images read
    records: int  # patches written (sample_num.txt)
    files: int  # data*.tfrecords files
    seconds: float


def y_levels(rgb: np.ndarray) -> np.ndarray:
    """uint8 HWC RGB -> uint8 HW Y: `round((rgb / 255) . [65.481, 128.553, 24.966] + 16)`, as BasicSR's
    `rgb2ycbcr(img, y_only=True)` on a uint8 image (float32 input range, float64 product, rounded)."""
    y = np.dot(rgb.astype(np.float32) / 255.0, _Y_COEFFICIENTS) + 16.0
    return y.round().astype(np.uint8)


def _rgb(img: np.ndarray, path: str) -> np.ndarray:
    """An OpenCV image (BGR, BGRA or gray) -> uint8 HWC RGB; `DatasetError` for other depths."""
    if img.dtype != np.uint8:
        raise DatasetError(f"{path}: {img.dtype} pixels; tf-patches stores 8-bit images, convert it to 8 bits")
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    return img[:, :, 2::-1]


def image_patches(img: np.ndarray, patch: int) -> list[bytes]:
    """The raw bytes of every `patch` window of `img` (HW or HWC) at a step of `patch // 3 * 2`, row-major."""
    step = patch // 3 * 2
    h, w = img.shape[:2]
    return [img[top:top + patch, left:left + patch].tobytes()
            for top in range(0, h - patch + 1, step) for left in range(0, w - patch + 1, step)]


def _patches_of(path: str, patch: int, color: str, max_pixels: int) -> list[bytes]:
    rgb = _rgb(read_source_image(path, max_pixels), path)
    return image_patches(y_levels(rgb) if color == "y" else rgb, patch)


def _check(patch: int, files: int, color: str, max_pixels: int) -> None:
    if not isinstance(patch, int) or patch < 3:
        raise ConfigError(f"--patch must be an integer of at least 3 (the step is patch // 3 * 2), got {patch!r}")
    if not isinstance(files, int) or files < 1:
        raise ConfigError(f"--files must be a positive integer, got {files!r}")
    if color not in COLORS:
        raise ConfigError(f"--color must be one of {', '.join(COLORS)}, got {color!r}")
    check_max_pixels(max_pixels)


def pack_tf_patches(src: str, dst: str, *, patch: int = 96, files: int = DEFAULT_FILES, color: str = "y",
                    recursive: bool = False, workers: Optional[int] = None, force: bool = False,
                    max_pixels: int = DEFAULT_MAX_PIXELS, progress: bool = True) -> TfPatchesReport:
    """Write the patch TFRecords of the images under `src` into the folder `dst` (see the module doc).

    Images are taken in the order of their paths (as a sorted glob lists them); `recursive` includes
    subfolders. Raises `ConfigError` / `DatasetError` naming the option or file and the fix.
    """
    t0 = time.perf_counter()
    _check(patch, files, color, max_pixels)
    workers = check_workers(workers)
    paths = sorted(item.path for item in select_images(src, recursive=recursive).items)
    dst_p = Path(dst)
    check_folder_destination(Path(src), dst_p, force, False, "pack", lambda name: bool(_OURS.fullmatch(name)),
                             "patch TFRecords")
    options = {"--format": "tf-patches", "--patch": patch, "--files": files, "--color": color}
    build = open_folder_build(dst_p, "pack", options, {p: file_fingerprint(p) for p in paths}, lambda _: (), False)
    names = [f"data{i}.tfrecords" for i in range(files)]
    handles = [open(build.path(name), "wb") for name in names]
    entries: list[list[tfrecord.IndexEntry]] = [[] for _ in names]
    writers = [tfrecord.RecordWriter(f) for f in handles]
    count = 0
    try:
        with progress_bar(len(paths), f"pack {dst_p.name}", "img", progress) as bar:
            for windows in ordered_map(lambda p: _patches_of(p, patch, color, max_pixels), paths, workers):
                for window in windows:
                    entries[count % files].append(writers[count % files].write(
                        tfrecord.encode_example({FEATURE: window})))
                    count += 1
                bar.update()
    finally:
        for f in handles:
            f.close()
    if count == 0:
        raise DatasetError(f"no image in {src} holds a {patch}x{patch} patch; lower --patch")
    for name, index in zip(names, entries):
        tfrecord.write_index(build.path(index_name(name)), index)
    build.path(SAMPLE_NUM).write_text(f"{count}\n")
    build.finish()
    return TfPatchesReport(str(dst_p), len(paths), count, files, time.perf_counter() - t0)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of `--format tf-patches` on the `pack` parser."""
    p.add_argument("--patch", type=positive_int, default=96, metavar="P",
                   help="with --format tf-patches: patch side (default 96; windows at a step of P // 3 * 2)")
    p.add_argument("--files", type=positive_int, default=DEFAULT_FILES, metavar="N",
                   help=f"with --format tf-patches: records dealt round-robin over data0.tfrecords .. "
                        f"data{{N-1}}.tfrecords (default {DEFAULT_FILES})")
    p.add_argument("--color", choices=COLORS, default="y",
                   help="with --format tf-patches: y (default; BT.601 Y rounded to uint8) or rgb patches")


def run(args: argparse.Namespace) -> int:
    """`dali-sr pack --format tf-patches` with the parsed `args`; returns the exit code."""
    if args.resume:
        raise ConfigError("--format tf-patches builds are not resumable; rerun with --force to start over")
    given = [flag for flag, value in (("--preset", args.preset), ("--only-im4", args.only_im4),
                                      ("--list", args.list_file), ("--shards", args.shards != 1),
                                      ("--codec", args.codec != "png"), ("--lossy", args.lossy)) if value]
    if given:
        raise ConfigError(f"{given[0]} does not apply to --format tf-patches (raw patches of every image in SRC); "
                          f"remove it")
    r = pack_tf_patches(args.src, args.dst, patch=args.patch, files=args.files, color=args.color,
                        recursive=args.recursive, workers=args.workers, force=args.force, max_pixels=args.max_pixels,
                        progress=not args.quiet)
    print(f"packed {r.records} patches of {r.images} images into {r.dst} ({r.files} files) in {r.seconds:.1f} s")
    return 0
