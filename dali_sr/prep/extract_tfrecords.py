"""`dali-sr extract-tfrecords SRC DST`: FFHQ's official TFRecords -> PNG folders or BasicSR LMDBs, without TensorFlow.

The FFHQ part of BasicSR's scripts/data_preparation/extract_images_from_tfrecords.py. FFHQ's
`ffhq-r02.tfrecords` ... `ffhq-r10.tfrecords` (rN: images of 2^N pixels a side) hold one
tf.train.Example per image: `shape` (int64 [C, H, W]) and `data` (uint8 pixels, RGB, CHW order).
Each image is turned HWC and BGR as BasicSR does, and stored as a PNG (`level` 1 by default, as
BasicSR's LMDB) named by its record number: `DST/<stem>/{n:08d}.png` (BasicSR's names, which its
FFHQDataset reads), or with `lmdb` under the key `{n:08d}` of `DST/<stem>.lmdb` (BasicSR's script
names LMDB keys `{n:08d}/rNN`; its FFHQDataset takes keys from meta_info.txt, so either works).
Every input file gives its own output and is numbered from 0 (BasicSR counts on across the files of
a glob); gray records (C = 1) stay gray. Each output is built in `DST/<stem>.partial` (PNG folders,
`partial_folder`) or `DST/<stem>.lmdb.partial` (`partial_lmdb`) and renamed when complete, so no
reader takes an unfinished one for a dataset; `resume` keeps the finished outputs and continues the
unfinished one.
"""
from __future__ import annotations

import argparse
import os
import re
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..cli_types import positive_int
from ..errors import ConfigError, DatasetError, listing
from ..parallel import check_workers, default_workers, ordered_map
from ..progress import progress as progress_bar
from ..storage.codecs import DEFAULT_LEVEL, encode, meta_tag
from ..storage.meta_files import META_TXT, Shape, read_meta_info_txt
from ..storage.tfrecord import IndexEntry, decode_example, record_payload, scan_file
from .partial_folder import Fingerprint, check_folder_destination, open_folder_build, write_whole
from .partial_lmdb import check_destination, fill_partial, finish, open_partial, partial_path

COMMAND = "extract-tfrecords"
SUFFIXES = (".tfrecords", ".tfrecord")
_FORMAT = "extract-tfrecords reads FFHQ's TFRecords (int64 'shape' [C, H, W], bytes 'data'): check SRC"
_NUMBERED_PNG = re.compile(r"\d{8}\.png")
_CRC = struct.Struct("<I")


@dataclass(frozen=True)
class ExtractTfrecordsReport:
    outputs: list[str]  # one folder or LMDB per input file
    images: int  # images in the outputs
    written: int  # written by this run
    resumed: int  # already there from an interrupted run
    seconds: float


def tfrecord_files(src: str) -> list[Path]:
    """SRC itself if it is a file, else the `*.tfrecords` / `*.tfrecord` files directly in it, sorted."""
    p = Path(src)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise DatasetError(f"SRC {src} does not exist; give an FFHQ .tfrecords file or the folder holding them")
    files = sorted(f for f in p.iterdir() if f.name.endswith(SUFFIXES) and not f.name.startswith(".") and f.is_file())
    if not files:
        raise DatasetError(f"no *.tfrecords files in {src}; give an FFHQ .tfrecords file or the folder holding them")
    stems = [_stem(f) for f in files]
    twins = sorted({s for s in stems if stems.count(s) > 1})
    if twins:
        raise ConfigError(f"{src} holds {twins[0]}.tfrecords and {twins[0]}.tfrecord, which would write the same "
                          f"output; move one of them out of SRC")
    return files


def _stem(path: Path) -> str:
    for suffix in SUFFIXES:
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.stem


def ffhq_image(payload: memoryview, where: str) -> np.ndarray:
    """The BGR (or gray) HWC pixels of one FFHQ record; `DatasetError` naming `where` if it is not one."""
    features = decode_example(payload, where)
    shape, data = features.get("shape"), features.get("data")
    for name, values in (("shape", shape), ("data", data)):
        if values is None:
            raise DatasetError(f"{where}: no feature '{name}' (it has {listing(sorted(features)) or 'none'}); "
                               f"{_FORMAT}")
    if len(shape) != 3 or not all(isinstance(v, int) for v in shape):
        raise DatasetError(f"{where}: feature 'shape' is {shape}, not three int64 [C, H, W]; {_FORMAT}")
    if len(data) != 1 or not isinstance(data[0], memoryview):
        raise DatasetError(f"{where}: feature 'data' is not one bytes value; {_FORMAT}")
    c, h, w = shape
    if c not in (1, 3) or h < 1 or w < 1:
        raise DatasetError(f"{where}: shape [C, H, W] is {shape}: FFHQ records hold 3 (or 1) channels of at least "
                           f"1x1 pixels; {_FORMAT}")
    if data[0].nbytes != c * h * w:
        raise DatasetError(f"{where}: 'data' holds {data[0].nbytes} bytes but shape {shape} needs {c * h * w}; the "
                           f"record is corrupt, download the file again")
    chw = np.frombuffer(data[0], np.uint8).reshape(c, h, w)
    return np.ascontiguousarray(chw[0] if c == 1 else chw.transpose(1, 2, 0)[:, :, ::-1])


