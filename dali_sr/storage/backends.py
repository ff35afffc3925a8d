"""Read-only storage backends: stored image bytes by key, from a folder or a BasicSR LMDB.

LMDB environments are shared per (path, process): py-lmdb refuses to open one path twice
in a process, and an environment must never cross a fork. Each `LmdbStorage` opens its
environment lazily (re-opening after a fork) and releases it on `close()`; the last user
closes it. LMDB values are read without copying: `get` returns a view of the memory map,
valid until the storage is closed.
"""
from __future__ import annotations

import errno
import os
import threading
from pathlib import Path, PurePosixPath
from typing import Iterator, Optional, Protocol, Sequence

import lmdb
import numpy as np

from ..errors import DatasetError, listing


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


def is_lmdb_folder(path: str) -> bool:
    """Whether `path` is a folder holding an LMDB's `data.mdb`."""
    return os.path.isfile(os.path.join(path, "data.mdb"))


class DiskStorage:
    """Files under a folder; keys are paths relative to it (BasicSR's `disk` backend)."""

    def __init__(self, root: str):
        self.root = str(root)
        try:
            found = Path(self.root).is_dir()  # raises if a folder above it may not be searched
            if found and not os.access(self.root, os.X_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), self.root)
        except OSError as e:
            raise DatasetError(f"cannot open dataset folder {self.root}: {e.strerror}; make it and the folders above "
                               f"it readable (chmod a+rx) or fix dataroot_gt / dataroot_lq") from None
        if not found:
            raise DatasetError(f"dataset folder {self.root} does not exist; fix dataroot_gt / dataroot_lq")
        if is_lmdb_folder(self.root):
            raise DatasetError(f"{self.root} is an LMDB folder (it holds data.mdb), read with io_backend disk; set "
                               f"io_backend: {{type: lmdb}}")

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
            return np.fromfile(self.path(key), dtype=np.uint8)
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
    """Values of a BasicSR LMDB folder (`data.mdb`, `meta_info.txt`), keys as ASCII strings.

    Reads go through one long-lived read transaction per thread, so `get` can hand out views of
    the memory map instead of copies; `close()` ends them (the views are invalid afterwards).
    """

    def __init__(self, root: str):
        self.root = str(root)
        if not os.path.exists(self.root):
            raise DatasetError(f"LMDB folder {self.root} does not exist; fix dataroot_gt / dataroot_lq")
        if not is_lmdb_folder(self.root):
            raise DatasetError(f"{self.root} is not an LMDB folder (no data.mdb); set io_backend: {{type: disk}} for "
                               f"a folder of images, or pack it (dali-sr pack)")
        self._lock = threading.Lock()
        self._env: Optional[lmdb.Environment] = None
        self._pid = -1
        self._txns: dict[int, lmdb.Transaction] = {}  # thread id -> its read transaction

    def __getstate__(self) -> dict:
        return {"root": self.root}

    def __setstate__(self, state: dict) -> None:
        self.root = state["root"]
        self._lock = threading.Lock()
        self._env, self._pid, self._txns = None, -1, {}

    def _txn(self) -> lmdb.Transaction:
        """This thread's read transaction, opening the environment first (again after a fork)."""
        thread = threading.get_ident()
        txn = self._txns.get(thread) if self._pid == os.getpid() else None
        if txn is not None:
            return txn
        with self._lock:
            if self._env is None or self._pid != os.getpid():
                self._env, self._pid, self._txns = SHARED_ENVS.acquire(self.root), os.getpid(), {}
            txn = self._txns[thread] = self._env.begin(buffers=True)
            return txn

    def label(self, key: str) -> str:
        return key

    def describe(self, key: str) -> str:
        """How errors name the item: the key and its LMDB (GT and LQ LMDBs share keys)."""
        return f"key '{key}' of {self.root}"

    def has(self, key: str) -> bool:
        return self._txn().get(key.encode("ascii")) is not None

    def missing(self, keys: Sequence[str]) -> list[str]:
        """Keys listed but absent from the database."""
        txn = self._txn()
        return [k for k in keys if txn.get(k.encode("ascii")) is None]

    def require(self, keys: Sequence[str]) -> None:
        """A `DatasetError` naming the listed keys that `data.mdb` lacks (an incomplete LMDB)."""
        missing = self.missing(keys)
        if missing:
            raise DatasetError(f"{len(missing)} key(s) of {self.root}/meta_info.txt are missing from its data.mdb: "
                               f"{listing(missing)}; the LMDB is incomplete, re-create it")

    def get(self, key: str) -> np.ndarray:
        """The stored bytes of `key`: a read-only view of the memory map, valid until `close()`."""
        value = self._txn().get(key.encode("ascii"))
        if value is None:
            raise DatasetError(f"key '{key}' is missing from LMDB {self.root}; re-create the LMDB or its meta_info.txt")
        return np.frombuffer(value, dtype=np.uint8)

    def stored_keys(self) -> Iterator[bytes]:
        """Every key in `data.mdb`, in LMDB order (bytes: a key need not be ASCII)."""
        for key in self._txn().cursor().iternext(keys=True, values=False):
            yield bytes(key)

    def stored_items(self) -> Iterator[tuple[bytes, np.ndarray]]:
        """(key, value view) of every entry in `data.mdb`, in LMDB order."""
        for key, value in self._txn().cursor():
            yield bytes(key), np.frombuffer(value, dtype=np.uint8)

    def close(self) -> None:
        with self._lock:
            if self._env is not None and self._pid == os.getpid():
                for txn in self._txns.values():
                    txn.abort()
                SHARED_ENVS.release(self.root)
            self._env, self._txns = None, {}
