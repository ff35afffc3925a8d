"""Read-only storage backends: stored image bytes by key, from a folder or a BasicSR LMDB.

LMDB environments are shared per (path, process): py-lmdb refuses to open one path twice
in a process, and an environment must never cross a fork. Each `LmdbStorage` opens its
environment lazily (re-opening after a fork) and releases it on `close()`; the last user
closes it. LMDB values are read without copying: `get` returns a view of the memory map,
valid until the storage is closed.

Another process may write to an LMDB while it is read. If one has the LMDB open when a process
opens it (a writer holds a lock on `lock.mdb`), and `lock.mdb` may be written, its readers register
in LMDB's lock table: the writer then never reuses the pages of a snapshot being read, and every
read transaction sees the database as one commit left it. Otherwise readers leave the folder
untouched, as BasicSR's do (no lock file is written, which also keeps readers on several machines
of a network file system out of each other's way), and every read checks that no commit happened
since its transaction began. Either way, a read that fails or misses a key after the database
changed is reported as a writer at work, never as corruption or a missing key.
"""
from __future__ import annotations

import errno
import os
import threading
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Iterator, Optional, Protocol, Sequence

import lmdb
import numpy as np

from ..errors import DatasetError, listing

LOCK_FILE = "lock.mdb"
PROC_LOCKS = "/proc/locks"
# Readers registered beside a writer map this many bytes beyond the data (address space, not memory) for what the
# writer adds while their snapshots hold its freed pages; a read transaction begun after the data outgrew it fails.
WRITER_HEADROOM = 1 << 30


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


def held_by_another_process(file: str) -> bool:
    """Whether another process holds a POSIX lock on `file`, as Linux's `/proc/locks` lists them (False where
    there is no such list)."""
    try:
        st = os.stat(file)
        with open(PROC_LOCKS, encoding="ascii", errors="replace") as f:
            table = f.read().splitlines()
    except OSError:
        return False
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in table:
        fields = line.replace("->", " ").split()  # "1: POSIX ADVISORY READ <pid> <maj:min:inode> <start> <end>"
        if inode in fields and fields[fields.index(inode) - 1] != str(os.getpid()):
            return True
    return False


def searchable_folder(root: str, what: str) -> bool:
    """Whether the folder `root` exists (False if not); a `DatasetError` naming it when it, or a folder above it,
    may not be searched (a permission error would otherwise pass for a missing or empty folder)."""
    try:
        found = Path(root).is_dir()  # raises if a folder above it may not be searched
        if found and not os.access(root, os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), root)
    except OSError as e:
        raise DatasetError(f"cannot open {what} {root}: {e.strerror}; make it and the folders above it readable "
                           f"(chmod a+rx) or fix dataroot_gt / dataroot_lq") from None
    return found


def readers_register(path: str) -> bool:
    """Whether readers of the LMDB folder `path` take part in its lock table: while another process has it open
    (a writer may be at work), if this process may write `lock.mdb` (see the module doc)."""
    lock_file = os.path.join(path, LOCK_FILE)
    return os.access(lock_file, os.W_OK) and held_by_another_process(lock_file)


class DiskStorage:
    """Files under a folder; keys are paths relative to it (BasicSR's `disk` backend)."""

    def __init__(self, root: str):
        self.root = str(root)
        if not searchable_folder(self.root, "dataset folder"):
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


_READER_OPTIONS = dict(readonly=True, readahead=False, meminit=False, max_readers=512)


def _open_error(path: str, error: lmdb.Error) -> DatasetError:
    if "already open" in str(error):
        return DatasetError(f"LMDB {path} is already open in this process by code outside dali_sr (py-lmdb allows "
                            f"one handle per path and process); close that handle")
    return DatasetError(f"cannot open LMDB {path}: {error}; check it is a complete BasicSR LMDB folder")


