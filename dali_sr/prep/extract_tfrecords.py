"""`dali-sr extract-tfrecords SRC DST`: FFHQ's or CelebA's TFRecords -> PNG folders or BasicSR LMDBs, without
TensorFlow, named as BasicSR's scripts/data_preparation/extract_images_from_tfrecords.py names them.

FFHQ's `ffhq-r02.tfrecords` ... `ffhq-r10.tfrecords` (rN: images of 2^N pixels a side) hold one
tf.train.Example per image: `shape` (int64 [C, H, W]) and `data` (uint8 pixels, RGB, CHW order).
CelebA's (`train-r08-s-0000-of-0120.tfrecords`, `validation-r08-...`) hold `shape` [H, W, C] and `data` in HWC
order. Each image is turned HWC and BGR as BasicSR does, and stored as a PNG (`level` 1 by default, as
BasicSR's LMDB) numbered by its record: `{n:08d}.png` in the folder `DST/ffhq_{2^N}` (CelebA:
`DST/celeba_{2^N}_{train|validation}`, validation when the file's path says so), or with `lmdb` in
`DST/ffhq_{2^N}.lmdb` under the key `{n:08d}/r{N:02d}` with BasicSR's meta_info.txt. BasicSR's StyleGAN2 option
files name these outputs. N comes from the records' side, which must be a power of two, the same in every
record of an output. Files that give the same output (CelebA's shards) are read in name order and numbered on
across them, as BasicSR numbers the files of its glob; gray records (C = 1) stay gray. Each output is built in
`<output>.partial` (PNG folders, `partial_folder`) or `<output>.lmdb.partial` (`partial_lmdb`) and renamed
when complete, so no reader takes an unfinished one for a dataset; `resume` keeps the finished outputs and
continues the unfinished one.
"""
from __future__ import annotations

import argparse
import contextlib
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
# dataset -> the order of a record's `shape` (its pixels are stored in that order)
LAYOUTS = {"ffhq": "CHW", "celeba": "HWC"}
_NUMBERED_PNG = re.compile(r"\d{8}\.png")
_CRC = struct.Struct("<I")


@dataclass(frozen=True)
class ExtractTfrecordsReport:
    outputs: list[str]  # one folder or LMDB per resolution (and CelebA phase)
    images: int  # images in the outputs
    written: int  # written by this run
    resumed: int  # already there from an interrupted run
    seconds: float


@dataclass(frozen=True)
class _Record:
    """Record `n` of an output: its file and index entry."""

    path: Path
    entry: IndexEntry


@dataclass(frozen=True)
class _Output:
    """One output (folder or LMDB) and its records, numbered on across its files in name order."""

    path: Path
    log2: int  # the records' side is 2^log2
    records: list[_Record]

    @property
    def files(self) -> list[Path]:
        return list(dict.fromkeys(r.path for r in self.records))

    def key(self, n: int, lmdb: bool) -> str:
        """Record n's LMDB key (BasicSR's `{n:08d}/rNN`) or PNG file name."""
        return f"{n:08d}/r{self.log2:02d}" if lmdb else f"{n:08d}.png"


def tfrecord_files(src: str) -> list[Path]:
    """SRC itself if it is a file, else the `*.tfrecords` / `*.tfrecord` files directly in it, sorted."""
    p = Path(src)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise DatasetError(f"SRC {src} does not exist; give a .tfrecords file or the folder holding them")
    files = sorted(f for f in p.iterdir() if f.name.endswith(SUFFIXES) and not f.name.startswith(".") and f.is_file())
    if not files:
        raise DatasetError(f"no *.tfrecords files in {src}; give a .tfrecords file or the folder holding them")
    return files


def _format(dataset: str) -> str:
    shape = ", ".join(LAYOUTS[dataset])
    return (f"extract-tfrecords --dataset {dataset} reads {'FFHQ' if dataset == 'ffhq' else 'CelebA'}'s "
            f"TFRecords (int64 'shape' [{shape}], bytes 'data'): check SRC and --dataset")


