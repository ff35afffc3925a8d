"""Write a BasicSR-format LMDB (values + `meta_info.txt`) from encoded images."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import lmdb

from .errors import DatasetError


def write_lmdb(path: str, items: Iterable[tuple[str, bytes, tuple[int, int, int]]], level: int = 1) -> int:
    """Write `(key, encoded bytes, (h, w, c))` items to a new LMDB folder with BasicSR's meta lines.

    The map grows when full; `meta_info.txt` is written last, so a folder without it is
    unfinished. Returns the number of values written.
    """
    folder = Path(path)
    if folder.exists():
        raise DatasetError(f"{path} already exists; remove it first")
    folder.mkdir(parents=True)
    map_size = 1 << 28
    env = lmdb.open(str(folder), map_size=map_size)
    lines, count = [], 0
    try:
        for key, data, (h, w, c) in items:
            key.encode("ascii")
            while True:
                try:
                    with env.begin(write=True) as txn:
                        txn.put(key.encode("ascii"), bytes(data))
                    break
                except lmdb.MapFullError:
                    map_size *= 2
                    env.set_mapsize(map_size)
            lines.append(f"{key}.png ({h},{w},{c}) {level}")
            count += 1
    finally:
        env.close()
    tmp = folder / "meta_info.txt.tmp"
    tmp.write_text("".join(line + "\n" for line in lines))
    os.replace(tmp, folder / "meta_info.txt")
    return count
