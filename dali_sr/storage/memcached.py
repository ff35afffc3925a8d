"""Files under a folder, cached in a memcached cluster (BasicSR's `memcached` io_backend).

The cluster caches a shared file system: a value is the bytes of one file, keyed by its absolute
path (`cache_key`). A miss reads the file and stores it, so the first epoch fills the cache; files
above the servers' item size limit are read from disk every time. When a server fails, the files it
holds are read from disk (the same bytes) and the server is retried every `retry_s` seconds. The
cache is never checked against the files: flush the cluster after changing them.

Every thread has its own client (with its own connections), created on first use; connections are
closed before a fork, so a child never shares, or closes, a socket its parent keeps using, and both
reconnect on their next read. A pickled storage (DALI's spawned workers) keeps only its settings.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import math
import os
import socket
import threading
import warnings
import weakref
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..errors import ConfigError, DatasetError
from ..parallel import check_workers, ordered_map
from ..progress import tracked
from .backends import DiskStorage
from .io_options import MEMCACHED_CLIENTS as CLIENTS

RETRY_SECONDS = 10.0
CONNECT_TIMEOUT_S = 1.0
IO_TIMEOUT_S = 3.0
MAX_KEY_BYTES = 250  # memcached's key length limit
HASHED_KEY_PREFIX = "dali_sr-sha256:"
ITEM_OVERHEAD = 64  # bytes an item needs besides its key and value (header, flags, CAS, CRLF)
MiB = 1 << 20


class MemcachedWarning(RuntimeWarning):
    """The cluster cannot serve some reads (a server is down, a file is too large); they go to disk."""


def parse_server(text: str) -> tuple[str, int]:
    """`host:port` (`[v6 address]:port` too) as (host, port); a ValueError naming what is wrong."""
    host, sep, port = text.strip().rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or any(c.isspace() for c in host) or not (port.isascii() and port.isdigit()) \
            or not 0 < int(port) < 65536:
        raise ValueError(f"{text.strip()!r} is not host:port")
    return host, int(port)


def read_server_list(path: str) -> list[tuple[str, int]]:
    """The (host, port) servers of a BasicSR `server_list_cfg` file: `host:port` lines, `#` comments."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise DatasetError(f"memcached server list {path} does not exist; fix io_backend server_list_cfg "
                           f"(a file of host:port lines)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"cannot read memcached server list {path}: {getattr(e, 'strerror', None) or e}; "
                           f"check io_backend server_list_cfg names a readable text file") from None
    servers: dict[tuple[str, int], int] = {}
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            server = parse_server(text)
        except ValueError as e:
            raise DatasetError(f"{path}:{number}: {e}; write one memcached server per line as host:port "
                               f"(e.g. 127.0.0.1:11211)") from None
        if server in servers:
            raise DatasetError(f"{path}:{number}: {text} is listed again (line {servers[server]}); remove one")
        servers[server] = number
    if not servers:
        raise DatasetError(f"memcached server list {path} names no server; add host:port lines "
                           f"(e.g. 127.0.0.1:11211)")
    return list(servers)


def cache_key(path: str) -> str:
    """The memcached key of a file path.

    The path itself when memcached accepts it as a key (at most 250 bytes of UTF-8, printable, no
    spaces); otherwise `HASHED_KEY_PREFIX` + the SHA-256 hex of its UTF-8 bytes (undecodable file
    names kept as bytes). A path that starts with the prefix is hashed too, so keys never collide.
    """
    try:
        raw = path.encode("utf-8")
    except UnicodeEncodeError:
        raw = b""
    if raw and len(raw) <= MAX_KEY_BYTES and path.isprintable() and " " not in path \
            and not path.startswith(HASHED_KEY_PREFIX):
        return path
    return HASHED_KEY_PREFIX + hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()


