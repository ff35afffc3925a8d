"""Dataset sides stored as shards: TFRecord files or WebDataset tars, in a local folder or under `s3://`.

A folder that `dali-sr pack --format tfrecord|wds` wrote holds `meta_info.txt` (the lines an LMDB pack
writes, keys in record order), `shards.txt` (the shard file names, in order) and beside each shard the
index file DALI's readers use (`.idx`). Values are read by random access: the index gives every
value's byte range, so a sample costs one memory-mapped slice (local) or one ranged GET (S3), and the
loader keeps its exact semantics: a full permutation per epoch, disjoint equal parts per rank, exact
resume. Each read checks what it reads (TFRecord length and CRC and the record's `key`; the tar header
before a value), so an index that does not match its shard, or a truncated shard, is named with the
byte offset instead of giving wrong pixels.

TFRecords in TensorFlow's own layout (no meta files: a feature of raw uint8 patches of one shape) are
read too: every `*.tfrecord*` file of the folder in name order, indexed by their `.idx` files or by
walking their framing, keys `{shard}/{record}`.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence, TypeVar, Union

import numpy as np

from ..errors import DatasetError, MissingFileError, listing
from . import tar_shards, tfrecord
from .io_options import IoOptions
from .local_files import LocalFiles
from .meta_files import META_TXT, LmdbMeta, MetaLine, meta_key, parse_meta_info_txt
from .codecs import codec_of_tag
from .s3 import S3Objects, is_s3_url

SHARD_LIST = "shards.txt"
SHARD_EXTENSIONS = {"tfrecord": ".tfrecord", "webdataset": ".tar"}
INDEX_EXTENSION = ".idx"
KEY_FEATURE = "key"
OPENING_THREADS = 16  # concurrent requests per shard folder in s3:// while it is opened

T = TypeVar("T")


@dataclass(frozen=True)
class Location:
    """Where one value lives: shard file, the byte range of its record (TFRecord) or value (tar)."""

    shard: str
    offset: int
    size: int
    member: str = ""  # a tar member's name


def index_name(shard: str) -> str:
    """The index file of a shard: its name with `.idx` for the extension."""
    return os.path.splitext(shard)[0] + INDEX_EXTENSION


def open_files(root: str, io: IoOptions = IoOptions()) -> Union[LocalFiles, S3Objects]:
    """Byte-range access to the folder or `s3://` prefix `root` (with the request limits of `io`)."""
    if is_s3_url(root):
        return S3Objects(root, io)
    if not os.path.isdir(root):
        raise DatasetError(f"shard folder {root} does not exist; fix dataroot_gt / dataroot_lq (a folder that "
                           f"dali-sr pack --format tfrecord|wds wrote)")
    return LocalFiles(root)


def shard_format(root: str) -> Optional[str]:
    """The io_backend type of the shard folder (or `s3://` prefix) `root` from its `shards.txt`; None if a local
    path has none. An `s3://` prefix can only be a shard folder: `DatasetError` naming a missing bucket or
    `shards.txt`."""
    files = open_files(root) if is_s3_url(root) or os.path.isdir(root) else None
    if files is None:
        return None
    if not files.exists(SHARD_LIST):
        if isinstance(files, LocalFiles):
            return None
        raise DatasetError(f"{files.describe(SHARD_LIST)} is missing; an s3:// prefix is read as a shard folder: "
                           f"pack one with dali-sr pack --format tfrecord|wds and upload it there, or fix the URL")
    first = next((line.strip() for line in _text(files, SHARD_LIST).splitlines() if line.strip()), "")
    return next((fmt for fmt, ext in SHARD_EXTENSIONS.items() if first.endswith(ext)), None)


def _text(files: Union[LocalFiles, S3Objects], name: str) -> str:
    data = files.read(name)
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise DatasetError(f"{files.describe(name)} is not UTF-8 text; re-create it with dali-sr pack") from None


class ShardStorage:
    """The values of one shard folder (or `s3://` prefix) by key; see the module doc."""

    def __init__(self, root: str, fmt: str, io: IoOptions = IoOptions()):
        self.root = str(root).rstrip("/")
        self.format = fmt
        self.io = io
        self.files = open_files(self.root, io)
        self.meta_lines: list[MetaLine] = []  # of meta_info.txt (none in TensorFlow's layout)
        if io.patch_shape is not None:
            self.shards, self.meta, self._where = self._tensorflow_layout()
        else:
            self.shards, self.meta, self._where = self._packed_layout()
        self._keys = set(self._where)

    def __getstate__(self) -> dict:
        return {"root": self.root, "format": self.format, "io": self.io, "files": self.files, "shards": self.shards,
                "meta": self.meta, "meta_lines": self.meta_lines, "where": self._where}

    def __setstate__(self, state: dict) -> None:
        self.root, self.format, self.io, self.files = state["root"], state["format"], state["io"], state["files"]
        self.shards, self.meta, self._where = state["shards"], state["meta"], state["where"]
        self.meta_lines = state["meta_lines"]
        self._keys = set(self._where)

    # -- opening -------------------------------------------------------------------------------------------
    def _shard_list(self) -> list[str]:
        try:
            text = _text(self.files, SHARD_LIST)
        except MissingFileError:
            done = self.files.exists(META_TXT)
            raise DatasetError(f"{self.files.describe(SHARD_LIST)} is missing"
                               f"{'' if done else ' (and meta_info.txt: an unfinished pack?)'}; this is not a shard "
                               f"folder of dali-sr pack --format tfrecord|wds, re-create it or fix the dataroot") from None
        names = [line.strip() for line in text.splitlines() if line.strip()]
        want = SHARD_EXTENSIONS[self.format]
        wrong = [n for n in names if not n.endswith(want)]
        if wrong:
            other = "webdataset" if self.format == "tfrecord" else "tfrecord"
            raise DatasetError(f"{self.files.describe(SHARD_LIST)} lists {wrong[0]}, not a {want} shard; set "
                               f"io_backend: {{type: {other}}} if the folder holds {other} shards")
        if not names:
            raise DatasetError(f"{self.files.describe(SHARD_LIST)} lists no shards; re-create the folder with dali-sr "
                               f"pack --format tfrecord|wds")
        return names

    def _per_shard(self, read: Callable[[str], T], shards: Sequence[str]) -> list[T]:
        """`read(shard)` of every shard, in order; in object storage, several at once, and each shard's version
        recorded (see `S3Objects.pin`) so that a shard replaced while the dataset is read is found out."""
        if not isinstance(self.files, S3Objects):
            return [read(shard) for shard in shards]
        files = self.files

        def pinned(shard: str) -> T:
            files.pin(shard)
            return read(shard)

        with ThreadPoolExecutor(OPENING_THREADS) as pool:
            return list(pool.map(pinned, shards))

    def _index(self, shard: str) -> list:
        name = index_name(shard)
        try:
            text = _text(self.files, name)
        except MissingFileError:
            raise DatasetError(f"index {self.files.describe(name)} of shard {shard} is missing; re-create the folder "
                               f"with dali-sr pack (or write it with DALI's tfrecord2idx / wds2idx)") from None
        if self.format == "tfrecord":
            return tfrecord.parse_index(text, self.files.describe(name))
        return tar_shards.parse_index(text, self.files.describe(name))

    def _packed_layout(self) -> tuple[list[str], LmdbMeta, dict[str, Location]]:
        shards = self._shard_list()
        lines, problems = parse_meta_info_txt(_text(self.files, META_TXT), self.files.describe(META_TXT))
        if problems:
            raise DatasetError(problems[0])
        self.meta_lines = lines
        keys = [line.key for line in lines]
        where: dict[str, Location] = {}
        if self.format == "tfrecord":
            entries = [(shard, offset, size) for shard, index in zip(shards, self._per_shard(self._index, shards))
                       for offset, size in index]
            if len(entries) != len(keys):
                raise DatasetError(f"the index files of {self.root} list {len(entries)} records but its meta_info.txt "
                                   f"lists {len(keys)} keys; the folder is incomplete, re-create it with dali-sr pack")
            where = {key: Location(*entry) for key, entry in zip(keys, entries)}
        else:
            for shard, index in zip(shards, self._per_shard(self._index, shards)):
                for m in index:
                    where[meta_key(m.key)] = Location(shard, m.offset, m.size, m.name)
            missing = [k for k in keys if k not in where]
            if missing:
                raise DatasetError(f"{len(missing)} key(s) of {self.files.describe(META_TXT)} are in no shard index: "
                                   f"{listing(missing)}; the folder is incomplete, re-create it with dali-sr pack")
        codecs = frozenset(codec_of_tag(line.tag) if line.tag is not None else None for line in lines)
        return shards, LmdbMeta(keys, codecs=codecs), where

    def _tensorflow_layout(self) -> tuple[list[str], LmdbMeta, dict[str, Location]]:
        if self.format != "tfrecord":
            raise DatasetError(f"{self.root}: io_backend.patch_shape is for TFRecords of raw patches; remove it")
        shards = self._shard_list() if self.files.exists(SHARD_LIST) else self._scan_shards()
        where = {}
        for shard, entries in zip(shards, self._per_shard(self._records, shards)):
            stem = os.path.splitext(shard)[0]
            for number, (offset, size) in enumerate(entries):
                where[f"{stem}/{number:08d}"] = Location(shard, offset, size)
        return shards, LmdbMeta(list(where), raw_shape=self.io.patch_shape, rgb=True), where

    def _records(self, shard: str) -> list:
        """The index entries of a TFRecord shard in TensorFlow's layout: its `.idx` file, or (local) its framing."""
        index = index_name(shard)
        if self.files.exists(index):
            return tfrecord.parse_index(_text(self.files, index), self.files.describe(index))
        if isinstance(self.files, LocalFiles):
            return tfrecord.scan_file(self.files.describe(shard))
        raise DatasetError(f"{self.files.describe(index)} is missing; write the index of each shard with DALI's "
                           f"tfrecord2idx and upload it beside the shard")

    def _scan_shards(self) -> list[str]:
        if isinstance(self.files, S3Objects):
            raise DatasetError(f"{self.root}/{SHARD_LIST} is missing; list the shard files there, one a line")
        names = sorted(n for n in os.listdir(self.root) if ".tfrecord" in n and not n.endswith(INDEX_EXTENSION))
        if not names:
            raise DatasetError(f"{self.root} holds no *.tfrecord* files; fix dataroot_gt")
        return names

    # -- reading ---------------------------------------------------------------------------------------------
    def label(self, key: str) -> str:
        return key

    def describe(self, key: str) -> str:
        loc = self._where.get(key)
        at = f" (shard {self.files.describe(loc.shard)}, byte {loc.offset})" if loc else ""
        return f"key '{key}' of {self.root}{at}"

    def has(self, key: str) -> bool:
        return key in self._keys

    def missing(self, keys: Sequence[str]) -> list[str]:
        return [k for k in keys if k not in self._keys]

    def require(self, keys: Sequence[str]) -> None:
        missing = self.missing(keys)
        if missing:
            raise DatasetError(f"{len(missing)} key(s) are missing from the shards of {self.root}: {listing(missing)}; "
                               f"re-create the folder with dali-sr pack")

    def location(self, key: str) -> Location:
        loc = self._where.get(key)
        if loc is None:
            raise DatasetError(f"key '{key}' is in no shard of {self.root}; re-create the folder or fix the key")
        return loc

    def get(self, key: str) -> np.ndarray:
        """The stored bytes of `key` (a view of the shard's memory map when local)."""
        loc = self.location(key)
        where = self.files.describe(loc.shard)
        if self.format == "webdataset":
            block = self.files.read(loc.shard, loc.offset - tar_shards.BLOCK, tar_shards.BLOCK + loc.size)
            tar_shards.check_header(block[:tar_shards.BLOCK], tar_shards.Member(loc.member, loc.offset, loc.size), where)
            return np.frombuffer(block, np.uint8)[tar_shards.BLOCK:]
        record = self.files.read(loc.shard, loc.offset, loc.size)
        payload = tfrecord.record_payload(record, 0, loc.size, where, base=loc.offset)
        features = tfrecord.decode_example(payload, f"{where} (record at byte {loc.offset})")
        if self.io.patch_shape is None:
            stored = features.get(KEY_FEATURE)
            if not stored or bytes(stored[0]) != key.encode("utf-8"):
                raise DatasetError(f"{where}: the record at byte {loc.offset} is not key '{key}'; the index files or "
                                   f"meta_info.txt do not match the shards, re-create the folder with dali-sr pack")
        value = features.get(self.io.feature)
        if not value or not isinstance(value[0], memoryview):
            raise DatasetError(f"{where}: the record at byte {loc.offset} has no bytes feature '{self.io.feature}'; "
                               f"set io_backend.feature to the feature holding the image")
        return np.frombuffer(value[0], np.uint8)

    def items(self) -> Iterator[tuple[str, np.ndarray]]:
        """(key, value) of every listed key, in record order."""
        for key in self.meta.keys:
            yield key, self.get(key)

    def close(self) -> None:
        self.files.close()
