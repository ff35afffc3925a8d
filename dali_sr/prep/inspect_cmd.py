"""`dali-sr inspect PATH`: what an LMDB or folder of images holds, from image headers only (nothing is decoded).

Reports the image count; per codec the images, bytes, mean bytes per image and bytes per pixel
(total bytes / total h x w pixels); the most common sizes; the total value bytes; for an LMDB
the size of data.mdb; and the values whose header cannot be read (named, counted).
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from ..errors import DatasetError
from ..progress import tracked
from ..storage.headers import read_header
from ..storage.meta_files import Shape
from .stored_images import StoredImages
from .verify import check_json_target, write_json

SHOWN_SIZES = 10
SHOWN_UNREADABLE = 5


@dataclass
class CodecStats:
    count: int = 0
    bytes: int = 0
    pixels: int = 0  # sum of h x w

    @property
    def mean_bytes(self) -> float:
        return self.bytes / self.count

    @property
    def bytes_per_pixel(self) -> float:
        return self.bytes / self.pixels


@dataclass
class InspectReport:
    path: str
    kind: str  # "lmdb" | "folder"
    images: int = 0
    total_bytes: int = 0
    data_mdb_bytes: Optional[int] = None
    codecs: dict[str, CodecStats] = field(default_factory=dict)
    sizes: Counter = field(default_factory=Counter)  # (h, w, c) -> images, from the headers
    unreadable: list[str] = field(default_factory=list)  # one message per value whose header cannot be read

    def common_sizes(self, limit: Optional[int] = SHOWN_SIZES) -> list[tuple[Shape, int]]:
        """(shape, images) by decreasing count (then shape), the first `limit` (all for None)."""
        return sorted(self.sizes.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]

    def to_json(self) -> dict:
        return {"path": self.path, "kind": self.kind, "images": self.images, "total_bytes": self.total_bytes,
                "data_mdb_bytes": self.data_mdb_bytes,
                "codecs": {c: {"count": s.count, "bytes": s.bytes, "mean_bytes": s.mean_bytes,
                               "bytes_per_pixel": s.bytes_per_pixel} for c, s in self.codecs.items()},
                "sizes": [{"shape": list(shape), "count": n} for shape, n in self.common_sizes(None)],
                "unreadable": self.unreadable}


def inspect(path: str, progress: bool = True) -> InspectReport:
    """Header statistics of the images at `path` (LMDB folder or folder of images); one sequential pass."""
    with StoredImages(path) as images:
        report = InspectReport(path, images.kind, data_mdb_bytes=images.data_bytes())
        heads = tracked(images.heads(), len(images.keys()), "inspect", "image", progress)
        for key, size, head in heads:
            report.images += 1
            report.total_bytes += size
            try:
                header = read_header(head, images.name(key))
            except DatasetError as e:
                if len(head) == size:
                    report.unreadable.append(str(e))
                    continue
                try:  # a JPEG frame header after large APP segments: read the whole value
                    header = read_header(images.read(key), images.name(key))
                except DatasetError as e:
                    report.unreadable.append(str(e))
                    continue
            stats = report.codecs.setdefault(header.codec, CodecStats())
            stats.count += 1
            stats.bytes += size
            stats.pixels += header.height * header.width
            report.sizes[(header.height, header.width, header.channels)] += 1
    report.codecs = dict(sorted(report.codecs.items()))
    return report


def _human(n: float) -> str:
    if n < 1024:
        return f"{n:.0f} B"
    for unit in ("KiB", "MiB"):
        n /= 1024
        if n < 1024:
            return f"{n:.1f} {unit}"
    return f"{n / 1024:.1f} GiB"


def summary(report: InspectReport) -> str:
    """The lines `dali-sr inspect` prints."""
    head = f"{report.path} ({report.kind}): {report.images} images, {report.total_bytes} bytes of values " \
           f"({_human(report.total_bytes)})"
    if report.data_mdb_bytes is not None:
        stored = "shards" if report.kind == "shards" else "data.mdb"
        head += f", {stored} {report.data_mdb_bytes} bytes ({_human(report.data_mdb_bytes)})"
    lines = [head, f"  {'codec':<10}{'images':>9}{'bytes':>12}{'bytes/image':>14}{'bytes/pixel':>13}"]
    for codec, s in report.codecs.items():
        lines.append(f"  {codec:<10}{s.count:>9}{_human(s.bytes):>12}{_human(s.mean_bytes):>14}"
                     f"{s.bytes_per_pixel:>13.3f}")
    shown = report.common_sizes()
    if shown:
        lines.append(f"sizes (h x w x c: images), {len(shown)} most common of {len(report.sizes)}:")
        lines += [f"  {h} x {w} x {c}: {n}" for (h, w, c), n in shown]
    if report.unreadable:
        lines.append(f"{len(report.unreadable)} unreadable headers:")
        lines += [f"  {m}" for m in report.unreadable[:SHOWN_UNREADABLE]]
        if len(report.unreadable) > SHOWN_UNREADABLE:
            lines.append(f"  ... and {len(report.unreadable) - SHOWN_UNREADABLE} more")
    return "\n".join(lines)


def add_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add the `inspect` subcommand to the `dali-sr` subparsers."""
    p = subparsers.add_parser(
        "inspect", help="count the images, codecs, bytes and sizes of an LMDB or folder (headers only)",
        description="Read every image header (nothing is decoded) and print the image count, per codec the "
                    "images, bytes, mean bytes per image and bytes per pixel, the most common sizes, the total "
                    "value bytes and, for an LMDB, the data.mdb size. Exit 1 when some header cannot be read.")
    p.add_argument("path", metavar="PATH", help="LMDB folder (with data.mdb), shard folder or s3:// prefix (with "
                                                "shards.txt), or folder of images")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the report as JSON to FILE ('-': stdout)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    check_json_target(args.json)
    report = inspect(args.path, progress=not args.quiet)
    write_json(args.json, report.to_json())
    print(summary(report), file=sys.stderr if args.json == "-" else sys.stdout)
    return 1 if report.unreadable else 0