def record_image(payload: memoryview, where: str, dataset: str = "ffhq") -> np.ndarray:
    """The BGR (or gray) HWC pixels of one FFHQ or CelebA record; `DatasetError` naming `where` if it is not one."""
    layout, fmt = LAYOUTS[dataset], _format(dataset)
    features = decode_example(payload, where)
    shape, data = features.get("shape"), features.get("data")
    for name, values in (("shape", shape), ("data", data)):
        if values is None:
            raise DatasetError(f"{where}: no feature '{name}' (it has {listing(sorted(features)) or 'none'}); {fmt}")
    order = ", ".join(layout)
    if len(shape) != 3 or not all(isinstance(v, int) for v in shape):
        raise DatasetError(f"{where}: feature 'shape' is {shape}, not three int64 [{order}]; {fmt}")
    if len(data) != 1 or not isinstance(data[0], memoryview):
        raise DatasetError(f"{where}: feature 'data' is not one bytes value; {fmt}")
    dims = dict(zip(layout, shape))
    c, h, w = dims["C"], dims["H"], dims["W"]
    if c not in (1, 3) or h < 1 or w < 1:
        raise DatasetError(f"{where}: shape [{order}] is {shape}: the records hold 3 (or 1) channels of at least "
                           f"1x1 pixels; {fmt}")
    if data[0].nbytes != c * h * w:
        raise DatasetError(f"{where}: 'data' holds {data[0].nbytes} bytes but shape {shape} needs {c * h * w}; the "
                           f"record is corrupt, download the file again")
    pixels = np.frombuffer(data[0], np.uint8).reshape(shape)
    hwc = pixels.transpose(1, 2, 0) if layout == "CHW" else pixels
    return np.ascontiguousarray(hwc[:, :, 0] if c == 1 else hwc[:, :, ::-1])


def _read_image(fd: int, record: _Record, n: int, dataset: str) -> np.ndarray:
    offset, size = record.entry
    where = f"{record.path} record {n}"
    return record_image(record_payload(os.pread(fd, size, offset), 0, size, where, base=offset), where, dataset)


def _log2_side(img: np.ndarray, where: str) -> int:
    """N of a square image 2^N pixels a side; `DatasetError` for any other size."""
    h, w = img.shape[:2]
    if h != w or h & (h - 1):
        raise DatasetError(f"{where} is {h}x{w}; BasicSR names outputs by a square power-of-two side (ffhq_256: "
                           f"2^8), so every record must be one")
    return h.bit_length() - 1


def _png(fds: dict[Path, int], out: _Output, n: int, level: int, dataset: str) -> tuple[bytes, Shape]:
    """The PNG of record `n` of `out` (its files open as `fds`), and the (h, w, c) it stores."""
    record = out.records[n]
    img = _read_image(fds[record.path], record, n, dataset)
    side = 1 << out.log2
    if img.shape[:2] != (side, side):
        raise DatasetError(f"{record.path} record {n} is {img.shape[0]}x{img.shape[1]} but the first record of "
                           f"{out.path.name} is {side}x{side}; an output holds one resolution: keep files of one "
                           f"resolution together")
    where = f"{record.path} record {n}"
    return encode(img, "png", where, level), (img.shape[0], img.shape[1], 1 if img.ndim == 2 else 3)


@contextlib.contextmanager
def _opened(out: _Output):
    """Every file of `out`, open: path -> descriptor."""
    with contextlib.ExitStack() as stack:
        yield {p: stack.enter_context(open(p, "rb")).fileno() for p in out.files}


def _output_name(path: Path, dataset: str, log2: int) -> str:
    """BasicSR's name: `ffhq_{2^N}`, `celeba_{2^N}_{train|validation}` (validation when the path says so)."""
    if dataset == "ffhq":
        return f"ffhq_{1 << log2}"
    return f"celeba_{1 << log2}_{'validation' if 'validation' in str(path) else 'train'}"


def _outputs(files: list[Path], dst: Path, dataset: str, lmdb: bool) -> list[_Output]:
    """The outputs of `files`, in order of their first file; records numbered on across the files of each."""
    grouped: dict[str, tuple[int, list[_Record]]] = {}
    for path in files:
        entries = scan_file(path)
        if not entries:
            raise DatasetError(f"{path} holds no records; remove it from SRC or download it again")
        with open(path, "rb") as f:
            log2 = _log2_side(_read_image(f.fileno(), _Record(path, entries[0]), 0, dataset), f"{path} record 0")
        name = _output_name(path, dataset, log2) + (".lmdb" if lmdb else "")
        grouped.setdefault(name, (log2, []))[1].extend(_Record(path, e) for e in entries)
    return [_Output(dst / name, log2, records) for name, (log2, records) in grouped.items()]


