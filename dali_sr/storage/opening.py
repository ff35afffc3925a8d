"""Opening a dataset side's storage: the table of openers by io_backend type, and the key list of the storages
that have one."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Optional

from ..errors import DatasetError, listing
from .backends import DiskStorage, LmdbStorage, Storage
from .io_options import IoOptions
from .meta_files import LmdbMeta, read_lmdb_meta
from .s3 import is_s3_url
from .shards import ShardStorage


@dataclass(frozen=True)
class Opener:
    """How an io_backend type opens a root (`open(root, io)`), and whether it reads `s3://` roots too."""

    open: Callable[[str, IoOptions], Storage]
    object_storage: bool = False


def _memcached(root: str, io: IoOptions) -> Storage:
    from .memcached import MemcachedStorage, read_server_list  # its client library only when a config uses it

    return MemcachedStorage(root, read_server_list(io.server_list_cfg), client=io.client)


# One opener per type of `io_options.BACKEND_KEYS`: a folder, a BasicSR LMDB, a folder behind memcached, or shards
# (local or s3://).
OPENERS: dict[str, Opener] = {
    "disk": Opener(lambda root, io: DiskStorage(root)),
    "lmdb": Opener(lambda root, io: LmdbStorage(root)),
    "memcached": Opener(_memcached),
    "tfrecord": Opener(lambda root, io: ShardStorage(root, "tfrecord", io), object_storage=True),
    "webdataset": Opener(lambda root, io: ShardStorage(root, "webdataset", io), object_storage=True),
}


def open_storage(root: str, io_backend: str, io: IoOptions = IoOptions()) -> Storage:
    """The storage of one side, opened by its io_backend type's opener."""
    opener = OPENERS[io_backend]
    if is_s3_url(root) and not opener.object_storage:
        raise DatasetError(f"{root}: io_backend {io_backend} reads local paths; for object storage pack the data into "
                           f"shards (dali-sr pack --format tfrecord|wds), upload them and set io_backend: "
                           f"{{type: tfrecord}} or {{type: webdataset}}")
    return opener.open(root, io)


def keyed_meta(store: Storage) -> Optional[LmdbMeta]:
    """The keys (and value kinds) of a storage that lists them (an LMDB's or a shard folder's meta_info.txt);
    None for a folder of files."""
    if isinstance(store, LmdbStorage):
        return _clip_frame_keys(read_lmdb_meta(store.root), store)
    if isinstance(store, ShardStorage):
        return store.meta
    return None


def _clip_frame_keys(meta: LmdbMeta, store: LmdbStorage) -> LmdbMeta:
    """An old EDVR LMDB whose `meta_info.pkl` lists clips (`00001_0001`, EDVR's Vimeo90K script) instead of frame
    keys: its keys become the stored keys of those clips (`00001_0001_1` ... `_7`, or only `_4` for GT), in order.
    Any other LMDB is returned as it is."""
    if meta.raw_shape is None or not meta.keys or not store.missing(meta.keys[:1]):
        return meta
    clips = set(meta.keys)
    frames = sorted(k for k in (raw.decode("ascii", "replace") for raw in store.stored_keys())
                    if k.rpartition("_")[0] in clips)
    if not frames:
        return meta  # neither frame keys nor clips: the loader names the missing keys
    empty = sorted(clips - {k.rpartition("_")[0] for k in frames})
    if empty:
        raise DatasetError(f"LMDB {store.root}: meta_info.pkl lists clip(s) {listing(empty)} with no frames "
                           f"({empty[0]}_1 ...) in data.mdb; the LMDB is incomplete, re-create it")
    return replace(meta, keys=frames)
