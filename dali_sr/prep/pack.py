"""`dali-sr pack SRC DST.lmdb`: a folder of images -> a BasicSR LMDB (`data.mdb`, `lock.mdb`, `meta_info.txt`).

By default values follow BasicSR's `make_lmdb_from_imgs` rule: `cv2.imencode('.png',
cv2.imread(path, cv2.IMREAD_UNCHANGED), [cv2.IMWRITE_PNG_COMPRESSION, level])`; meta lines
are `{key}.png ({h},{w},{c}) {level}`. `codec` picks another storage codec (`storage.codecs`:
jpeg, lossless jpeg2000 and htj2k, raw), named in the meta line's extension and last column.
Keys and file selection: `pack_sources`. Every source is read by `source_image.read_source_image`:
its header first (refused above `max_pixels` before decoding), and only a complete decode is stored
(a truncated JPEG or PNG is refused, not stored with grey fill).

The LMDB is built in the sibling folder `DST.partial` (no `meta_info.txt`, so no loader takes it
for a finished LMDB), `meta_info.txt` is written last, and the folder is renamed to DST only
when complete (`partial_lmdb`). `resume` continues a partial build, skipping the keys it already
holds, and refuses if the source file of one of them changed since (`source_stamps`). A run that
stops before storing anything leaves no partial build behind.
Worker threads read and encode (OpenCV releases the GIL), one writer commits in batches, and
the map doubles whenever it is full.

cv2, lmdb and tqdm are imported only when packing runs, so `dali-sr --help` stays fast.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..cli_types import positive_int
from ..errors import ConfigError, DatasetError
from ..storage.codecs import DEFAULT_LEVEL, DEFAULT_QUALITY, check_codec, encode, meta_tag
from ..storage.formats import CODECS, LOSSLESS
from ..parallel import check_workers, default_workers, ordered_map
from ..progress import progress as progress_bar
from ..storage.formats import listed_extensions
from ..storage.lmdb_writer import DEFAULT_COMMIT_EVERY, MAX_PENDING_BYTES, LmdbWriter
from .edvr_lmdb import EDVR_FORMAT, EDVR_VALUES, check_edvr_options, pack_edvr
from .partial_lmdb import check_destination, discard_if_empty, finish, open_partial, partial_path, stored_shape
from .pack_shards import FORMATS as SHARD_FORMATS, is_shard_folder_file, write_shards
from .pack_sources import PRESETS, PackItem, select_images
from . import tf_patches
from .source_codec import SOURCE_CODEC, files_codec, source_tag, source_value
from .source_image import (DEFAULT_MAX_PIXELS, add_max_pixels_argument, check_max_pixels, read_source_image,
                           source_image_size)
from .source_stamps import Source, stamp_file


@dataclass(frozen=True)
class PackReport:
    dst: str  # the finished LMDB folder
    images: int  # keys in the LMDB (and lines in meta_info.txt)
    written: int  # values encoded and written by this run
    resumed: int  # values already in the partial build that this run kept
    ignored: int  # files left out: non-image, hidden, or frames the preset drops
    codec: str  # storage codec of the values
    tag: str  # meta_info.txt's last column: PNG level, jpeg:q<quality>, jpeg2000:lossless or raw
    value_bytes: int  # bytes of the values written by this run
    map_size: int  # final LMDB map size (0 for shards)
    seconds: float


@dataclass(frozen=True)
class _Encoding:
    """How a source file becomes a stored value: the codec and its setting, and the largest source it decodes."""

    name: str
    level: int = DEFAULT_LEVEL
    quality: int = DEFAULT_QUALITY
    max_pixels: int = DEFAULT_MAX_PIXELS
    source: bool = False  # values are the files' own bytes (`--codec source`); `name` is their codec

    @property
    def tag(self) -> str:
        return source_tag(self.name) if self.source else meta_tag(self.name, self.level, self.quality)


def _encode_file(path: str, encoding: _Encoding) -> tuple[bytes, tuple[int, int, int]]:
    """The value for one image file in `encoding` (PNG: BasicSR's) and the (h, w, c) it stores."""
    if encoding.source:
        value = source_value(path, encoding.max_pixels)
        return value, stored_shape(value, path)
    img = read_source_image(path, encoding.max_pixels)
    value = encode(img, encoding.name, path, encoding.level, encoding.quality)
    if encoding.name == "png":  # BasicSR's meta: the shape OpenCV read
        return value, (*img.shape[:2], 1 if img.ndim == 2 else img.shape[2])
    return value, stored_shape(value, path)


def _check_source(path: str, max_pixels: int) -> Source:
    """Before anything is written: `path` holds a supported image within `max_pixels` by its header (what
    `read_source_image` checks first); its stamp, for `--resume`."""
    source_image_size(path, max_pixels)
    return Source(path, stamp_file(path))


def _check_decodes(path: str, max_pixels: int) -> None:
    """`--verify`: the full, complete decode that packing `path` will make."""
    read_source_image(path, max_pixels)


def _check_options(codec: _Encoding, lossy: bool, commit_every: int, map_size: Optional[int],
                   preset) -> None:
    check_codec("png" if codec.name == SOURCE_CODEC else codec.name, codec.level, codec.quality)
    check_max_pixels(codec.max_pixels)
    if codec.name not in (*LOSSLESS, SOURCE_CODEC) and not lossy:
        raise ConfigError(f"--codec {codec.name} is lossy: stored GT would no longer be the ground truth; pass --lossy "
                          f"to confirm (fine for LQ inputs), or use a lossless codec ({', '.join(LOSSLESS)})")
    if not isinstance(commit_every, int) or commit_every < 1:
        raise ConfigError(f"commit_every must be a positive integer, got {commit_every!r}")
    if map_size is not None and (not isinstance(map_size, int) or map_size < 1):
        raise ConfigError(f"map_size must be a positive number of bytes, got {map_size!r}")
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)} or none")