def _png(fd: int, path: Path, n: int, entry: IndexEntry, level: int) -> tuple[bytes, Shape]:
    """The PNG of record `n` (at `entry`) of the open file `fd`, and the (h, w, c) it stores."""
    offset, size = entry
    where = f"{path} record {n}"
    img = ffhq_image(record_payload(os.pread(fd, size, offset), 0, size, where, base=offset), where)
    return encode(img, "png", where, level), (img.shape[0], img.shape[1], 1 if img.ndim == 2 else 3)


def _record_crcs(path: Path, entries: list[IndexEntry]) -> dict[str, Fingerprint]:
    """Each record's size and payload checksum as stored in its framing (its last 4 bytes), by output name: what
    changes when a record changes, read without reading the records."""
    with open(path, "rb") as f:
        return {f"{n:08d}.png": [size, _CRC.unpack(os.pread(f.fileno(), 4, offset + size - 4))[0]]
                for n, (offset, size) in enumerate(entries)}


def _to_folder(path: Path, entries: list[IndexEntry], out: Path, level: int, resume: bool, workers: int,
               progress: bool) -> tuple[int, int]:
    """(written, resumed): `{n:08d}.png` files, built in `<out>.partial` and renamed to `out` when all are there."""
    build = open_folder_build(out, COMMAND, {"--level": level}, _record_crcs(path, entries), lambda name: [name],
                              resume)
    todo = [n for n in range(len(entries)) if f"{n:08d}.png" not in build.kept]
    with open(path, "rb") as f:
        def write(n: int) -> None:
            write_whole(build.path(f"{n:08d}.png"), _png(f.fileno(), path, n, entries[n], level)[0])

        with progress_bar(len(entries), f"{COMMAND} {out.name}", "img", progress,
                          initial=len(entries) - len(todo)) as bar:
            for _ in ordered_map(write, todo, workers):
                bar.update()
    build.finish()
    return len(todo), len(entries) - len(todo)


def _finished(out: Path, path: Path, count: int, lmdb: bool, level: int) -> bool:
    """Whether `out` is a finished output of all `count` records of `path` (kept by `resume`); a `DatasetError`
    if it is finished but holds something else."""
    names = [f"{n:08d}" for n in range(count)]
    if lmdb:
        if not (out / META_TXT).is_file():
            return False
        lines, _ = read_meta_info_txt(str(out / META_TXT))
        ok = [line.key for line in lines] == names and {line.tag for line in lines} <= {meta_tag("png", level)}
    else:
        if not out.is_dir() or partial_path(str(out)).exists():
            return False
        ok = sorted(p.name for p in out.iterdir()) == [f"{name}.png" for name in names]
    if not ok:
        raise DatasetError(f"{out} is a finished output that does not hold the {count} records of {path} (as "
                           f"--level {level} PNGs); pass --force to write it again, or choose another DST")
    return True


def _to_lmdb(path: Path, entries: list[IndexEntry], dst: Path, level: int, resume: bool, workers: int,
             progress: bool) -> tuple[int, int]:
    """(written, resumed): an LMDB of PNG values under keys `{n:08d}`, built resumably in DST.partial."""
    tag = meta_tag("png", level)
    partial = partial_path(str(dst))
    env, shapes = open_partial(partial, resume, "png", tag, max(64 << 20, os.path.getsize(path)), COMMAND)
    try:
        keys = [f"{n:08d}" for n in range(len(entries))]
        extra = sorted(set(shapes) - set(keys))
        if extra:
            raise DatasetError(f"{partial} holds {len(extra)} keys that {path} does not give (e.g. {extra[0]!r}): "
                               f"the source changed; rerun with --force to start over")
        resumed = len(shapes)
        todo = [n for n, key in enumerate(keys) if key not in shapes]
        with open(path, "rb") as f:
            results = ordered_map(lambda n: _png(f.fileno(), path, n, entries[n], level), todo, workers)
            with progress_bar(len(keys), f"{COMMAND} {dst.name}", "img", progress, initial=resumed) as bar:
                fill_partial(env, shapes, [keys[n] for n in todo], results, bar)
    finally:
        env.close()
    finish(partial, dst, shapes, "png", tag)
    return len(todo), resumed