def _record_crcs(out: _Output) -> dict[str, Fingerprint]:
    """Each record's size and payload checksum as stored in its framing (its last 4 bytes), by output name: what
    changes when a record changes, read without reading the records."""
    with _opened(out) as fds:
        return {out.key(n, False): [r.entry[1], _CRC.unpack(os.pread(fds[r.path], 4, sum(r.entry) - 4))[0]]
                for n, r in enumerate(out.records)}


def _to_folder(out: _Output, level: int, resume: bool, workers: int, progress: bool,
               dataset: str) -> tuple[int, int]:
    """(written, resumed): `{n:08d}.png` files, built in `<out>.partial` and renamed to `out` when all are there."""
    build = open_folder_build(out.path, COMMAND, {"--level": level}, _record_crcs(out), lambda name: [name], resume)
    count = len(out.records)
    todo = [n for n in range(count) if out.key(n, False) not in build.kept]
    with _opened(out) as fds:
        def write(n: int) -> None:
            write_whole(build.path(out.key(n, False)), _png(fds, out, n, level, dataset)[0])

        with progress_bar(count, f"{COMMAND} {out.path.name}", "img", progress, initial=count - len(todo)) as bar:
            for _ in ordered_map(write, todo, workers):
                bar.update()
    build.finish()
    return len(todo), count - len(todo)


def _finished(out: _Output, lmdb: bool, level: int) -> bool:
    """Whether `out` is a finished output of all its records (kept by `resume`); a `DatasetError` if it is
    finished but holds something else."""
    count = len(out.records)
    if lmdb:
        if not (out.path / META_TXT).is_file():
            return False
        lines, _ = read_meta_info_txt(str(out.path / META_TXT))
        ok = [line.key for line in lines] == [out.key(n, True) for n in range(count)] \
            and {line.tag for line in lines} <= {meta_tag("png", level)}
    else:
        if not out.path.is_dir() or partial_path(str(out.path)).exists():
            return False
        ok = sorted(p.name for p in out.path.iterdir()) == [out.key(n, False) for n in range(count)]
    if not ok:
        raise DatasetError(f"{out.path} is a finished output that does not hold the {count} records of "
                           f"{listing([str(f) for f in out.files])} (as --level {level} PNGs); pass --force to write "
                           f"it again, or choose another DST")
    return True


def _to_lmdb(out: _Output, level: int, resume: bool, workers: int, progress: bool,
             dataset: str) -> tuple[int, int]:
    """(written, resumed): an LMDB of PNG values under BasicSR's keys `{n:08d}/rNN`, built resumably in
    DST.partial."""
    tag = meta_tag("png", level)
    partial = partial_path(str(out.path))
    map_size = max(64 << 20, sum(os.path.getsize(f) for f in out.files))
    env, shapes = open_partial(partial, resume, "png", tag, map_size, COMMAND)
    try:
        keys = [out.key(n, True) for n in range(len(out.records))]
        extra = sorted(set(shapes) - set(keys))
        if extra:
            raise DatasetError(f"{partial} holds {len(extra)} keys that {listing([str(f) for f in out.files])} do not "
                               f"give (e.g. {extra[0]!r}): the source changed; rerun with --force to start over")
        resumed = len(shapes)
        todo = [n for n, key in enumerate(keys) if key not in shapes]
        with _opened(out) as fds:
            results = ordered_map(lambda n: _png(fds, out, n, level, dataset), todo, workers)
            with progress_bar(len(keys), f"{COMMAND} {out.path.name}", "img", progress, initial=resumed) as bar:
                fill_partial(env, shapes, [keys[n] for n in todo], results, bar)
    finally:
        env.close()
    finish(partial, out.path, shapes, "png", tag)
    return len(todo), resumed