def pack(src: str, dst: str, *, preset: Optional[str] = None, recursive: bool = False, codec: str = "png",
         level: int = DEFAULT_LEVEL, quality: int = DEFAULT_QUALITY, lossy: bool = False,
         workers: Optional[int] = None, commit_every: int = DEFAULT_COMMIT_EVERY, resume: bool = False,
         force: bool = False, only_im4: bool = False, list_file: Optional[str] = None,
         map_size: Optional[int] = None, verify: bool = False, progress: bool = True, fmt: str = "lmdb",
         shards: int = 1, max_pixels: int = DEFAULT_MAX_PIXELS) -> PackReport:
    """Pack the images under `src` into the BasicSR LMDB folder `dst` (see the module doc), or with `fmt`
    'tfrecord' | 'wds' into `shards` TFRecord files or WebDataset tars (`pack_shards`).

    codec: png (BasicSR's, at `level`) | jpeg (at `quality`; needs `lossy=True`) | jpeg2000
    (lossless) | htj2k (lossless) | raw (PPM/PGM pixels); see `storage.codecs`; source (the files' own bytes,
    `source_codec`). fmt 'edvr': an old EDVR LMDB of clip folders (`edvr_lmdb`).
    preset: None | 'div2k' | 'reds' | 'vimeo90k' (file selection and keys); recursive: every
    level below `src` (no preset); only_im4: Vimeo90K GT as BasicSR's GT_only4th LMDB (im4 of each sequence);
    list_file: keep only keys / key prefixes listed there (e.g. Vimeo's sep_trainlist.txt);
    map_size: initial LMDB map size in bytes (default: estimated; it doubles when full);
    verify: decode every image completely before writing anything (else only headers are checked first and
    an image that does not decode completely stops the run when reached, leaving a partial build to `resume`
    if anything was stored); max_pixels: refuse sources above this many pixels (h x w) by their header.
    Raises `DatasetError` / `ConfigError` naming the file and the fix.
    """
    t0 = time.perf_counter()
    workers = check_workers(workers)
    src_p, dst_p = Path(src), Path(dst)
    if fmt == EDVR_FORMAT:
        check_edvr_options(codec, preset, recursive, only_im4, list_file, shards, resume)
        check_max_pixels(max_pixels)
        done = pack_edvr(src_p, dst_p, force=force, workers=workers, commit_every=commit_every,
                         max_pixels=max_pixels, progress=progress, map_size=map_size)
        return PackReport(dst=str(dst_p), images=done.images, written=done.images, resumed=0, ignored=done.ignored,
                          codec=EDVR_VALUES, tag=EDVR_FORMAT, value_bytes=done.value_bytes, map_size=done.map_size,
                          seconds=time.perf_counter() - t0)
    stored = _Encoding(codec, level, quality, max_pixels)
    _check_options(stored, lossy, commit_every, map_size, preset)
    selection = select_images(src, preset=preset, recursive=recursive, only_im4=only_im4, list_file=list_file)
    if fmt not in ("lmdb", *SHARD_FORMATS):
        raise ConfigError(f"unknown --format {fmt!r}; choose lmdb, {', '.join(SHARD_FORMATS)} or {EDVR_FORMAT}")
    if fmt == "lmdb" and shards != 1:
        raise ConfigError("--shards is for --format tfrecord or wds; an LMDB is one file")
    check_destination(src_p, dst_p, force, resume, "pack", None if fmt == "lmdb" else is_shard_folder_file)
    items = selection.items
    paths = [it.path for it in items]
    sources: dict[str, Source] = {}
    with progress_bar(len(items), "check", "img", progress) as bar:
        for item, source in zip(items, ordered_map(lambda path: _check_source(path, max_pixels), paths, workers)):
            sources[item.key] = source
            bar.update()
    if verify:
        with progress_bar(len(items), "decode", "img", progress) as bar:
            for _ in ordered_map(lambda path: _check_decodes(path, max_pixels), paths, workers):
                bar.update()
    if codec == SOURCE_CODEC:
        stored = _Encoding(files_codec(paths, workers), max_pixels=max_pixels, source=True)
    if fmt != "lmdb":
        return _pack_shards(items, sources, dst_p, fmt, shards, stored, workers, resume, progress,
                            selection.ignored, t0)
    partial = partial_path(dst)
    source_bytes = sum(source.stamp[0] for source in sources.values())
    initial = map_size if map_size is not None else max(64 << 20, 4 * source_bytes)
    env, shapes = open_partial(partial, resume, stored.name, stored.tag, initial, "pack", sources)
    try:
        wanted = {it.key for it in items}
        extra = sorted(set(shapes) - wanted)
        if extra:
            raise DatasetError(f"{partial} holds {len(extra)} keys that the source does not give (e.g. "
                               f"{extra[0]!r}): the source or options changed; rerun with --force to start over")
        resumed = len(shapes)
        todo: list[PackItem] = [it for it in items if it.key not in shapes]
        writer = LmdbWriter(env, commit_every)
        written_bytes = 0
        results = ordered_map(lambda it: _encode_file(it.path, stored), todo, workers)
        with progress_bar(len(items), f"pack {dst_p.name}", "img", progress, initial=resumed) as bar:
            try:
                for item, (value, shape) in zip(todo, results):
                    writer.put(item.key, value)
                    shapes[item.key] = shape
                    written_bytes += len(value)
                    bar.update()
            finally:
                results.close()  # cancels what is still queued
                try:  # keep every value encoded so far: --resume starts after them
                    writer.commit()
                except Exception:  # noqa: BLE001 - the first error is the one to report
                    pass
        final_map = env.info()["map_size"]
    except BaseException:
        env.close()
        discard_if_empty(partial)  # stopped before storing anything: nothing to resume
        raise
    env.close()
    finish(partial, dst_p, shapes, stored.name, stored.tag)
    return PackReport(dst=str(dst_p), images=len(shapes), written=len(todo), resumed=resumed,
                      ignored=selection.ignored, codec=stored.name, tag=stored.tag, value_bytes=written_bytes,
                      map_size=final_map, seconds=time.perf_counter() - t0)


