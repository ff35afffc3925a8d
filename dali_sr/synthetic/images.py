"""Built-in paired datasets: natural-looking synthetic GT images and their LQ versions.

Used by `dali-sr demo`, the benchmarks and the tests; PNG sizes and decode costs are
close to DIV2K sub-images (smooth regions, edges and texture, not white noise).
"""
from __future__ import annotations

import os
import shutil
from functools import partial
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from ..parallel import ordered_map, usable_cpus
from ..storage.codecs import encode
from ..storage.formats import codec_extension
from ..storage.lmdb_writer import write_lmdb


COMPLETE_MARKER = ".complete"  # written last: the folder's dataset is whole


def natural_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """An HWC uint8 BGR image: blurred colour fields at several scales, shapes, fine texture."""
    img = np.zeros((height, width, 3), np.float32)
    for cells, weight in ((4, 0.5), (16, 0.3), (64, 0.15)):
        field = rng.random((max(2, height * cells // 480), max(2, width * cells // 480), 3)).astype(np.float32)
        img += weight * cv2.resize(field, (width, height), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(3, 9))):
        color = rng.random(3).tolist()
        center = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        if rng.random() < 0.5:
            cv2.circle(img, center, int(rng.integers(8, max(9, min(height, width) // 4))), color, -1)
        else:
            corner = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            cv2.rectangle(img, center, corner, color, -1)
    img += rng.normal(0.0, 0.02, img.shape).astype(np.float32)
    return np.clip(img * 255.0, 0, 255).astype(np.uint8)


def _write_pair(roots: dict[str, str], k: int, size: int, scale: int, codec: str, seed: int) -> None:
    """Pair `k`: its own random stream (so pairs can be made in any order, on any number of threads)."""
    gt = natural_image(np.random.default_rng([seed, k]), size, size)
    lq = cv2.resize(gt, (size // scale, size // scale), interpolation=cv2.INTER_AREA)
    key, ext = f"{k:04d}_s001", codec_extension(codec)
    Path(roots["lq"], key + ext).write_bytes(encode(lq, codec, key))
    Path(roots["gt"], key + ext).write_bytes(encode(gt, codec, key))


def make_paired_dataset(root: str, n: int = 64, size: int = 480, scale: int = 4, codec: str = "png",
                        seed: int = 0, lmdb: bool = True, workers: Optional[int] = None) -> dict[str, str]:
    """Write `n` pairs under `root` as folders `gt/`, `lq/` and, if `lmdb`, `gt.lmdb`, `lq.lmdb`, encoding on
    `workers` threads (default: every usable CPU).

    Returns the dataroots; does nothing for parts that already exist complete (made with these settings).
    """
    base = Path(root)
    roots = {"gt": str(base / "gt"), "lq": str(base / "lq")}
    done = base / COMPLETE_MARKER
    made = f"{n} pairs, {size}px, x{scale}, {codec}, seed {seed}\n"
    if not done.is_file() or done.read_text() != made:
        for stale in ("gt", "lq", "gt.lmdb", "lq.lmdb"):
            shutil.rmtree(base / stale, ignore_errors=True)
        for side in roots.values():
            os.makedirs(side, exist_ok=True)
        write = partial(_write_pair, roots, size=size, scale=scale, codec=codec, seed=seed)
        for _ in ordered_map(write, range(n), workers or usable_cpus()):
            pass
        done.write_text(made)
    if lmdb:
        for side in ("gt", "lq"):
            db = base / f"{side}.lmdb"
            roots[f"{side}_lmdb"] = str(db)
            if not (db / "meta_info.txt").is_file():
                names = sorted(os.listdir(roots[side]))
                write_lmdb(str(db), ((os.path.splitext(f)[0], Path(roots[side], f).read_bytes(),
                                      _shape(Path(roots[side], f))) for f in names))
    return roots


def _shape(path: Path) -> tuple[int, int, int]:
    h, w = cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape[:2]
    return h, w, 3
