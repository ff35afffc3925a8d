"""Opening a dataset side's storage from its io_backend, and the key list of the storages that have one."""
from __future__ import annotations

from typing import Optional

from ..config import SHARD_BACKENDS, IoOptions
from ..errors import DatasetError
from .backends import DiskStorage, LmdbStorage, Storage
from .meta_files import LmdbMeta, read_lmdb_meta
from .s3 import is_s3_url
from .shards import ShardStorage


def open_storage(root: str, io_backend: str, io: IoOptions = IoOptions()) -> Storage:
    """The storage of one side: a folder (`disk`), a BasicSR LMDB, a folder behind memcached, or shards
    (local or `s3://`)."""
    if io_backend in SHARD_BACKENDS:
        return ShardStorage(root, io_backend, io)
    if is_s3_url(root):
        raise DatasetError(f"{root}: io_backend {io_backend} reads local paths; for object storage pack the data into "
                           f"shards (dali-sr pack --format tfrecord|wds), upload them and set io_backend: "
                           f"{{type: tfrecord}} or {{type: webdataset}}")
    if io_backend == "lmdb":
        return LmdbStorage(root)
    if io_backend == "memcached":
        from .memcached import MemcachedStorage, read_server_list

        return MemcachedStorage(root, read_server_list(io.server_list_cfg))
    return DiskStorage(root)


def keyed_meta(store: Storage) -> Optional[LmdbMeta]:
    """The keys (and value kinds) of a storage that lists them (an LMDB's or a shard folder's meta_info.txt);
    None for a folder of files."""
    if isinstance(store, LmdbStorage):
        return read_lmdb_meta(store.root)
    if isinstance(store, ShardStorage):
        return store.meta
    return None