def _pack_shards(items: list[PackItem], sources: dict[str, Source], dst: Path, fmt: str, shards: int,
                 stored: _Encoding, workers: int, resume: bool, progress: bool, ignored: int, t0: float) -> PackReport:
    items = sorted(items, key=lambda it: it.key)
    with progress_bar(len(items), f"pack {dst.name}", "img", progress) as bar:
        written, kept, value_bytes = write_shards(
            items, dst, fmt, shards, stored.name, stored.tag,
            lambda run: ordered_map(lambda it: _encode_file(it.path, stored), run, workers), resume, bar.update,
            sources)
    return PackReport(dst=str(dst), images=len(items), written=written, resumed=kept, ignored=ignored,
                      codec=stored.name, tag=stored.tag, value_bytes=value_bytes, map_size=0,
                      seconds=time.perf_counter() - t0)


def _int_in(low: int, high: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a {what} {low}..{high}, got {text!r}")
        return value
    return parse


def parse_size(text: str) -> int:
    """Bytes from '1048576', '64M', '2G', '1T' (binary units)."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1] if t[-1:] in ("K", "M", "G", "T") else ""
    try:
        value = int(float(t[: len(t) - len(unit)]) * units[unit])
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a size in bytes like 1048576, 64M or 2G, got {text!r}")
    return value


def add_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add the `pack` subcommand to the `dali-sr` subparsers."""
    p = subparsers.add_parser(
        "pack", help="pack a folder of images into a BasicSR LMDB",
        description="Pack images into a BasicSR LMDB folder (data.mdb, lock.mdb, meta_info.txt). By default values "
                    "are cv2.imencode('.png', cv2.imread(path, IMREAD_UNCHANGED), [IMWRITE_PNG_COMPRESSION, LEVEL]) "
                    "as in BasicSR; --codec stores JPEG, lossless JPEG 2000 or raw pixels instead (the loader reads "
                    "them all). Keys are paths relative to SRC without extension, '/'-separated, sorted. The LMDB "
                    "is built in DST.partial and renamed to DST when complete; an interrupted run continues with "
                    "--resume. Hidden and non-image files are left out.")
    p.add_argument("src", help=f"folder of images ({listed_extensions()})")
    p.add_argument("dst", help="LMDB folder to create (its name must end with .lmdb), or with --format tfrecord|wds "
                               "the shard folder")
    p.add_argument("--format", dest="fmt", choices=("lmdb", *SHARD_FORMATS, EDVR_FORMAT, "tf-patches"),
                   default="lmdb",
                   help="lmdb (default, BasicSR's), tfrecord (TFRecord files of tf.train.Example records: key, data) "
                        "or wds (WebDataset tars of KEY.EXT members); shards come with DALI's index files (.idx), "
                        "meta_info.txt and shards.txt, and are read with io_backend type tfrecord / webdataset, "
                        "locally or from s3://; edvr writes an old EDVR LMDB of SRC/clip/frame files (keys "
                        "clip_frame, raw BGR arrays, meta_info.pkl), as EDVR's create_lmdb_mp.py; tf-patches: the "
                        "TensorFlow SR loader's patch records (raw Y or RGB windows, feature gt, data*.tfrecords, "
                        "sample_num.txt)")
    p.add_argument("--shards", type=positive_int, default=1, metavar="N",
                   help="with --format tfrecord|wds: write N shards of contiguous, sorted keys (default 1)")
    p.add_argument("--preset", choices=PRESETS, default=None,
                   help="BasicSR key conventions: div2k = flat folder of sub-images (key 0001_s001); reds = "
                        "SRC/clip/frame.png (key 000/00000000); vimeo90k = SRC/seq/sub/imN.png (key 00001/0001/im4, "
                        "im1..im7; GT with --only-im4)")
    p.add_argument("--recursive", action="store_true", help="without a preset: also pack images in subfolders")
    p.add_argument("--only-im4", action="store_true",
                   help="with --preset vimeo90k: keep only im4 of every sequence (GT for Vimeo90KDataset, as "
                        "BasicSR's vimeo90k_train_GT_only4th.lmdb)")
    p.add_argument("--list", dest="list_file", default=None, metavar="FILE",
                   help="keep only the keys or key prefixes listed in FILE, one a line (e.g. Vimeo90K "
                        "sep_trainlist.txt: 00001/0001)")
    p.add_argument("--codec", choices=(*CODECS, SOURCE_CODEC), default="png",
                   help="how values are stored: png (default, BasicSR's; decoded on CPU threads), jpeg (lossy, needs "
                        "--lossy; nvJPEG on GPU), jpeg2000 (lossless; nvJPEG2000 on GPU; sides >= 32 px), htj2k "
                        "(lossless High-Throughput JPEG 2000; nvJPEG2000 on GPU, fast on the CPU too), raw "
                        "(uint8 pixels with their size, as binary PPM/PGM: no decode, largest), source (each file's "
                        "own bytes, unchanged: JPEG stays JPEG; all files of one codec)")
    p.add_argument("--level", type=_int_in(0, 9, "PNG compression level"), default=DEFAULT_LEVEL,
                   help=f"PNG compression level 0..9 (default {DEFAULT_LEVEL}, as BasicSR)")
    p.add_argument("--quality", type=_int_in(1, 100, "JPEG quality"), default=DEFAULT_QUALITY,
                   help=f"JPEG quality 1..100 (default {DEFAULT_QUALITY})")
    p.add_argument("--lossy", action="store_true",
                   help="confirm a lossy codec (required with --codec jpeg: GT stored as JPEG is no longer the "
                        "ground truth; fine for LQ inputs)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help=f"threads that read and encode images (default {default_workers()}); one writer")
    p.add_argument("--commit-every", type=positive_int, default=DEFAULT_COMMIT_EVERY, metavar="N",
                   help=f"commit the LMDB every N images (default {DEFAULT_COMMIT_EVERY}; also every "
                        f"{MAX_PENDING_BYTES >> 20} MiB)")
    p.add_argument("--map-size", type=parse_size, default=None, metavar="SIZE",
                   help="initial LMDB map size, e.g. 64M or 2G (default: estimated from the files; it doubles "
                        "whenever full)")
    p.add_argument("--verify", action="store_true",
                   help="decode every image completely before writing anything (slower; by default headers are "
                        "checked first and an image that does not decode completely stops the run when reached, "
                        "resumable with --resume)")
    add_max_pixels_argument(p)
    tf_patches.add_arguments(p)
    p.add_argument("--resume", action="store_true",
                   help="continue the partial build DST.partial of an interrupted run, skipping the keys it holds "
                        "(refused if the source file of one of them changed since: size or modification time)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing DST (LMDB folders only); without --resume, also discard a partial build")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run `dali-sr pack` with the parsed `args`; returns the exit code."""
    if args.fmt == "tf-patches":
        return tf_patches.run(args)
    r = pack(args.src, args.dst, preset=args.preset, recursive=args.recursive, codec=args.codec, level=args.level,
             quality=args.quality, lossy=args.lossy,
             workers=args.workers, commit_every=args.commit_every, resume=args.resume, force=args.force,
             only_im4=args.only_im4, list_file=args.list_file, map_size=args.map_size, verify=args.verify,
             progress=not args.quiet, fmt=args.fmt, shards=args.shards, max_pixels=args.max_pixels)
    rate = r.written / r.seconds if r.seconds > 0 else 0.0
    extra = f", {r.resumed} kept from the partial build" if r.resumed else ""
    left = f"; left out {r.ignored} files (non-image, hidden or dropped by the preset)" if r.ignored else ""
    print(f"packed {r.images} images into {r.dst} ({r.codec}, {r.tag}): {r.written} encoded{extra}, "
          f"{r.value_bytes / 2**20:.1f} MiB in {r.seconds:.1f} s, {rate:.0f} img/s{left}")
    return 0
