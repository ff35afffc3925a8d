"""`dali-sr verify PATH [--pair LQ_PATH --scale S]`: decode every stored image and report what would break training.

Per image: a readable, supported header (`read_header`), bytes that decode, a decoded size
equal to the header's, a JPEG that reaches its end-of-image marker, and no grey fill at the bottom
where a truncated JPEG was decoded (`grey_fill_row`). Per LMDB: `meta_info.txt` present, listing
exactly the keys in data.mdb, with each line's shape (h,w,c; c=1 for gray) and codec tag matching
the value. Per WebDataset shard: no member whose name escapes the folder (absolute, `..`) and no
links. With `--pair`: both sides checked, the same keys on both, and GT (h, w) = S x LQ (h, w) for
every key. A partial build is refused, saying how to finish it (`stored_images`).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tarfile
from collections import Counter
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from typing import Iterator, Optional

import numpy as np

from ..cli_types import positive_int
from ..errors import ConfigError, DatasetError
from ..storage.codecs import codec_of_tag, decode
from ..storage.formats import CODECS
from ..storage.headers import SNIFF_BYTES, read_header, sniff_codec
from ..parallel import check_workers, default_workers, run_pool
from ..storage.backends import check_relative_key
from ..storage.meta_files import Shape
from .source_image import jpeg_complete
from .stored_images import StoredImages

SHOWN = 20


@dataclass(frozen=True)
class Problem:
    key: Optional[str]  # None for problems of a whole side (no meta_info.txt)
    side: str  # "data" (single PATH), "gt", "lq", or "pair" (scale)
    kind: str  # read, header, corrupt, grey_fill, shape, meta_line, no_meta, not_in_meta, missing_value,
    #            meta_shape, meta_codec, tar_member, unpaired, scale
    message: str


@dataclass
class SideReport:
    path: str
    kind: str  # "lmdb" | "folder"
    images: int
    codecs: dict[str, int]


@dataclass
class VerifyReport:
    sides: dict[str, SideReport]
    problems: list[Problem] = field(default_factory=list)
    scale: Optional[int] = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        return {"ok": self.ok, "scale": self.scale, "sides": {k: asdict(v) for k, v in self.sides.items()},
                "problems": [asdict(p) for p in self.problems]}


@dataclass
class _Checked:
    codec: Optional[str]  # sniffed from the bytes; None if unreadable
    shape: Optional[Shape]  # decoded (h, w, c); None if it did not decode
    problems: list[tuple[str, str]]  # (kind, message)


@contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own log lines about corrupt data while decoding: the problems say it once."""
    import cv2.utils.logging as cv_log

    level = cv_log.getLogLevel()
    cv_log.setLogLevel(cv_log.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv_log.setLogLevel(level)


def _check_value(images: StoredImages, key: str) -> _Checked:
    name = images.name(key)
    try:
        value = images.read(key)
    except DatasetError as e:
        return _Checked(None, None, [("read", str(e))])
    codec = sniff_codec(value[:SNIFF_BYTES].tobytes())
    try:
        header = read_header(value, name)
    except DatasetError as e:
        return _Checked(codec, None, [("header", str(e))])
    img = decode(value)
    if img is None:
        return _Checked(codec, None, [("corrupt", f"{name}: OpenCV cannot decode this {codec} value (truncated or "
                                                  f"corrupt); re-create it")])
    shape = (img.shape[0], img.shape[1], 1 if img.ndim == 2 else img.shape[2])
    problems = []
    stored = (header.width, header.height) if header.transposed else (header.height, header.width)
    if shape[:2] != stored:  # OpenCV's IMREAD_UNCHANGED does not apply the Exif orientation
        problems.append(("shape", f"{name}: header says {stored[0]}x{stored[1]} but it decodes to "
                                  f"{shape[0]}x{shape[1]}; re-create it"))
    # OpenCV's imread decodes a truncated JPEG to a partly grey image (with a warning): look for the end marker.
    if codec == "jpeg" and not jpeg_complete(value.tobytes()):
        problems.append(("corrupt", f"{name}: JPEG value has no end marker (truncated); re-create it"))
    row = grey_fill_row(img)
    if row is not None:
        problems.append(("grey_fill", f"{name}: rows {row}..{img.shape[0] - 1} are uniform grey (128 in every channel) "
                                      f"from a block boundary down, as libjpeg fills the missing part of a truncated "
                                      f"JPEG; it was decoded from a damaged source, re-create it from a complete one"))
    return _Checked(codec, shape, problems)


def grey_fill_row(img: np.ndarray) -> Optional[int]:
    """The first row of the grey fill libjpeg decodes for the missing part of a truncated JPEG, or None.

    libjpeg-turbo decodes the blocks after the end of a truncated scan as zero coefficients: every pixel 128
    in every channel, from the cut to the bottom. Whole rows of it start at an 8-row block boundary (one row
    below with vertically subsampled chroma, whose upsampling blends the block row above into it). So: at
    least 8 rows down to the bottom, each exactly 128 throughout, starting at such a row, not at row 0 (a
    uniformly grey image is a real image). 8-bit gray and colour images only (a JPEG has no alpha).
    """
    if img.dtype != np.uint8 or (img.ndim == 3 and img.shape[2] not in (1, 3)) or not (img[-1] == 128).all():
        return None
    row = img.shape[0] - 1
    while row > 0 and (img[row - 1] == 128).all():
        row -= 1
    if row == 0 or img.shape[0] - row < 8 or row % 8 > 1:
        return None
    return row


def _tar_member_problems(images: StoredImages) -> list[tuple[Optional[str], str, str]]:
    """(key, kind, message) for the members of a WebDataset shard folder that escape it or are links."""
    out: list[tuple[Optional[str], str, str]] = []
    shard = images.path
    try:
        for shard, member in images.tar_members():
            try:
                check_relative_key(member.name, shard)
            except DatasetError:
                out.append((None, "tar_member", f"{shard}: member {member.name!r} escapes the shard's folder (an "
                                                f"absolute path or '..'); tar would extract it elsewhere, re-create "
                                                f"the shard with dali-sr pack --format wds"))
                continue
            if member.issym() or member.islnk():
                out.append((None, "tar_member", f"{shard}: member {member.name!r} is a link to "
                                                f"{member.linkname!r}; shards hold regular files only, re-create the "
                                                f"shard with dali-sr pack --format wds"))
    except tarfile.TarError as e:
        out.append((None, "tar_member", f"{shard}: its tar headers cannot be read ({e}); re-create the shard with "
                                        f"dali-sr pack --format wds"))
    return out


def _meta_problems(images: StoredImages, checked: dict[str, _Checked]) -> list[tuple[Optional[str], str, str]]:
    """(key, kind, message) for an LMDB's meta_info.txt against its values."""
    txt = f"{images.path}/meta_info.txt"
    if images.meta is None:
        return [(None, "no_meta", f"LMDB {images.path} has no meta_info.txt: incomplete or not written by "
                                  f"BasicSR/dali-sr pack; re-create it")]
    out: list[tuple[Optional[str], str, str]] = [(None, "meta_line", m) for m in images.meta_problems]
    for key in sorted(set(checked) - set(images.meta)):
        out.append((key, "not_in_meta", f"{images.name(key)}: in data.mdb but not in {txt} (BasicSR never loads "
                                        f"it); add its line or re-create the LMDB"))
    for key in sorted(set(images.meta) - set(checked)):
        out.append((key, "missing_value", f"LMDB {images.path} key {key}: listed in meta_info.txt but not in "
                                          f"data.mdb (loading it fails); re-pack or remove the line"))
    for key in sorted(set(images.meta) & set(checked)):
        entry, result = images.meta[key], checked[key]
        if entry.shape is not None and result.shape is not None and entry.shape != result.shape:
            out.append((key, "meta_shape", f"{images.name(key)}: meta_info.txt says {_text(entry.shape)} but the "
                                           f"value decodes to {_text(result.shape)}; fix the line or re-pack"))
        if entry.tag is None or result.codec not in CODECS:  # unsupported bytes: the header problem says so
            continue
        tagged = codec_of_tag(entry.tag)
        if tagged is None:
            out.append((key, "meta_codec", f"{images.name(key)}: meta_info.txt tag {entry.tag!r} names no codec "
                                           f"(a PNG level, jpeg:qN, jpeg2000:lossless, htj2k:lossless or raw); fix the line"))
        elif tagged != result.codec:
            out.append((key, "meta_codec", f"{images.name(key)}: meta_info.txt says {tagged} ({entry.tag}) but "
                                           f"the value is {result.codec}; fix the line or re-pack"))
    return out


def _text(shape: Shape) -> str:
    return "(" + ",".join(str(v) for v in shape) + ")"


def _check_side(images: StoredImages, side: str, workers: int, progress: bool,
                problems: list[Problem]) -> tuple[SideReport, dict[str, _Checked]]:
    keys = images.keys()
    results = run_pool(lambda k: _check_value(images, k), keys, workers, f"verify {side}", "image", progress)
    checked = dict(zip(keys, results))
    for key, result in checked.items():
        problems.extend(Problem(key, side, kind, message) for kind, message in result.problems)
    if images.kind == "lmdb":
        problems.extend(Problem(key, side, kind, message) for key, kind, message in _meta_problems(images, checked))
    problems.extend(Problem(key, side, kind, message) for key, kind, message in _tar_member_problems(images))
    codecs = Counter(r.codec for r in results if r.codec is not None)
    return SideReport(images.path, images.kind, len(keys), dict(sorted(codecs.items()))), checked


def _pair_problems(gt: StoredImages, lq: StoredImages, gt_checked: dict[str, _Checked],
                   lq_checked: dict[str, _Checked], scale: int) -> list[Problem]:
    out = [Problem(k, "gt", "unpaired", f"{gt.name(k)}: no LQ image with this key in {lq.path}; add it or remove "
                                        f"this one") for k in sorted(set(gt_checked) - set(lq_checked))]
    out += [Problem(k, "lq", "unpaired", f"{lq.name(k)}: no GT image with this key in {gt.path}; add it or remove "
                                         f"this one") for k in sorted(set(lq_checked) - set(gt_checked))]
    for key in sorted(set(gt_checked) & set(lq_checked)):
        g, q = gt_checked[key].shape, lq_checked[key].shape
        if g is not None and q is not None and g[:2] != (scale * q[0], scale * q[1]):
            out.append(Problem(key, "pair", "scale", f"key {key}: GT {_text(g)} is not {scale} x LQ {_text(q)} "
                                                     f"(expected {scale * q[0]}x{scale * q[1]}); check --scale or "
                                                     f"re-create the LQ image"))
    return out


def verify(path: str, pair: Optional[str] = None, scale: Optional[int] = None, workers: Optional[int] = None,
           progress: bool = True) -> VerifyReport:
    """Decode and cross-check every image at `path` (and its LQ partner at `pair`, `scale` x smaller)."""
    if (pair is None) != (scale is None):
        raise ConfigError("--pair LQ_PATH and --scale S go together (S = GT size / LQ size, e.g. 4); give both or "
                          "neither")
    if scale is not None and (not isinstance(scale, int) or isinstance(scale, bool) or scale < 1):
        raise ConfigError(f"scale must be a positive integer, got {scale!r}")
    workers = check_workers(workers)
    with ExitStack() as stack:
        sides = {"gt": path, "lq": pair} if pair is not None else {"data": path}
        opened = {side: stack.enter_context(StoredImages(p)) for side, p in sides.items()}
        stack.enter_context(_quiet_opencv())
        report = VerifyReport({}, scale=scale)
        checked = {}
        for side, images in opened.items():
            report.sides[side], checked[side] = _check_side(images, side, workers, progress, report.problems)
        if pair is not None:
            report.problems += _pair_problems(opened["gt"], opened["lq"], checked["gt"], checked["lq"], scale)
    return report


def summary(report: VerifyReport) -> str:
    """The lines `dali-sr verify` prints: each side, the problem count and the first problems."""
    lines = []
    for side, s in report.sides.items():
        codecs = ", ".join(f"{c} {n}" for c, n in s.codecs.items()) or "none readable"
        lines.append(f"{side}: {s.path} ({s.kind}): {s.images} images checked; codecs: {codecs}")
    if report.scale is not None:
        lines.append(f"pair: scale {report.scale}")
    if report.ok:
        lines.append("no problems found")
        return "\n".join(lines)
    n = len(report.problems)
    lines.append(f"{n} problem{'s' if n > 1 else ''}" + (f" (first {SHOWN}):" if n > SHOWN else ":"))
    lines += [f"  [{p.side}] {p.kind}: {p.message}" for p in report.problems[:SHOWN]]
    return "\n".join(lines)


def add_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add the `verify` subcommand to the `dali-sr` subparsers."""
    p = subparsers.add_parser(
        "verify", help="decode every image of an LMDB or folder (and its LQ pair) and report problems",
        description="Decode every stored image and check it against its header, and for LMDBs against "
                    "meta_info.txt (keys, shapes, codec tags). With --pair LQ_PATH --scale S, also check that both "
                    "sides hold the same keys and GT (h, w) = S x LQ (h, w). Exit 0 when clean, 1 when problems "
                    "were found.")
    p.add_argument("path", metavar="PATH", help="LMDB folder (with data.mdb), shard folder or s3:// prefix (with "
                                                "shards.txt), or folder of images; GT with --pair")
    p.add_argument("--pair", default=None, metavar="LQ_PATH", help="the LQ LMDB or folder paired with PATH")
    p.add_argument("--scale", type=positive_int, default=None, metavar="S", help="GT size / LQ size (with --pair)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the report as JSON to FILE ('-': stdout)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help=f"threads decoding images (default {default_workers()})")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def check_json_target(path: Optional[str]) -> None:
    """Before a long run: DatasetError if `--json path` cannot be written (its folder is missing, it is a folder)."""
    if path is None or path == "-":
        return
    if os.path.isdir(path):
        raise DatasetError(f"--json {path} is a folder; give a file name (e.g. {os.path.join(path, 'report.json')})")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise DatasetError(f"folder {parent} of --json does not exist; create it first")


def write_json(path: Optional[str], data: dict) -> None:
    """Write `data` as JSON to `path` (stdout for '-', nothing for None)."""
    if path is None:
        return
    text = json.dumps(data, indent=2) + "\n"
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise DatasetError(f"cannot write --json {path} ({e.strerror}); check the folder is writable") from None


def run(args: argparse.Namespace) -> int:
    check_json_target(args.json)
    report = verify(args.path, pair=args.pair, scale=args.scale, workers=args.workers, progress=not args.quiet)
    write_json(args.json, report.to_json())
    print(summary(report), file=sys.stderr if args.json == "-" else sys.stdout)
    return 0 if report.ok else 1
