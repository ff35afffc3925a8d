"""`dali-sr warm CONFIG`: pre-load a dataset's storage before training, so the first epoch reads at full speed.

Per side (dataroot_gt, dataroot_lq) and io_backend: an LMDB's `data.mdb` and local shards are read once
from start to end, filling the page cache (what `cat data.mdb > /dev/null` does, with progress); a
folder's image files are read once; behind memcached every file is stored in the cluster (files already
cached are only touched). Shards in object storage have nothing to pre-load.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..cli_types import positive_int
from ..parallel import check_workers, default_workers, ordered_map
from ..progress import progress as progress_bar
from ..storage.backends import LmdbStorage
from ..storage.folders import walk_images
from ..storage.opening import open_storage
from ..storage.s3 import is_s3_url
from ..storage.shards import ShardStorage

CHUNK = 8 << 20


@dataclass(frozen=True)
class Warmed:
    """What `warm` did to one side's storage."""

    root: str
    how: str  # "read" (page cache), "memcached" or "nothing" (object storage)
    files: int
    bytes: int
    cached: int = 0  # memcached: values already in the cluster
    too_large: int = 0  # memcached: files above the servers' item size limit


def _read_files(paths: list[str], label: str, progress: bool) -> int:
    """Read each file from start to end, with progress in MiB; returns the bytes read."""
    total = sum(os.path.getsize(p) for p in paths)
    done = 0
    with progress_bar(total >> 20, label, "MiB", progress) as bar:
        for path in paths:
            with open(path, "rb", buffering=0) as f:
                while True:
                    chunk = f.read(CHUNK)
                    if not chunk:
                        break
                    done += len(chunk)
                    bar.update((done >> 20) - bar.n)
    return done


def _image_files(root: str) -> list[str]:
    found, _ = walk_images(Path(root), recursive=True)
    return [os.path.join(root, *parts) for parts in found]


def warm_side(root: str, io_backend: str, io_options, workers: int, progress: bool) -> Warmed:
    """Pre-load one side's storage (see the module doc)."""
    store = open_storage(root, io_backend, io_options)
    try:
        if isinstance(store, ShardStorage):
            if is_s3_url(root):
                return Warmed(root, "nothing", 0, 0)
            paths = [os.path.join(root, s) for s in store.shards]
            return Warmed(root, "read", len(paths), _read_files(paths, f"warm {root}", progress))
        if isinstance(store, LmdbStorage):
            path = os.path.join(root, "data.mdb")
            return Warmed(root, "read", 1, _read_files([path], f"warm {path}", progress))
        files = _image_files(root)
        keys = [os.path.relpath(p, root) for p in files]
        warm = getattr(store, "warm", None)
        if warm is not None:  # memcached
            counts = warm(keys, progress=progress, workers=workers)
            return Warmed(root, "memcached", len(keys), sum(os.path.getsize(p) for p in files),
                          counts.already_cached, counts.too_large)
        with progress_bar(len(files), f"warm {root}", "img", progress) as bar:
            size = 0
            for n in ordered_map(lambda p: len(Path(p).read_bytes()), files, workers):
                size += n
                bar.update()
        return Warmed(root, "read", len(files), size)
    finally:
        store.close()


def warm(config: str, phase: Optional[str] = None, workers: Optional[int] = None,
         progress: bool = True) -> list[Warmed]:
    """Pre-load the storages of the dataset `config` (a YAML path or dict; `phase` picks an option file's
    section)."""
    from ..config import load_config

    cfg = load_config(config, phase)
    workers = check_workers(workers)
    return [warm_side(root, cfg.io_backend, cfg.io_options, workers, progress)
            for root in (cfg.dataroot_gt, cfg.dataroot_lq) if root]


def add_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add the `warm` subcommand to the `dali-sr` subparsers."""
    p = subparsers.add_parser(
        "warm", help="pre-load a dataset (page cache or memcached) before training",
        description="Pre-load the storage of a dataset config: read an LMDB's data.mdb or local shards once (the "
                    "page cache then serves the first epoch), read a folder's image files once, or with io_backend "
                    "memcached store every file in the cluster. Shards in object storage have nothing to pre-load.")
    p.add_argument("config", help="dataset config or BasicSR option file (YAML)")
    p.add_argument("--phase", default=None, help="section of an option file: train (default), val, test or a key")
    p.add_argument("--workers", type=positive_int, default=None,
                   help=f"threads reading files or filling memcached (default {default_workers()})")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run `dali-sr warm`; returns the exit code."""
    for w in warm(args.config, args.phase, args.workers, progress=not args.quiet):
        if w.how == "nothing":
            print(f"{w.root}: object storage, nothing to pre-load")
        elif w.how == "memcached":
            large = f"; {w.too_large} above the servers' item size limit (read from disk)" if w.too_large else ""
            print(f"{w.root}: {w.files} files in memcached ({w.cached} were cached already), "
                  f"{w.bytes / 2**20:.1f} MiB{large}")
        else:
            print(f"{w.root}: read {w.files} file(s), {w.bytes / 2**20:.1f} MiB")
    return 0