def server_spec(host: str, port: int) -> str:
    """`host:port`, with an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def address(servers: Sequence[tuple[str, int]]) -> str:
    """The servers as `host:port, ...` for messages."""
    return ", ".join(server_spec(h, p) for h, p in servers)


def item_size_max(servers: Sequence[tuple[str, int]], timeout: float = CONNECT_TIMEOUT_S) -> Optional[int]:
    """The smallest `item_size_max` (`stats settings`) of the servers that answer; None if none does."""
    sizes = []
    for host, port in servers:
        try:
            with socket.create_connection((host, port), timeout=timeout) as s:
                s.sendall(b"stats settings\r\n")
                reply = b""
                while not reply.endswith(b"END\r\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
        except OSError:
            continue
        for line in reply.split(b"\r\n"):
            words = line.split()
            if len(words) == 3 and words[:2] == [b"STAT", b"item_size_max"] and words[2].isdigit():
                sizes.append(int(words[2]))
    return min(sizes) if sizes else None


_LIVE: "weakref.WeakSet[Connection]" = weakref.WeakSet()
_WARNED: set[tuple[str, str]] = set()  # (kind, servers) warned about in this process
_LIVE_LOCK = threading.Lock()  # guards _LIVE and the storages' bookkeeping; held across a fork


class Connection:
    """A client of the whole cluster (`_client`, the library's), for one thread at a time (`lock`); keys are bytes.

    `failures`: the exceptions that mean a server failed (the read goes to disk instead).
    """

    failures: tuple[type[BaseException], ...] = ()

    def __init__(self) -> None:
        self.lock = threading.Lock()
        with _LIVE_LOCK:
            _LIVE.add(self)

    def get(self, key: bytes) -> Optional[bytes]:
        """The stored bytes, None on a miss (whatever flags another client stored them with)."""
        with self.lock:
            return self._client.get(key)

    def set(self, key: bytes, value: bytes) -> bool:
        """Store `value`; False when the server refuses it as too large."""
        with self.lock:
            return self._set(key, value)

    def touch(self, key: bytes) -> bool:
        """Whether `key` is stored; it then never expires (as every value dali_sr stores)."""
        with self.lock:
            return bool(self._client.touch(key, 0))

    def delete(self, key: bytes) -> None:
        with self.lock:
            self._client.delete(key)

    def close(self) -> None:
        """Close the connections; the next call reconnects."""
        with self.lock:
            self._close()

    def _set(self, key: bytes, value: bytes) -> bool: ...

    def _close(self) -> None: ...


@functools.lru_cache(maxsize=None)
def _raw_pylibmc_client() -> type:
    """pylibmc's Client returning stored bytes as they are (it would unpickle values flagged as pickles)."""
    import pylibmc

    class RawClient(pylibmc.Client):
        def deserialize(self, value: bytes, flags: int) -> bytes:
            return value

    return RawClient


class PylibmcConnection(Connection):
    """libmemcached through pylibmc: ketama consistent hashing; a failed server is skipped for `retry_s`."""

    def __init__(self, servers: Sequence[tuple[str, int]], retry_s: float):
        import pylibmc

        self.failures, self._too_big = (pylibmc.Error,), pylibmc.TooBig
        self._client = _raw_pylibmc_client()(
            [server_spec(h, p) for h, p in servers],
            behaviors={"tcp_nodelay": True, "ketama": True, "retry_timeout": max(1, math.ceil(retry_s)),
                       "connect_timeout": int(1000 * CONNECT_TIMEOUT_S), "_poll_timeout": int(1000 * IO_TIMEOUT_S),
                       "send_timeout": int(1e6 * IO_TIMEOUT_S), "receive_timeout": int(1e6 * IO_TIMEOUT_S)})
        super().__init__()

    def _set(self, key: bytes, value: bytes) -> bool:
        try:
            return bool(self._client.set(key, value))
        except self._too_big:
            return False

    def _close(self) -> None:
        self._client.disconnect_all()


class PymemcacheConnection(Connection):
    """pymemcache's HashClient: rendezvous hashing; a failed server leaves the ring for `retry_s`."""

    def __init__(self, servers: Sequence[tuple[str, int]], retry_s: float):
        from pymemcache.client.hash import HashClient
        from pymemcache.exceptions import MemcacheError, MemcacheServerError

        self.failures, self._server_error = (OSError, MemcacheError), MemcacheServerError
        self._client = HashClient(list(servers), connect_timeout=CONNECT_TIMEOUT_S, timeout=IO_TIMEOUT_S,
                                  no_delay=True, retry_attempts=0, dead_timeout=retry_s, default_noreply=False)
        super().__init__()

    def _set(self, key: bytes, value: bytes) -> bool:
        try:
            return bool(self._client.set(key, value))
        except self._server_error as e:
            if "too large" in str(e):
                return False
            raise

    def _close(self) -> None:
        self._client.close()


_CONNECTIONS = {"pylibmc": PylibmcConnection, "pymemcache": PymemcacheConnection}


def _installed(client: str) -> bool:
    return importlib.util.find_spec(client) is not None


def check_client(client: Optional[str] = None) -> str:
    """`client` if it is a known, installed memcached client library; None: the first installed one of `CLIENTS`
    (pylibmc, then pymemcache). A `ConfigError` naming the fix otherwise."""
    if client is None:
        installed = [c for c in CLIENTS if _installed(c)]
        if not installed:
            raise ConfigError(f"io_backend type memcached needs a memcached client library, and neither "
                              f"{' nor '.join(CLIENTS)} is installed; pip install 'dali_sr[memcached]' (pylibmc) "
                              f"or pip install pymemcache")
        return installed[0]
    if client not in CLIENTS:
        raise ConfigError(f"memcached client {client!r} is unknown; use one of {', '.join(CLIENTS)}")
    if not _installed(client):
        others = [c for c in CLIENTS if c != client]
        raise ConfigError(f"memcached client {client} (io_backend client) is not installed; pip install {client}, "
                          f"or set client: {' or '.join(others)}, or leave client out to use the installed one")
    return client


def connect(client: str, servers: Sequence[tuple[str, int]], retry_s: float = RETRY_SECONDS) -> Connection:
    """A `Connection` to the cluster through `client` (one of `CLIENTS`); it connects on first use."""
    return _CONNECTIONS[check_client(client)](servers, retry_s)


_FORK_HELD: list[Connection] = []


def _before_fork() -> None:
    """Close every connection (waiting for reads in flight) and hold them closed across the fork."""
    _LIVE_LOCK.acquire()
    _FORK_HELD[:] = list(_LIVE)
    for conn in _FORK_HELD:
        conn.lock.acquire()
        with contextlib.suppress(*conn.failures):
            conn._close()


def _after_fork() -> None:
    for conn in _FORK_HELD:
        conn.lock.release()
    _FORK_HELD.clear()
    _LIVE_LOCK.release()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork, after_in_child=_after_fork)


