"""Writing BasicSR-format LMDBs: values in batched transactions with a map that grows, then `meta_info.txt`.

`LmdbWriter` is what `dali-sr pack` uses; `write_lmdb` writes a small LMDB from values already in
memory (built-in datasets, tests). A folder without `meta_info.txt` is unfinished: it is written last.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import lmdb
import numpy as np

from ..errors import DatasetError
from .codecs import DEFAULT_LEVEL
from .headers import read_header
from .meta_files import Shape, meta_line, write_meta_info_txt

DEFAULT_COMMIT_EVERY = 5000
MAX_PENDING_BYTES = 256 << 20  # commit earlier when the uncommitted values reach this size
MIN_MAP_SIZE = 1 << 12  # one page


class LmdbWriter:
    """Puts values into an open LMDB environment in batches; a full map doubles and the batch is written again."""

    def __init__(self, env: lmdb.Environment, commit_every: int = DEFAULT_COMMIT_EVERY):
        self.env, self.commit_every = env, commit_every
        self.pending: list[tuple[bytes, bytes]] = []
        self.pending_bytes = 0
        self.map_size = env.info()["map_size"]

    def put(self, key: str, value: bytes) -> None:
        """Queue `value` under the ASCII `key`; commits when the batch is full."""
        self.pending.append((key.encode("ascii"), value))
        self.pending_bytes += len(value)
        if len(self.pending) >= self.commit_every or self.pending_bytes >= MAX_PENDING_BYTES:
            self.commit()

    def commit(self) -> None:
        """Write every queued value in one transaction, growing the map until it fits."""
        while self.pending:
            try:
                with self.env.begin(write=True) as txn:
                    for k, v in self.pending:
                        txn.put(k, v)
            except lmdb.MapFullError:
                self.map_size *= 2
                self.env.set_mapsize(self.map_size)
                continue
            self.pending, self.pending_bytes = [], 0


def _tag(codec: str, level: int) -> str:
    """The meta column of a value whose codec settings are unknown but its codec (PNG: the given level)."""
    return str(level) if codec == "png" else codec


def write_lmdb(path: str, items: Iterable[tuple[str, bytes, Shape]], level: int = DEFAULT_LEVEL) -> int:
    """Write `(key, encoded bytes, (h, w, c))` items to a new LMDB folder; returns the number of values.

    Meta lines name each value's codec as its header shows it: `key.png (h,w,c) level` for PNG
    (BasicSR's line), `key.jpg (h,w,c) jpeg`, `key.jp2 ... jpeg2000`, `key.ppm ... raw`.
    """
    folder = Path(path)
    if folder.exists():
        raise DatasetError(f"{path} already exists; remove it first")
    folder.mkdir(parents=True)
    env = lmdb.open(str(folder), map_size=1 << 28)
    lines = []
    try:
        writer = LmdbWriter(env)
        for key, data, shape in items:
            codec = read_header(np.frombuffer(data, np.uint8), f"{path} key {key!r}").codec
            writer.put(key, bytes(data))
            lines.append(meta_line(key, shape, codec, _tag(codec, level)))
        writer.commit()
    finally:
        env.close()
    write_meta_info_txt(folder, lines)
    return len(lines)
