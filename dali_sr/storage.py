"""Read-only storage backends: encoded image bytes by key, from a folder or a BasicSR LMDB.

LMDB environments are shared per (path, process): py-lmdb refuses to open one path twice
in a process, and an environment must never cross a fork. Each `LmdbStorage` opens its
environment lazily (re-opening after a fork) and releases it on `close()`; the last user
closes it.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Optional, Protocol, Sequence, TypeVar

import lmdb
import numpy as np

from .errors import DatasetError, listing, named_errors


class Storage(Protocol):
    """Where a dataset side's bytes live."""

    root: str

    def get(self, key: str) -> np.ndarray: ...

    def has(self, key: str) -> bool: ...

    def label(self, key: str) -> str: ...

    def describe(self, key: str) -> str: ...

    def close(self) -> None: ...


def check_relative_key(key: str, root: str) -> None:
    """Reject keys that would escape the dataset root (absolute, `..`, empty)."""
    p = PurePosixPath(key.replace("\\", "/"))
    if not key or p.is_absolute() or ".." in p.parts:
        raise DatasetError(f"key {key!r} in {root} escapes the dataset root; use paths relative to it without '..'")


class DiskStorage:
    """Files under a folder; keys are paths relative to it (BasicSR's `disk` backend)."""

    def __init__(self, root: str):
        self.root = str(root)
        if not Path(self.root).is_dir():
            raise DatasetError(f"dataset folder {self.root} does not exist; fix dataroot_gt / dataroot_lq")

    def path(self, key: str) -> str:
        return os.path.join(self.root, key)

    def label(self, key: str) -> str:
        return self.path(key)

    def describe(self, key: str) -> str:
        """How errors name the item: its file path."""
        return self.path(key)

    def has(self, key: str) -> bool:
        return os.path.isfile(self.path(key))

    def get(self, key: str) -> np.ndarray:
        try:
            with open(self.path(key), "rb") as f:
                return np.frombuffer(f.read(), dtype=np.uint8)
        except OSError as e:
            raise DatasetError(f"cannot read {self.path(key)}: {e.strerror}; check the file exists and is readable") from None

    def close(self) -> None:
        pass


class _SharedEnvs:
    """One open read-only environment per (real path, pid), reference counted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._envs: dict[tuple[str, int], list] = {}
        os.register_at_fork(after_in_child=self._forget_parent)

    def _forget_parent(self) -> None:
        """In a forked child: close the parent's handles (py-lmdb would refuse to re-open their paths)."""
        self._lock = threading.Lock()
        for env, _ in self._envs.values():
            env.close()
        self._envs = {}

    def acquire(self, path: str) -> lmdb.Environment:
        key = (os.path.realpath(path), os.getpid())
        with self._lock:
            entry = self._envs.get(key)
            if entry is None:
                try:
                    env = lmdb.open(path, readonly=True, lock=False, readahead=False, meminit=False, max_readers=512)
                except lmdb.Error as e:
                    if "already open" in str(e):
                        raise DatasetError(f"LMDB {path} is already open in this process by code outside dali_sr "
                                           f"(py-lmdb allows one handle per path and process); close that handle") from None
                    raise DatasetError(f"cannot open LMDB {path}: {e}; check it is a complete BasicSR LMDB folder") from None
                entry = self._envs[key] = [env, 0]
            entry[1] += 1
            return entry[0]

    def release(self, path: str) -> None:
        key = (os.path.realpath(path), os.getpid())
        with self._lock:
            entry = self._envs.get(key)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] <= 0:
                entry[0].close()
                del self._envs[key]

    def open_count(self) -> int:
        """Environments open in this process (for tests and leak checks)."""
        with self._lock:
            return sum(1 for (_, pid) in self._envs if pid == os.getpid())


SHARED_ENVS = _SharedEnvs()


class LmdbStorage:
    """Values of a BasicSR LMDB folder (`data.mdb`, `meta_info.txt`), keys as ASCII strings."""

    def __init__(self, root: str):
        self.root = str(root)
        if not Path(self.root, "data.mdb").is_file():
            raise DatasetError(f"{self.root} is not an LMDB folder (no data.mdb); set io_backend.type to disk or fix the path")
        self._env: Optional[lmdb.Environment] = None
        self._pid = -1

    def __getstate__(self) -> dict:
        return {"root": self.root, "_env": None, "_pid": -1}

    def _environment(self) -> lmdb.Environment:
        if self._env is None or self._pid != os.getpid():
            self._env = SHARED_ENVS.acquire(self.root)
            self._pid = os.getpid()
        return self._env

    def label(self, key: str) -> str:
        return key

    def describe(self, key: str) -> str:
        """How errors name the item: the key and its LMDB (GT and LQ LMDBs share keys)."""
        return f"key '{key}' of {self.root}"

    def has(self, key: str) -> bool:
        with self._environment().begin() as txn:
            return txn.get(key.encode("ascii")) is not None

    def missing(self, keys: Sequence[str]) -> list[str]:
        """Keys listed but absent from the database, in one read transaction."""
        with self._environment().begin() as txn:
            return [k for k in keys if txn.get(k.encode("ascii")) is None]

    def require(self, keys: Sequence[str]) -> None:
        """A `DatasetError` naming the listed keys that `data.mdb` lacks (an incomplete LMDB)."""
        missing = self.missing(keys)
        if missing:
            raise DatasetError(f"{len(missing)} key(s) of {self.root}/meta_info.txt are missing from its data.mdb: "
                               f"{listing(missing)}; the LMDB is incomplete, re-create it")

    def get(self, key: str) -> np.ndarray:
        with self._environment().begin() as txn:
            value = txn.get(key.encode("ascii"))
        if value is None:
            raise DatasetError(f"key '{key}' is missing from LMDB {self.root}; re-create the LMDB or its meta_info.txt")
        return np.frombuffer(value, dtype=np.uint8)

    def close(self) -> None:
        if self._env is not None and self._pid == os.getpid():
            SHARED_ENVS.release(self.root)
        self._env = None


T = TypeVar("T")


def build_on_storages(cfg: Any, build: Callable[[Storage, Storage], T]) -> T:
    """Open the config's LQ and GT storages and return `build(lq, gt)`; errors carry the dataset's name.

    If `build` fails, both storages are closed before the error propagates.
    """
    if not cfg.dataroot_gt or not cfg.dataroot_lq:
        raise DatasetError(f"{cfg.name}: {cfg.type} needs both dataroot_gt and dataroot_lq")
    store_cls = LmdbStorage if cfg.io_backend == "lmdb" else DiskStorage
    with named_errors(cfg.name):
        gt = store_cls(cfg.dataroot_gt)
        lq = store_cls(cfg.dataroot_lq)
        try:
            return build(lq, gt)
        except BaseException:
            lq.close()
            gt.close()
            raise
