"""The images of a dataset PATH for `dali-sr verify` / `inspect`: a BasicSR LMDB, a shard folder (local or
`s3://`) or a folder of image files.

An LMDB folder holds `data.mdb` (keys are ASCII names without extension) and `meta_info.txt`
(read by `storage.meta_files`); a shard folder `shards.txt`, its shards and `meta_info.txt`. A folder
is walked recursively (hidden files and folders skipped); a file's key is its relative path without
extension. A partial build (`DST.partial`, or a folder with its state file) is refused, saying how to
finish it.
"""
from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Iterator, Optional

import numpy as np

from ..errors import DatasetError, listing
from ..storage.backends import LmdbStorage, is_lmdb_folder
from ..storage.folders import walk_images
from ..storage.formats import listed_extensions
from ..storage.meta_files import META_TXT, MetaLine, read_meta_info_txt
from ..storage.s3 import is_s3_url
from ..storage.shards import ShardStorage, shard_format
from .partial_lmdb import unfinished_build

HEAD_BYTES = 4096  # enough for every header `read_header` parses (JPEG frames past it: read the whole value)


class StoredImages:
    """Keys and encoded bytes of the images at `path` (an LMDB folder or a folder of image files).

    `meta` is the parsed `meta_info.txt` of an LMDB by key (None for folders and LMDBs without one).
    Call `close()` (or use `with`) to close an LMDB.
    """

    def __init__(self, path: str):
        self.path = path
        self.meta: Optional[dict[str, MetaLine]] = None
        self.meta_problems: list[str] = []
        self._lmdb: Optional[LmdbStorage] = None
        self._shards: Optional[ShardStorage] = None
        self._files: dict[str, str] = {}
        unfinished = unfinished_build(path)
        if unfinished is not None:
            raise DatasetError(unfinished)
        fmt = shard_format(path)
        if fmt is not None:
            self.kind, self._shards = "shards", ShardStorage(path, fmt)
            self.meta = {line.key: line for line in self._shards.meta_lines}
            self._keys = sorted(self._shards.meta.keys)
            return
        if not os.path.exists(path):
            raise DatasetError(f"{path} does not exist; give an LMDB folder (holding data.mdb) or a folder of images")
        if os.path.isfile(path):
            hint = (f"give the LMDB folder {os.path.dirname(path) or '.'}" if os.path.basename(path) == "data.mdb"
                    else "give an LMDB folder (holding data.mdb) or a folder of images")
            raise DatasetError(f"{path} is a file; {hint}")
        self.kind = "lmdb" if is_lmdb_folder(path) else "folder"
        if self.kind == "lmdb":
            self._keys = self._open_lmdb()
        else:
            self._keys = self._scan_folder()

    def _open_lmdb(self) -> list[str]:
        txt = os.path.join(self.path, META_TXT)
        if not os.path.isfile(txt) and os.path.isfile(os.path.join(self.path, "meta_info.pkl")):
            raise DatasetError(f"LMDB {self.path} has meta_info.pkl, not meta_info.txt (an old EDVR LMDB of raw "
                               f"arrays); verify/inspect read BasicSR LMDBs with meta_info.txt: re-create it with "
                               f"dali-sr pack")
        if os.path.isfile(txt):
            lines, self.meta_problems = read_meta_info_txt(txt)
            self.meta = {line.key: line for line in lines}
        self._lmdb = LmdbStorage(self.path)
        try:
            raw = list(self._lmdb.stored_keys())
        except DatasetError:
            self.close()
            raise
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
        found, _ = walk_images(Path(self.path), recursive=True)
        for parts in found:
            file = os.path.join(self.path, *parts)
            key = "/".join(parts[:-1] + (os.path.splitext(parts[-1])[0],))
            if key in self._files:
                raise DatasetError(f"{self._files[key]} and {file} have the same key {key}; keep one of them")
            self._files[key] = file
        if not self._files:
            raise DatasetError(f"{self.path} holds no images and no data.mdb; give an LMDB folder or a folder of "
                               f"images ({listed_extensions()})")
        return sorted(self._files)

    def keys(self) -> list[str]:
        """Every key, sorted."""
        return list(self._keys)

    def name(self, key: str) -> str:
        """How messages name the image of `key`: `LMDB <path> key <key>`, its key, shard and offset, or its file
        path."""
        if self.kind == "shards":
            return self._shards.describe(key)
        return f"LMDB {self.path} key {key}" if self.kind == "lmdb" else self._files[key]

    def read(self, key: str) -> np.ndarray:
        """The stored bytes of `key` as a uint8 array (safe from several threads); DatasetError if unreadable."""
        if self.kind == "shards":
            return self._shards.get(key)
        if self.kind == "folder":
            try:
                return np.fromfile(self._files[key], dtype=np.uint8)
            except OSError as e:
                raise DatasetError(f"{self._files[key]}: cannot read ({e.strerror}); check the file and its "
                                   f"permissions") from None
        try:
            return self._lmdb.get(key)
        except DatasetError:
            raise DatasetError(f"{self.name(key)}: the value vanished while reading; is the LMDB being "
                               f"written?") from None

    def heads(self) -> Iterator[tuple[str, int, np.ndarray]]:
        """(key, stored size in bytes, first `HEAD_BYTES` bytes) for every key in order, reading little else
        (shards: each value is read whole, a slice of a memory map or one ranged GET)."""
        if self.kind == "shards":
            for key in self._keys:
                value = self._shards.get(key)
                yield key, len(value), value[:HEAD_BYTES]
            return
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
        for raw, value in self._lmdb.stored_items():
            yield raw.decode("ascii"), len(value), value[:HEAD_BYTES]

    def tar_members(self) -> Iterator[tuple[str, tarfile.TarInfo]]:
        """(shard, member) for every member header of every tar of a WebDataset shard folder, in order (nothing for
        other kinds); `tarfile.TarError` for a tar whose headers cannot be read."""
        if self.kind != "shards" or self._shards.format != "webdataset":
            return
        for shard in self._shards.shards:
            where = self._shards.files.describe(shard)
            if is_s3_url(self.path):  # one GET of the whole object
                opened = tarfile.open(fileobj=io.BytesIO(self._shards.files.read(shard)), mode="r:")
            else:
                opened = tarfile.open(where, mode="r:")
            with opened as tar:
                for member in tar:
                    yield where, member

    def data_bytes(self) -> Optional[int]:
        """Size of an LMDB's data.mdb, or of a local shard folder's shards, on disk; None for folders."""
        if self.kind == "shards":
            return None if is_s3_url(self.path) else sum(os.path.getsize(os.path.join(self.path, s))
                                                          for s in self._shards.shards)
        return os.path.getsize(os.path.join(self.path, "data.mdb")) if self.kind == "lmdb" else None

    def close(self) -> None:
        for store in (self._lmdb, self._shards):
            if store is not None:
                store.close()
        self._lmdb = self._shards = None

    def __enter__(self) -> "StoredImages":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
