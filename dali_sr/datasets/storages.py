"""Opening a dataset config's LQ and GT storages, and naming a dataset by the keys it reads."""
from __future__ import annotations

import hashlib
from typing import Callable, Iterable, Optional, TypeVar

from ..config import Config
from ..errors import DatasetError, named_errors
from ..storage.backends import Storage
from ..storage.opening import open_storage

T = TypeVar("T")


def build_on_storages(cfg: Config, build: Callable[[Optional[Storage], Storage], T]) -> T:
    """Open the config's LQ and GT storages and return `build(lq, gt)`; errors carry the dataset's name.

    LQ is None for a GT-only config (its LQ is made from GT). If `build` fails, the storages are closed
    before the error propagates.
    """
    if not cfg.dataroot_gt:
        raise DatasetError(f"{cfg.name}: {cfg.type} needs dataroot_gt")
    def store(root: str) -> Storage:
        return open_storage(root, cfg.io_backend, cfg.io_options)

    with named_errors(cfg.name):
        gt = store(cfg.dataroot_gt)
        try:
            lq = store(cfg.dataroot_lq) if cfg.dataroot_lq else None
        except BaseException:
            gt.close()
            raise
        try:
            return build(lq, gt)
        except BaseException:
            for store in (lq, gt):
                if store is not None:
                    store.close()
            raise


def fingerprint(*key_lists: Iterable[str]) -> str:
    """A short digest of the keys a dataset reads, in order: two loaders with the same one read the same samples."""
    digest = hashlib.sha256()
    for keys in key_lists:
        for key in keys:
            digest.update(key.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(b"\1")
    return digest.hexdigest()[:16]