def short_data_file(env: lmdb.Environment, path: str) -> Optional[str]:
    """Why the open LMDB `env` at `path` cannot be read whole: a `data.mdb` shorter than the pages its header says
    it holds (reading those would kill the process with SIGBUS, as a copy cut short does); None if complete."""
    needed = (env.info()["last_pgno"] + 1) * env.stat()["psize"]
    size = os.path.getsize(os.path.join(path, "data.mdb"))
    return f"{os.path.join(path, 'data.mdb')} is truncated: {size} of its {needed} bytes" if size < needed else None


def _checked(env: lmdb.Environment, path: str) -> lmdb.Environment:
    """`env`, once its data file holds every page it needs; closed and a `DatasetError` otherwise."""
    short = short_data_file(env, path)
    if short is not None:
        env.close()
        raise DatasetError(f"LMDB {path}: {short}; copy it again or re-create it")
    return env


class _SharedEnvs:
    """One open read-only environment per (real path, pid), reference counted; each with whether its readers are
    registered in the lock table (see the module doc)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._envs: dict[tuple[str, int], list] = {}
        os.register_at_fork(after_in_child=self._forget_parent)

    def _forget_parent(self) -> None:
        """In a forked child: close the parent's handles (py-lmdb would refuse to re-open their paths)."""
        self._lock = threading.Lock()
        for env, *_ in self._envs.values():
            env.close()
        self._envs = {}

    def acquire(self, path: str) -> tuple[lmdb.Environment, bool]:
        """(environment, whether its readers are registered in the lock table) of `path` in this process."""
        key = (os.path.realpath(path), os.getpid())
        with self._lock:
            entry = self._envs.get(key)
            if entry is None:
                env, registered = self._open(path)
                entry = self._envs[key] = [env, 0, registered]
            entry[1] += 1
            return entry[0], entry[2]

    @staticmethod
    def _open(path: str) -> tuple[lmdb.Environment, bool]:
        """Open with the lock table where readers register; without it if that fails (a lock file of another LMDB
        build, a file system without the locks LMDB needs)."""
        if readers_register(path):
            try:
                size = os.path.getsize(os.path.join(path, "data.mdb")) + WRITER_HEADROOM
                env = lmdb.open(path, lock=True, map_size=size, **_READER_OPTIONS)
            except lmdb.Error as e:
                if "already open" in str(e):
                    raise _open_error(path, e) from None
            else:
                env.reader_check()  # free the slots of readers that died, so a writer may reuse their pages
                return _checked(env, path), True
        try:
            env = lmdb.open(path, lock=False, **_READER_OPTIONS)
        except lmdb.Error as e:
            raise _open_error(path, e) from None
        return _checked(env, path), False

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
    A read that meets another process's writes raises a `DatasetError` saying so (see the module doc).
    """

    def __init__(self, root: str):
        self.root = str(root)
        if not searchable_folder(self.root, "LMDB folder"):
            what = "is a file, not an LMDB folder" if os.path.exists(self.root) else "does not exist"
            raise DatasetError(f"LMDB folder {self.root} {what}; fix dataroot_gt / dataroot_lq")
        if not is_lmdb_folder(self.root):
            raise DatasetError(f"{self.root} is not an LMDB folder (no data.mdb); set io_backend: {{type: disk}} for "
                               f"a folder of images, or pack it (dali-sr pack)")
        self.__setstate__({"root": self.root})

    def __getstate__(self) -> dict:
        return {"root": self.root}

    def __setstate__(self, state: dict) -> None:
        self.root = state["root"]
        self._lock = threading.Lock()
        self._env: Optional[lmdb.Environment] = None
        self._pid = -1
        self._registered = False  # whether our readers are in the lock table
        self._opened_at = 0  # the last committed transaction when the environment was opened
        self._txns: dict[int, lmdb.Transaction] = {}  # thread id -> its read transaction

    def _txn(self) -> lmdb.Transaction:
        """This thread's read transaction, opening the environment first (again after a fork)."""
        thread = threading.get_ident()
        txn = self._txns.get(thread) if self._pid == os.getpid() else None
        if txn is not None:
            return txn
        with self._lock:
            if self._env is None or self._pid != os.getpid():
                self._env, self._registered = SHARED_ENVS.acquire(self.root)
                self._pid, self._txns = os.getpid(), {}
                self._opened_at = self._last_commit()
            with self._reading():
                txn = self._txns[thread] = self._env.begin(buffers=True)
            return txn

    # -- another process writing -----------------------------------------------------------------------------
    def _last_commit(self) -> int:
        return self._env.info()["last_txnid"]

    def _being_written(self, since: int) -> Optional[DatasetError]:
        """The error to raise if a transaction was committed after transaction `since`, else None."""
        now = self._last_commit()
        if now == since:
            return None
        return DatasetError(f"LMDB {self.root} is being written by another process (its last commit went from "
                            f"transaction {since} to {now} while it was read); wait for the writer to finish, or read "
                            f"a finished copy")

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Turn LMDB's errors into one line: a writer at work if the database changed since it was opened."""
        try:
            yield
        except lmdb.Error as e:
            if isinstance(e, lmdb.MapResizedError):  # grown past its size at opening: by a writer
                raise DatasetError(f"LMDB {self.root} is being written by another process (it grew beyond what this "
                                   f"process mapped when opening it); wait for the writer to finish, or read a "
                                   f"finished copy") from None
            written = self._being_written(self._opened_at)
            if written is not None:
                raise written from None
            raise DatasetError(f"cannot read LMDB {self.root}: {e}; the LMDB is damaged, re-create it") from None

    def _lookup(self, keys: Sequence[str]) -> list:
        """The value views of `keys` (None where missing), all from one consistent snapshot."""
        txn = self._txn()
        with self._reading():
            values = [txn.get(k.encode("ascii")) for k in keys]
            if not self._registered or any(v is None for v in values):
                written = self._being_written(txn.id())
                if written is not None:
                    raise written
        return values

    # -- reading -----------------------------------------------------------------------------------------------
    def label(self, key: str) -> str:
        return key

    def describe(self, key: str) -> str:
        """How errors name the item: the key and its LMDB (GT and LQ LMDBs share keys)."""
        return f"key '{key}' of {self.root}"

    def has(self, key: str) -> bool:
        return self._lookup([key])[0] is not None

    def missing(self, keys: Sequence[str]) -> list[str]:
        """Keys listed but absent from the database."""
        return [k for k, v in zip(keys, self._lookup(keys)) if v is None]

    def require(self, keys: Sequence[str]) -> None:
        """A `DatasetError` naming the listed keys that `data.mdb` lacks (an incomplete LMDB)."""
        missing = self.missing(keys)
        if missing:
            raise DatasetError(f"{len(missing)} key(s) of {self.root}/meta_info.txt are missing from its data.mdb: "
                               f"{listing(missing)}; the LMDB is incomplete, re-create it")

    def get(self, key: str) -> np.ndarray:
        """The stored bytes of `key`: a read-only view of the memory map, valid until `close()`."""
        value = self._lookup([key])[0]
        if value is None:
            raise DatasetError(f"key '{key}' is missing from LMDB {self.root}; re-create the LMDB or its meta_info.txt")
        return np.frombuffer(value, dtype=np.uint8)

    def stored_items(self) -> Iterator[tuple[bytes, np.ndarray]]:
        """(key, value view) of every entry in `data.mdb`, in LMDB order (bytes: a key need not be ASCII)."""
        txn = self._txn()
        with self._reading():
            for key, value in txn.cursor():
                if not self._registered:
                    written = self._being_written(txn.id())
                    if written is not None:
                        raise written
                yield bytes(key), np.frombuffer(value, dtype=np.uint8)

    def stored_keys(self) -> Iterator[bytes]:
        """Every key in `data.mdb`, in LMDB order."""
        for key, _ in self.stored_items():
            yield key

    def close(self) -> None:
        with self._lock:
            if self._env is not None and self._pid == os.getpid():
                for txn in self._txns.values():
                    txn.abort()
                SHARED_ENVS.release(self.root)
            self._env, self._txns = None, {}
