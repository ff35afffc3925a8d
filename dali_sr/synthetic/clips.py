"""A built-in REDS-layout video dataset: clips that slowly pan over natural-looking images.

Used by `dali-sr bench synthetic-clips` and the tests. The layout is BasicSR's for REDS:
`gt/<clip>/<frame:08d>.png`, `lq/<clip>/<frame:08d>.png` (LQ = INTER_AREA downscale of
GT), a clip meta file with lines `001 20 (720,1280,3)` and, optionally, `gt.lmdb` /
`lq.lmdb` keyed `001/00000000`.
"""
from __future__ import annotations

import itertools
import os
import shutil
from functools import partial
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..datasets.clips.rules import PARTITIONS
from ..storage.lmdb_writer import write_lmdb
from ..parallel import ordered_map, usable_cpus
from ..storage.codecs import encode
from ..storage.formats import codec_extension
from .images import COMPLETE_MARKER, natural_image

CLIP_CODECS = ("png", "jpeg")  # the frame formats of the built-in clips
MAX_PAN_STEP = 3  # GT pixels a clip's view moves per frame, per axis


def clip_names(n: int) -> list[str]:
    """The first `n` of the names `000`, `001`, ... that are not REDS4 validation clips."""
    names = (f"{k:03d}" for k in itertools.count())
    return list(itertools.islice((name for name in names if name not in PARTITIONS["REDS4"]), n))


def pan_frames(rng: np.random.Generator, frames: int, hw: tuple[int, int]) -> Iterator[np.ndarray]:
    """`frames` HWC BGR views of size `hw` moving 1-3 pixels per frame and axis over one larger image."""
    step = rng.integers(1, MAX_PAN_STEP + 1, size=2) * rng.choice([-1, 1], size=2)
    travel = np.abs(step) * (frames - 1)
    canvas = natural_image(rng, hw[0] + int(travel[0]), hw[1] + int(travel[1]))
    start = np.where(step < 0, travel, 0)
    for f in range(frames):
        y, x = (int(v) for v in start + step * f)
        yield canvas[y:y + hw[0], x:x + hw[1]]


def _write_clip(roots: dict[str, str], clip: str, seed: np.random.SeedSequence, frames: int,
                gt_hw: tuple[int, int], scale: int, codec: str) -> None:
    ext = codec_extension(codec)
    for side in ("gt", "lq"):
        os.makedirs(os.path.join(roots[side], clip), exist_ok=True)
    for f, gt in enumerate(pan_frames(np.random.default_rng(seed), frames, gt_hw)):
        lq = cv2.resize(gt, (gt.shape[1] // scale, gt.shape[0] // scale), interpolation=cv2.INTER_AREA)
        Path(roots["gt"], clip, f"{f:08d}{ext}").write_bytes(encode(gt, codec, clip))
        Path(roots["lq"], clip, f"{f:08d}{ext}").write_bytes(encode(lq, codec, clip))


def _lmdb_items(folder: str, clips: list[str], frames: int, ext: str, shape: tuple[int, int, int]) \
        -> Iterator[tuple[str, bytes, tuple[int, int, int]]]:
    for clip in clips:
        for f in range(frames):
            yield f"{clip}/{f:08d}", Path(folder, clip, f"{f:08d}{ext}").read_bytes(), shape


def make_clip_dataset(root: str, clips: int = 8, frames: int = 20, gt_hw: tuple[int, int] = (720, 1280),
                      scale: int = 4, codec: str = "png", seed: int = 0, lmdb: bool = True) -> dict[str, str]:
    """Write `clips` clips of `frames` GT / LQ frames under `root` in REDS layout (and LMDBs if `lmdb`).

    Returns the roots `gt`, `lq`, `meta_info_file` and, with `lmdb`, `gt_lmdb`, `lq_lmdb`;
    parts already complete are not re-done.
    """
    h, w = gt_hw
    if codec not in CLIP_CODECS:
        raise ValueError(f"codec must be one of {CLIP_CODECS}, got {codec!r}")
    if h % scale or w % scale:
        raise ValueError(f"gt_hw {gt_hw} is not a multiple of scale {scale}")
    base = Path(root)
    names = clip_names(clips)
    roots = {"gt": str(base / "gt"), "lq": str(base / "lq"), "meta_info_file": str(base / "meta_info.txt")}
    done = base / COMPLETE_MARKER
    if not done.is_file():
        seeds = np.random.SeedSequence(seed).spawn(len(names))  # one stream per clip: any thread order
        write = partial(_write_clip, roots, frames=frames, gt_hw=gt_hw, scale=scale, codec=codec)
        for _ in ordered_map(lambda job: write(*job), list(zip(names, seeds)), usable_cpus()):  # encoders release the GIL
            pass
        Path(roots["meta_info_file"]).write_text("".join(f"{clip} {frames} ({h},{w},3)\n" for clip in names))
        done.write_text(f"{clips} clips of {frames} frames, {h}x{w}, x{scale}, {codec}\n")
    if lmdb:
        for side, shape in (("gt", (h, w, 3)), ("lq", (h // scale, w // scale, 3))):
            db = base / f"{side}.lmdb"
            roots[f"{side}_lmdb"] = str(db)
            if not (db / "meta_info.txt").is_file():
                shutil.rmtree(db, ignore_errors=True)  # an unfinished one
                write_lmdb(str(db), _lmdb_items(roots[side], names, frames, codec_extension(codec), shape))
    return roots
