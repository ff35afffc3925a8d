"""BasicSR meta files: `meta_info.txt` of LMDBs (read and written), disk `meta_info_file`s, clip meta files,
old EDVR `meta_info.pkl`.

A `meta_info.txt` line is `{key}{ext} ({h},{w},{c}) {tag}`: BasicSR reads the key as the text before
the first '.' and never the shape; the tag is BasicSR's PNG level or the codec `dali-sr pack` wrote.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from ..errors import DatasetError
from .backends import check_relative_key
from .codecs import codec_of_tag
from .formats import codec_extension
from .plain_pickle import load_plain_pickle
from .raw_pixels import ArraySide

META_TXT = "meta_info.txt"
Shape = tuple[int, int, int]
_SHAPE = re.compile(r"\((\d+),(\d+),(\d+)\)")


@dataclass(frozen=True)
class MetaLine:
    """One `meta_info.txt` line: BasicSR's key, the (h, w, c) and last-column tag it records (None where absent)."""

    key: str
    shape: Optional[Shape]
    tag: Optional[str]


def meta_key(name: str) -> str:
    """BasicSR's key of a `meta_info.txt` name: the text before its first '.' (`a.b.png` -> `a`)."""
    return name.split(".", 1)[0]


def read_meta_info_txt(path: str) -> tuple[list[MetaLine], list[str]]:
    """The lines of a `meta_info.txt` in file order (a key listed twice only once), and a message per
    malformed line (a second column that is not a shape, a repeated key)."""
    return _meta_lines(_numbered_lines(Path(path), "ascii"), path)


