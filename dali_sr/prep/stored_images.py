"""The images of a dataset PATH for `dali-sr verify` / `inspect`: a BasicSR LMDB or a folder of image files.

An LMDB folder holds `data.mdb` (keys are ASCII names without extension) and `meta_info.txt`,
one line per value: `name.ext (h,w,c) TAG`, where TAG is BasicSR's PNG level or the codec
`dali-sr pack` wrote (`jpeg:q95`, `jpeg2000:lossless`, `raw`). A folder is walked recursively
(hidden files and folders skipped); a file's key is its relative path without extension.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np

from ..errors import DatasetError, listing
from .pack_sources import IMAGE_SUFFIXES

HEAD_BYTES = 4096  # enough for every header `read_header` parses (JPEG frames past it: read the whole value)
_SHAPE = re.compile(r"\((\d+),(\d+),(\d+)\)")

Shape = tuple[int, int, int]


@dataclass(frozen=True)
class MetaEntry:
    """One `meta_info.txt` line: the shape and the last-column tag it records (None where absent)."""

    shape: Optional[Shape]
    tag: Optional[str]


def parse_meta_info(path: str) -> tuple[dict[str, MetaEntry], list[str]]:
    """Entries of a `meta_info.txt` by key (the name up to its first '.'), and messages for malformed lines."""
    try:
        with open(path, encoding="ascii") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError:
        raise DatasetError(f"{path} is not ASCII text; LMDB keys must be ASCII (BasicSR's rule), re-create the "
                           f"LMDB") from None
    entries: dict[str, MetaEntry] = {}
    bad: list[str] = []
    for number, line in enumerate(lines, 1):
        cols = line.split()
        if not cols:
            continue
        key = cols[0].split(".", 1)[0]
        shape = _SHAPE.fullmatch(cols[1]) if len(cols) > 1 else None
        if len(cols) > 1 and shape is None:
            bad.append(f"{path} line {number} {line.strip()!r}: second column is not a shape (h,w,c); fix the line")
        if key in entries:
            bad.append(f"{path} line {number}: key {key} is listed twice; remove one line")
            continue
        entries[key] = MetaEntry(tuple(int(v) for v in shape.groups()) if shape else None,
                                 cols[-1] if len(cols) > 2 else None)
    return entries, bad


class StoredImages:
    """Keys and encoded bytes of the images at `path` (an LMDB folder or a folder of image files).

    `meta` is the parsed `meta_info.txt` of an LMDB (None for folders and LMDBs without one).
    Call `close()` (or use `with`) to close an LMDB.
    """

    def __init__(self, path: str):
        self.path = path
        self.meta: Optional[dict[str, MetaEntry]] = None
        self.meta_problems: list[str] = []
        self._env = None
        self._files: dict[str, str] = {}
        if not os.path.exists(path):
            raise DatasetError(f"{path} does not exist; give an LMDB folder (holding data.mdb) or a folder of images")
        if os.path.isfile(path):
            hint = (f"give the LMDB folder {os.path.dirname(path) or '.'}" if os.path.basename(path) == "data.mdb"
                    else "give an LMDB folder (holding data.mdb) or a folder of images")
            raise DatasetError(f"{path} is a file; {hint}")
        self.kind = "lmdb" if os.path.isfile(os.path.join(path, "data.mdb")) else "folder"
        if self.kind == "lmdb":
            self._keys = self._open_lmdb()
        else:
            self._keys = self._scan_folder()

    def _open_lmdb(self) -> list[str]:
        import lmdb

        txt = os.path.join(self.path, "meta_info.txt")
        if not os.path.isfile(txt) and os.path.isfile(os.path.join(self.path, "meta_info.pkl")):
            raise DatasetError(f"LMDB {self.path} has meta_info.pkl, not meta_info.txt (an old EDVR LMDB of raw "
                               f"arrays); verify/inspect read BasicSR LMDBs with meta_info.txt: re-create it with "
                               f"BasicSR's create_lmdb.py or dali-sr pack")
        if os.path.isfile(txt):
            self.meta, self.meta_problems = parse_meta_info(txt)
        try:
            self._env = lmdb.open(self.path, readonly=True, lock=False, readahead=False)
            with self._env.begin() as txn:
                raw = list(txn.cursor().iternext(keys=True, values=False))
        except lmdb.Error as e:
            self.close()
            raise DatasetError(f"LMDB {self.path} cannot be opened ({e}); re-create it or check its "
                               f"permissions") from None
        try:
            keys = [k.decode("ascii") for k in raw]
        except UnicodeDecodeError:
            bad = [repr(k) for k in raw if not k.isascii()]
            self.close()
            raise DatasetError(f"LMDB {self.path} has non-ASCII keys ({listing(bad)}); BasicSR keys are ASCII, "
                               f"re-create the LMDB") from None
        if not keys:
            self.close()
            raise DatasetError(f"LMDB {self.path} holds no values; re-create it (dali-sr pack)")
        return sorted(keys)

    def _scan_folder(self) -> list[str]:
        for root, dirs, names in os.walk(self.path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in names:
                stem, ext = os.path.splitext(name)
                if name.startswith(".") or ext.lower() not in IMAGE_SUFFIXES:
                    continue
                file = os.path.join(root, name)
                key = os.path.relpath(os.path.join(root, stem), self.path).replace(os.sep, "/")
                if key in self._files:
                    raise DatasetError(f"{self._files[key]} and {file} have the same key {key}; keep one of them")
                self._files[key] = file
        if not self._files:
            raise DatasetError(f"{self.path} holds no images and no data.mdb; give an LMDB folder or a folder of "
                               f"images ({', '.join(IMAGE_SUFFIXES)})")
        return sorted(self._files)

    def keys(self) -> list[str]:
        """Every key, sorted."""
        return list(self._keys)

    def name(self, key: str) -> str:
        """How messages name the image of `key`: `LMDB <path> key <key>`, or its file path."""
        return f"LMDB {self.path} key {key}" if self.kind == "lmdb" else self._files[key]

    def read(self, key: str) -> np.ndarray:
        """The stored bytes of `key` as a uint8 array (safe from several threads); DatasetError if unreadable."""
        if self.kind == "folder":
            try:
                return np.fromfile(self._files[key], dtype=np.uint8)
            except OSError as e:
                raise DatasetError(f"{self._files[key]}: cannot read ({e.strerror}); check the file and its "
                                   f"permissions") from None
        with self._env.begin() as txn:
            value = txn.get(key.encode("ascii"))
        if value is None:
            raise DatasetError(f"{self.name(key)}: the value vanished while reading; is the LMDB being written?")
        return np.frombuffer(value, dtype=np.uint8)

    def heads(self) -> Iterator[tuple[str, int, np.ndarray]]:
        """(key, stored size in bytes, first `HEAD_BYTES` bytes) for every key in order, reading little else."""
        if self.kind == "folder":
            for key in self._keys:
                try:
                    with open(self._files[key], "rb") as f:
                        head = f.read(HEAD_BYTES)
                        size = os.fstat(f.fileno()).st_size
                except OSError as e:
                    raise DatasetError(f"{self._files[key]}: cannot read ({e.strerror}); check the file and its "
                                       f"permissions") from None
                yield key, size, np.frombuffer(head, dtype=np.uint8)
            return
        with self._env.begin(buffers=True) as txn:
            for raw, value in txn.cursor():
                yield bytes(raw).decode("ascii"), len(value), np.frombuffer(bytes(value[:HEAD_BYTES]), np.uint8)

    def data_bytes(self) -> Optional[int]:
        """Size of an LMDB's data.mdb on disk; None for folders."""
        return os.path.getsize(os.path.join(self.path, "data.mdb")) if self.kind == "lmdb" else None

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None

    def __enter__(self) -> "StoredImages":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