def extract_tfrecords(src: str, dst: str, *, lmdb: bool = False, level: int = DEFAULT_LEVEL, resume: bool = False,
                      force: bool = False, workers: Optional[int] = None,
                      progress: bool = True) -> ExtractTfrecordsReport:
    """Write the images of FFHQ TFRecord file(s) `src` to `dst/<stem>/` PNG folders, or `dst/<stem>.lmdb` LMDBs.

    Every file is checked (framing, headers) and every destination before anything is written. Each output is
    built in `<output>.partial` and renamed when complete; `resume` keeps finished outputs and continues
    unfinished ones, `force` replaces outputs (LMDBs, or folders of numbered PNGs only).
    """
    if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 9:
        raise ConfigError(f"--level (PNG compression) must be 0..9, got {level!r}; BasicSR uses 1")
    workers = check_workers(workers)
    t0 = time.perf_counter()
    files = tfrecord_files(src)
    root = Path(dst)
    if root.exists() and not root.is_dir():
        raise DatasetError(f"DST {dst} exists and is not a folder; choose another DST")
    outputs = [root / (_stem(f) + (".lmdb" if lmdb else "")) for f in files]
    indexes = [scan_file(f) for f in files]
    finished = [resume and not force and _finished(out, f, len(entries), lmdb, level)
                for f, entries, out in zip(files, indexes, outputs)]
    for f, out, done in zip(files, outputs, finished):
        if done:
            continue
        if lmdb:
            check_destination(f, out, force, resume, COMMAND)
        else:
            check_folder_destination(f, out, force, resume, COMMAND, _NUMBERED_PNG.fullmatch, "numbered PNGs")
    written = resumed = 0
    for f, entries, out, done in zip(files, indexes, outputs, finished):
        if done:
            w, r = 0, len(entries)
        elif lmdb:
            w, r = _to_lmdb(f, entries, out, level, resume, workers, progress)
        else:
            w, r = _to_folder(f, entries, out, level, resume, workers, progress)
        written, resumed = written + w, resumed + r
    return ExtractTfrecordsReport([str(o) for o in outputs], written + resumed, written, resumed,
                                  time.perf_counter() - t0)


def add_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add the `extract-tfrecords` subcommand to the `dali-sr` subparsers."""
    p = subparsers.add_parser(
        COMMAND, help="FFHQ's TFRecords -> PNG folders or BasicSR LMDBs, without TensorFlow",
        description="Extract the images of FFHQ's official TFRecords (ffhq-r02.tfrecords ... ffhq-r10.tfrecords: "
                    "features shape [C, H, W] and data, RGB pixels in CHW order) as BasicSR's "
                    "extract_images_from_tfrecords.py does, without TensorFlow: BGR PNGs DST/<stem>/00000000.png, "
                    "... numbered by record, or with --lmdb a BasicSR LMDB DST/<stem>.lmdb with keys 00000000, ... "
                    "Each output is built in <output>.partial and renamed when complete; an interrupted run "
                    "continues with --resume.")
    p.add_argument("src", metavar="SRC", help="an FFHQ .tfrecords file, or a folder of them")
    p.add_argument("dst", metavar="DST", help="folder for one output per input file")
    p.add_argument("--lmdb", action="store_true", help="write BasicSR LMDBs DST/<stem>.lmdb instead of PNG folders")
    p.add_argument("--level", type=int, choices=range(10), default=DEFAULT_LEVEL, metavar="0-9",
                   help=f"PNG compression level (default {DEFAULT_LEVEL}, as BasicSR's FFHQ LMDB)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run (same --level): keep its finished outputs and continue the "
                        "unfinished one")
    p.add_argument("--force", action="store_true",
                   help="replace existing outputs (LMDBs, or folders holding only numbered PNGs); without --resume, "
                        "also discard unfinished ones")
    p.add_argument("--workers", type=positive_int, default=None,
                   help=f"threads decoding and encoding records (default {default_workers()})")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run `dali-sr extract-tfrecords` with the parsed `args`; returns the exit code."""
    r = extract_tfrecords(args.src, args.dst, lmdb=args.lmdb, level=args.level, resume=args.resume,
                          force=args.force, workers=args.workers, progress=not args.quiet)
    kept = f", {r.resumed} kept from the interrupted run" if r.resumed else ""
    print(f"extracted {r.images} images into {listing(r.outputs)}: {r.written} written{kept}, in {r.seconds:.1f} s")
    return 0