def parse_meta_info_txt(text: str, where: str) -> tuple[list[MetaLine], list[str]]:
    """`read_meta_info_txt` of the text of a `meta_info.txt` read from `where` (a path or URL)."""
    return _meta_lines([(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()], where)


def _meta_lines(numbered: list[tuple[int, str]], path: str) -> tuple[list[MetaLine], list[str]]:
    lines, problems, seen = [], [], set()
    for number, line in numbered:
        cols = line.split()
        key = meta_key(cols[0])
        shape = _SHAPE.fullmatch(cols[1]) if len(cols) > 1 else None
        if len(cols) > 1 and shape is None:
            problems.append(f"{path} line {number} {line!r}: second column is not a shape (h,w,c); fix the line")
        if key in seen:
            problems.append(f"{path} line {number}: key {key} is listed twice; remove one line")
            continue
        seen.add(key)
        lines.append(MetaLine(key, tuple(int(v) for v in shape.groups()) if shape else None,
                              cols[-1] if len(cols) > 2 else None))
    return lines, problems


def meta_line(key: str, shape: Shape, codec: str, tag: str) -> str:
    """The `meta_info.txt` line of a value of `codec` (`0001.png (480,480,3) 1`, `0001.jpg (...) jpeg:q95`)."""
    h, w, c = shape
    return f"{key}{codec_extension(codec, c)} ({h},{w},{c}) {tag}"


def write_meta_info_txt(folder: Path, lines: Iterable[str]) -> None:
    """Write `meta_info.txt` into an LMDB folder, atomically and durably (it marks the LMDB complete)."""
    tmp = folder / (META_TXT + ".tmp")
    with open(tmp, "w", encoding="ascii", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, folder / META_TXT)


@dataclass(frozen=True)
class LmdbMeta:
    """Keys of an LMDB, the codecs its meta_info.txt names (None for a line without a codec column),
    and for values that are bare pixels the (h, w, c) shape of every one: old EDVR LMDBs (BGR), TensorFlow
    patch records (`rgb`)."""

    keys: list[str]
    raw_shape: Optional[Shape] = None
    codecs: frozenset = frozenset()
    rgb: bool = False

    @property
    def arrays(self) -> Optional[ArraySide]:
        """How to read the values when they are pixels (bare arrays, or all `raw`); None for encoded images."""
        if self.raw_shape is not None:
            return ArraySide(self.raw_shape, bgr=not self.rgb)
        return ArraySide() if self.codecs == {"raw"} else None


def _numbered_lines(path: Path, encoding: str = "utf-8") -> list[tuple[int, str]]:
    """(line number, stripped text) of every non-blank line of a text file."""
    try:
        text = path.read_text(encoding=encoding)
    except UnicodeDecodeError:
        raise DatasetError(f"{path} is not {encoding} text; LMDB keys must be ASCII (BasicSR's rule)") from None
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _edvr_meta(root: Path) -> LmdbMeta:
    """An old EDVR `meta_info.pkl` (plain data only: no class it names is loaded). Its keys are frame keys, or for
    EDVR's Vimeo90K script a set (or list) of clip names, sorted here (`opening.keyed_meta` finds their frames)."""
    path = root / "meta_info.pkl"
    meta = load_plain_pickle(str(path))
    keys = meta.get("keys") if isinstance(meta, dict) else None
    if not isinstance(keys, (list, set, frozenset)) or "resolution" not in meta:
        raise DatasetError(f"{path}: expected a dict with 'keys' and 'resolution' (EDVR format); re-create the LMDB")
    try:
        c, h, w = (int(x) for x in str(meta["resolution"]).split("_"))
    except ValueError:
        raise DatasetError(f"{path}: resolution {meta['resolution']!r} is not 'C_H_W'; re-create the LMDB") from None
    names = [str(k) for k in keys]
    return LmdbMeta(names if isinstance(keys, list) else sorted(names), (h, w, c))


def read_lmdb_meta(root: str) -> LmdbMeta:
    """Keys of a BasicSR LMDB from `meta_info.txt` (or an old EDVR `meta_info.pkl`)."""
    folder = Path(root)
    txt = folder / META_TXT
    if txt.is_file():
        lines, _ = read_meta_info_txt(str(txt))
        codecs = frozenset(codec_of_tag(line.tag) if line.tag is not None else None for line in lines)
        return LmdbMeta([line.key for line in lines], codecs=codecs)
    if (folder / "meta_info.pkl").is_file():
        return _edvr_meta(folder)
    raise DatasetError(f"LMDB {root} has no meta_info.txt (BasicSR's key list; missing too while the LMDB is still "
                       f"being written); finish it, or re-create it with dali-sr pack")


def read_meta_info_file(path: str) -> list[list[str]]:
    """Entries of a disk `meta_info_file` in file order: `[gt_name]` per line, or `[gt, lq]` for `gt, lq` lines."""
    p = Path(path)
    if not p.is_file():
        raise DatasetError(f"meta_info_file {path} does not exist; fix the path or remove the key to scan the folder")
    rows = []
    for _, line in _numbered_lines(p):
        parts = line.split()
        if not parts[0].endswith(","):  # `name` or `name (h, w, c)`: a GT name (BasicSR)
            rows.append(parts[:1])
        elif len(parts) > 1:  # `gt, lq` (Real-ESRGAN)
            rows.append([parts[0][:-1], parts[1]])
        else:
            raise DatasetError(f"{path}: line {line!r} names a GT but no LQ after the comma; write 'gt, lq' or 'gt'")
    return rows


def read_clip_meta(path: str) -> list[tuple[str, Optional[int]]]:
    """(clip, frame count or None) per line of a clip meta file (`000 100 (720,1280,3)`, `00001/0001 7 (256,448,3)`,
    or the clip alone as VideoTestDataset and Vimeo90K read it)."""
    if not os.path.isfile(path):
        raise DatasetError(f"meta_info_file {path} does not exist; fix the path or remove the key to scan the folders")
    rows = []
    for _, line in _numbered_lines(Path(path)):
        fields = line.split()
        if len(fields) > 1 and not fields[1].isdigit():
            raise DatasetError(f"{path}: line {line!r} is not 'clip [frame_count (h,w,c)]' (BasicSR's clip meta "
                               f"format); fix the line")
        check_relative_key(fields[0], path)
        rows.append((fields[0], int(fields[1]) if len(fields) > 1 else None))
    return rows