def extract_tfrecords(src: str, dst: str, *, dataset: str = "ffhq", lmdb: bool = False, level: int = DEFAULT_LEVEL,
                      resume: bool = False, force: bool = False, workers: Optional[int] = None,
                      progress: bool = True) -> ExtractTfrecordsReport:
    """Write the images of FFHQ (`dataset` "ffhq") or CelebA ("celeba") TFRecord file(s) `src` to BasicSR's PNG
    folders `dst/ffhq_{2^N}/` (`dst/celeba_{2^N}_{phase}/`), or LMDBs `dst/ffhq_{2^N}.lmdb`.

    Every file is checked (framing, headers, the first record's size) and every destination before anything is
    written. Each output is built in `<output>.partial` and renamed when complete; `resume` keeps finished outputs
    and continues unfinished ones, `force` replaces outputs (LMDBs, or folders of numbered PNGs only).
    """
    if dataset not in LAYOUTS:
        raise ConfigError(f"--dataset must be one of {', '.join(LAYOUTS)}, got {dataset!r}")
    if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 9:
        raise ConfigError(f"--level (PNG compression) must be 0..9, got {level!r}; BasicSR uses 1")
    workers = check_workers(workers)
    t0 = time.perf_counter()
    files = tfrecord_files(src)
    root = Path(dst)
    if root.exists() and not root.is_dir():
        raise DatasetError(f"DST {dst} exists and is not a folder; choose another DST")
    outputs = _outputs(files, root, dataset, lmdb)
    finished = [resume and not force and _finished(out, lmdb, level) for out in outputs]
    for out, done in zip(outputs, finished):
        if done:
            continue
        if lmdb:
            check_destination(out.files[0], out.path, force, resume, COMMAND)
        else:
            check_folder_destination(out.files[0], out.path, force, resume, COMMAND, _NUMBERED_PNG.fullmatch,
                                     "numbered PNGs")
    written = resumed = 0
    for out, done in zip(outputs, finished):
        if done:
            w, r = 0, len(out.records)
        elif lmdb:
            w, r = _to_lmdb(out, level, resume, workers, progress, dataset)
        else:
            w, r = _to_folder(out, level, resume, workers, progress, dataset)
        written, resumed = written + w, resumed + r
    return ExtractTfrecordsReport([str(o.path) for o in outputs], written + resumed, written, resumed,
                                  time.perf_counter() - t0)


def add_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add the `extract-tfrecords` subcommand to the `dali-sr` subparsers."""
    p = subparsers.add_parser(
        COMMAND, help="FFHQ's or CelebA's TFRecords -> PNG folders or BasicSR LMDBs, without TensorFlow",
        description="Extract the images of FFHQ's official TFRecords (ffhq-r02.tfrecords ... ffhq-r10.tfrecords: "
                    "features shape [C, H, W] and data, RGB pixels in CHW order) or CelebA's (--dataset celeba: "
                    "shape [H, W, C]) as BasicSR's extract_images_from_tfrecords.py does, without TensorFlow, under "
                    "its names: BGR PNGs DST/ffhq_256/00000000.png, ... numbered by record, or with --lmdb a BasicSR "
                    "LMDB DST/ffhq_256.lmdb with keys 00000000/r08, ... (CelebA: DST/celeba_256_train, "
                    "celeba_256_validation). Files of one output are numbered on in name order. Each output is "
                    "built in <output>.partial and renamed when complete; an interrupted run continues with "
                    "--resume.")
    p.add_argument("src", metavar="SRC", help="a .tfrecords file, or a folder of them")
    p.add_argument("dst", metavar="DST", help="folder for one output per resolution (and CelebA phase)")
    p.add_argument("--dataset", choices=tuple(LAYOUTS), default="ffhq",
                   help="whose records: ffhq (shape [C, H, W], the default) or celeba ([H, W, C]), as BasicSR's "
                        "--dataset")
    p.add_argument("--lmdb", action="store_true",
                   help="write BasicSR LMDBs DST/ffhq_<side>.lmdb instead of PNG folders")
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
    r = extract_tfrecords(args.src, args.dst, dataset=args.dataset, lmdb=args.lmdb, level=args.level,
                          resume=args.resume, force=args.force, workers=args.workers, progress=not args.quiet)
    kept = f", {r.resumed} kept from the interrupted run" if r.resumed else ""
    print(f"extracted {r.images} images into {listing(r.outputs)}: {r.written} written{kept}, in {r.seconds:.1f} s")
    return 0
