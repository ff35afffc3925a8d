"""Opening a dataset config's LQ and GT storages, and naming a dataset by the keys it reads."""
from __future__ import annotations

import hashlib
from typing import Callable, Iterable, TypeVar

from ..config import Config
from ..errors import DatasetError, named_errors
from ..storage.backends import DiskStorage, LmdbStorage, Storage

T = TypeVar("T")


def build_on_storages(cfg: Config, build: Callable[[Storage, Storage], T]) -> T:
    """Open the config's LQ and GT storages and return `build(lq, gt)`; errors carry the dataset's name.

    If `build` fails, both storages are closed before the error propagates.
    """
    if not cfg.dataroot_gt or not cfg.dataroot_lq:
        raise DatasetError(f"{cfg.name}: {cfg.type} needs both dataroot_gt and dataroot_lq")
    store_cls = LmdbStorage if cfg.io_backend == "lmdb" else DiskStorage
    with named_errors(cfg.name):
        gt = store_cls(cfg.dataroot_gt)
        try:
            lq = store_cls(cfg.dataroot_lq)
        except BaseException:
            gt.close()
            raise
        try:
            return build(lq, gt)
        except BaseException:
            lq.close()
            gt.close()
            raise


def fingerprint(*key_lists: Iterable[str]) -> str:
    """A short digest of the keys a dataset reads, in order: two loaders with the same one read the same samples."""
    digest = hashlib.sha256()
    for keys in key_lists:
        for key in keys:
            digest.update(key.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(b"\1")
    return digest.hexdigest()[:16]