@dataclass
class WarmCounts:
    """What `MemcachedStorage.warm` did with each file."""

    stored: int = 0
    too_large: int = 0
    already_cached: int = 0


class MemcachedStorage(DiskStorage):
    """Files under `root`, read through a memcached cluster (`servers`); keys are paths relative to `root`.

    `client`: the client library (`CLIENTS`; None: the first installed one). `get` is thread-safe; `retry_s`: how
    long a failed server is left alone before it is tried again.
    """

    def __init__(self, root: str, servers: Sequence[tuple[str, int]], client: Optional[str] = None,
                 retry_s: float = RETRY_SECONDS):
        super().__init__(root)
        if not servers:
            raise ConfigError(f"memcached storage of {self.root} has no servers; give io_backend server_list_cfg "
                              f"a file of host:port lines")
        self.servers = [(str(h), int(p)) for h, p in servers]
        self.client = check_client(client)
        self.retry_s = float(retry_s)
        self._reset()

    def _reset(self) -> None:
        self._local = threading.local()
        self._conns: "weakref.WeakSet[Connection]" = weakref.WeakSet()
        self._item_limit: Optional[int] = None

    def __getstate__(self) -> dict:
        return {"root": self.root, "servers": self.servers, "client": self.client, "retry_s": self.retry_s}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._reset()

    def _connection(self) -> Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.client, self.servers, self.retry_s)
            with _LIVE_LOCK:
                self._conns.add(conn)
        return conn

    def key_of(self, key: str) -> bytes:
        """The memcached key of `key`'s file: `cache_key` of its absolute path, as UTF-8."""
        return cache_key(os.path.abspath(self.path(key))).encode("utf-8")

    def describe(self, key: str) -> str:
        """How errors name the item: its file and its memcached key and servers."""
        return f"{self.path(key)} (read through memcached {address(self.servers)}, key " \
               f"'{self.key_of(key).decode()}')"

    def get(self, key: str) -> np.ndarray:
        """The file's bytes: from the cluster, else from disk (then stored, if they fit)."""
        conn, mkey = self._connection(), self.key_of(key)
        try:
            value = conn.get(mkey)
        except conn.failures as e:
            self._server_failed(e)
            return super().get(key)
        if value is not None:
            return np.frombuffer(value, dtype=np.uint8)
        data = super().get(key)
        try:
            self._store(conn, key, mkey, data)
        except conn.failures as e:
            self._server_failed(e)
        return data

    def _store(self, conn: Connection, key: str, mkey: bytes, data: np.ndarray) -> bool:
        """Store a file's bytes; False (warning once) when they are above the item size limit."""
        if self._item_limit is None:
            self._item_limit = item_size_max(self.servers)
        limit = self._item_limit
        if (limit is None or len(mkey) + data.nbytes + ITEM_OVERHEAD <= limit) and conn.set(mkey, data.tobytes()):
            return True
        need = math.ceil((len(mkey) + data.nbytes + ITEM_OVERHEAD) / MiB)
        limit_text = f"{limit} bytes ({limit / MiB:g} MiB)" if limit else "unknown"
        self._warn_once("too large", f"{self.path(key)} is {data.nbytes} bytes, above the item size limit of "
                                     f"memcached {address(self.servers)} (item_size_max {limit_text}); files this "
                                     f"large are read from disk every time; start memcached with a larger limit, "
                                     f"e.g. memcached -I {max(2, need)}m")
        return False

    def _server_failed(self, error: BaseException) -> None:
        self._warn_once("failed", f"memcached {address(self.servers)} failed ({type(error).__name__}: {error}); "
                                  f"reading the files from disk instead (the same bytes) and "
                                  f"retrying the server every {self.retry_s:g} s; check that memcached runs there")

    def _warn_once(self, kind: str, message: str) -> None:
        """Warn once per process and cluster (the GT and LQ storages of a dataset share their servers)."""
        with _LIVE_LOCK:
            if (kind, address(self.servers)) in _WARNED:
                return
            _WARNED.add((kind, address(self.servers)))
        warnings.warn(message + " (shown once)", MemcachedWarning, stacklevel=4)

    def warm(self, keys: Sequence[str], progress: bool = True, workers: Optional[int] = None) -> WarmCounts:
        """Store every key's file in the cluster once; files already stored are left as they are.

        A server failure is a `DatasetError` here (warming a cache that cannot hold anything is no use).
        """
        def one(key: str) -> str:
            conn, mkey = self._connection(), self.key_of(key)
            try:
                if conn.touch(mkey):
                    return "already_cached"
                return "stored" if self._store(conn, key, mkey, DiskStorage.get(self, key)) else "too_large"
            except conn.failures as e:
                raise DatasetError(f"memcached {address(self.servers)} failed while storing {self.path(key)} "
                                   f"({type(e).__name__}: {e}); check that memcached runs there and warm again") \
                    from None

        counts = WarmCounts()
        outcomes = ordered_map(one, keys, check_workers(workers))
        for outcome in tracked(outcomes, len(keys), "memcached warm", "files", progress):
            setattr(counts, outcome, getattr(counts, outcome) + 1)
        return counts

    def close(self) -> None:
        """Close every thread's connections; a later read reconnects."""
        with _LIVE_LOCK:
            conns, self._conns = list(self._conns), weakref.WeakSet()
        for conn in conns:
            conn.close()
        self._local = threading.local()
