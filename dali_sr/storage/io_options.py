"""The `io_backend` option of a dataset config: its types, the keys each type takes and their checks, read into
the type's name and the `IoOptions` its storage opens with."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Mapping, Optional

from ..errors import ConfigError
from ..schema.fields import ANY, Field, choice
from ..schema.suggest import closest


@dataclass(frozen=True)
class IoOptions:
    """`io_backend` beyond its type: memcached's server list file and client library (None: the installed one,
    pylibmc first); for TFRecords without dali_sr's index and
    meta files (the TensorFlow format), the feature holding each record's value and the (h, w, c) of raw
    uint8 patches; for shards under `s3://`, the limits of each read."""

    server_list_cfg: Optional[str] = None
    client: Optional[str] = None
    feature: str = "data"
    patch_shape: Optional[tuple[int, int, int]] = None
    # each read of an object under s3://: seconds to connect and to wait for the server's next bytes, attempts
    # (transient failures are retried with backoff), and seconds for all attempts together
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    max_attempts: int = 10
    deadline: float = 25.0


# memcached's client libraries, in the order the default takes the installed one: pylibmc reads values faster
# (`python -m benchmarks.memcached_clients`), pymemcache is pure Python.
MEMCACHED_CLIENTS = ("pylibmc", "pymemcache")


def _seconds(default: float) -> Field:
    return Field((int, float), default, lambda v: 0 < v < math.inf, "a positive number of seconds")


# The limits of each read from object storage (s3://), which the shard types take.
REQUEST_LIMITS = {
    "connect_timeout": _seconds(IoOptions.connect_timeout),
    "read_timeout": _seconds(IoOptions.read_timeout),
    "max_attempts": Field((int,), IoOptions.max_attempts, lambda v: v > 0, "a positive integer"),
    "deadline": _seconds(IoOptions.deadline),
}
# The keys of each io_backend type besides `type` (`client_cfg` and `sys_path` belong to BasicSR's own memcached
# client: accepted, unused; `client` picks dali_sr's memcached client library).
BACKEND_KEYS: dict[str, dict[str, Field]] = {
    "disk": {},
    "lmdb": {},
    "memcached": {"server_list_cfg": Field((str,), None, bool, "the file of the servers' host:port lines"),
                  "client": choice(MEMCACHED_CLIENTS, expect=f"{' or '.join(MEMCACHED_CLIENTS)}, or omitted for "
                                   f"the installed one", nullable=True),
                  "client_cfg": Field(ANY), "sys_path": Field(ANY)},
    "tfrecord": {"feature": Field((str,), IoOptions.feature, bool, "the name of a record's feature"),
                 "patch_shape": Field(ANY), **REQUEST_LIMITS},
    "webdataset": dict(REQUEST_LIMITS),
}
IO_BACKENDS = tuple(BACKEND_KEYS)


def _patch_shape(value: Any, where: str) -> tuple[int, int, int]:
    """[height, width] or [height, width, channels] of raw uint8 patches, as (h, w, c)."""
    shape = list(value) if isinstance(value, (list, tuple)) else []
    if len(shape) == 2:
        shape.append(1)
    if len(shape) != 3 or not all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in shape) \
            or shape[2] not in (1, 3):
        raise ConfigError(f"{where}: io_backend.patch_shape must be [height, width] or [height, width, 1 or 3] of "
                          f"positive integers, got {value!r}")
    return (shape[0], shape[1], shape[2])


def _check_keys(value: Mapping[str, Any], kind: Any, where: str) -> None:
    """Every key of `value` is `type` or a key of io_backend type `kind`; the error names the type a key
    belongs to, or the closest key of any type."""
    every = sorted({key for keys in BACKEND_KEYS.values() for key in keys} | {"type"})
    for key in value:
        if key not in every:
            raise ConfigError(f"{where}: unknown key 'io_backend.{key}'{closest(str(key), every)} (io_backend "
                              f"takes type: {' | '.join(IO_BACKENDS)}, and that type's keys)")
    if kind not in BACKEND_KEYS:
        raise ConfigError(f"{where}: io_backend.type must be one of {IO_BACKENDS}, got {kind!r}")
    for key in value:
        if key != "type" and key not in BACKEND_KEYS[kind]:
            owner = next(t for t, keys in BACKEND_KEYS.items() if key in keys)
            raise ConfigError(f"{where}: 'io_backend.{key}' is a key of io_backend type {owner}, not {kind}; "
                              f"remove it or set type: {owner}")


def read_io_backend(value: Optional[Mapping[str, Any]], where: str) -> tuple[str, IoOptions]:
    """The io_backend type of a config's `io_backend` mapping (`disk` when there is none) and its options."""
    if value is None:
        return "disk", IoOptions()
    kind = value.get("type")
    _check_keys(value, kind, where)
    keys = BACKEND_KEYS[kind]
    v = {key: field.read(f"io_backend.{key}", value[key], where) if key in value else field.default
         for key, field in keys.items()}
    if kind == "memcached" and v["server_list_cfg"] is None:
        raise ConfigError(f"{where}: io_backend type memcached needs 'server_list_cfg', the file of the servers' "
                          f"host:port lines")
    if v.get("patch_shape") is not None:
        v["patch_shape"] = _patch_shape(v["patch_shape"], where)
    for key in ("connect_timeout", "read_timeout", "deadline"):
        if key in v:
            v[key] = float(v[key])
    known = {f.name for f in fields(IoOptions)}
    return kind, IoOptions(**{key: value for key, value in v.items() if key in known})
