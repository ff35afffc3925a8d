"""Writing one dataset side as N TFRecord files or WebDataset tars, resumable shard by shard.

Keys are sorted and cut into N contiguous runs, one per shard (`shard-00000-of-00004.tfrecord`). A
TFRecord holds one `tf.train.Example` per image with features `key` (the key's bytes) and `data` (the
stored value); a tar holds `{key}{ext}` members. Beside each shard goes the index DALI's readers use
(`.idx`) and, until the pack finishes, the shard's `meta_info.txt` lines (`.meta`).

As for an LMDB the folder is built as `DST.partial` and renamed to DST only when `meta_info.txt` and
`shards.txt` are written, so an interrupted run never looks finished. A shard is complete once its
index is written (after the shard itself is on disk). `--resume` keeps the complete shards, and also
a shard that was written whole but not yet indexed (a run stopped between the two): it is read back,
checked record by record against its keys, and its index and lines are rebuilt from it, so no finished
shard is encoded twice. A shard cut short is rewritten. A build stopped after its `meta_info.txt` was
written is only tidied and renamed. Resume refuses if the options, the keys or the source file of a
kept key changed (`source_stamps`).
"""
from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Optional, Sequence, Union

import numpy as np

from ..errors import ConfigError, DatasetError
from ..storage import tar_shards, tfrecord
from ..storage.formats import codec_extension
from ..storage.meta_files import META_TXT, Shape, meta_line, write_meta_info_txt
from ..storage.shards import INDEX_EXTENSION, KEY_FEATURE, SHARD_EXTENSIONS, SHARD_LIST, index_name
from .pack_sources import PackItem
from .partial_lmdb import (STATE_FILE, finished_meta, holds_work, move_into_place, partial_path, read_state, remove,
                           start_partial, stored_shape, write_state)
from .source_stamps import Source, check_unchanged, recorded_stamps

FORMATS = {"tfrecord": "tfrecord", "wds": "webdataset"}  # --format word -> io_backend type
_STATE_FORMAT = "dali_sr pack shards v1"
_LINES_EXTENSION = ".meta"
Encoded = tuple[bytes, Shape]
Located = Union[tfrecord.IndexEntry, tar_shards.Member]  # where a value landed in its shard


def shard_names(fmt: str, count: int) -> list[str]:
    ext = SHARD_EXTENSIONS[FORMATS[fmt]]
    return [f"shard-{i:05d}-of-{count:05d}{ext}" for i in range(count)]


def split_keys(items: Sequence[PackItem], count: int) -> list[Sequence[PackItem]]:
    """`count` contiguous runs of the (sorted) items, sizes differing by at most one."""
    if count > len(items):
        raise ConfigError(f"--shards {count} is more than the {len(items)} images to pack; use at most {len(items)}")
    n = len(items)
    return [items[i * n // count:(i + 1) * n // count] for i in range(count)]


def is_shard_folder_file(name: str) -> bool:
    """Files a shard folder (or its partial build) holds, which `--force` may replace."""
    return name in (META_TXT, SHARD_LIST, STATE_FILE) or name.endswith(
        (INDEX_EXTENSION, _LINES_EXTENSION, *SHARD_EXTENSIONS.values()))


def _digest(keys: Iterable[str]) -> str:
    h = hashlib.sha256()
    for key in keys:
        h.update(key.encode("utf-8") + b"\0")
    return h.hexdigest()[:16]


def _state(fmt: str, tag: str, count: int, keys: Iterable[str]) -> dict:
    return {"format": _STATE_FORMAT, "shards_format": fmt, "tag": tag, "shards": count, "keys": _digest(keys)}


def _recorded_state(partial: Path) -> dict:
    """The state of a partial shard build; for one stopped just before its rename (meta_info.txt and shards.txt
    written, state file deleted), what those files say."""
    if (partial / STATE_FILE).exists() or not ((partial / META_TXT).is_file() and (partial / SHARD_LIST).is_file()):
        return read_state(partial, "pack", _STATE_FORMAT)
    names = (partial / SHARD_LIST).read_text("ascii").split()
    fmt = next((word for word, kind in FORMATS.items() if names and names[0].endswith(SHARD_EXTENSIONS[kind])), None)
    keys, tag = finished_meta(partial)
    return _state(fmt, tag, len(names), keys)


def _open_partial(partial: Path, resume: bool, wanted: dict, sources: Mapping[str, Source]) -> Optional[dict]:
    """The recorded state of the partial build to resume (the same options and keys as `wanted`), or None after
    starting a fresh one."""
    if partial.exists() and not (resume and holds_work(partial)):
        remove(partial)
    if not partial.exists():
        start_partial(partial, {**wanted, "sources": recorded_stamps(sources)})
        return None
    was = _recorded_state(partial)
    diff = next((k for k in wanted if was.get(k) != wanted[k]), None)
    if diff is not None:
        raise ConfigError(f"{partial} was packed with {diff} {was.get(diff)!r}, not {wanted[diff]!r}; resume with "
                          f"the same options and source, or --force to start over")
    return was


def _complete(partial: Path, shard: str) -> bool:
    return all((partial / name).is_file() for name in (shard, index_name(shard), _lines_name(shard)))


def _lines_name(shard: str) -> str:
    return os.path.splitext(shard)[0] + _LINES_EXTENSION


def _write_shard(partial: Path, shard: str, fmt: str, items: Sequence[PackItem], encoded: Iterator[Encoded],
                 codec: str, tag: str, on_value: Callable[[int], None]) -> None:
    """Write one shard, then its meta lines, then its index (which marks it complete)."""
    for name in (index_name(shard), _lines_name(shard)):
        (partial / name).unlink(missing_ok=True)
    lines, located = [], []
    with open(partial / shard, "wb") as f:
        writer = tfrecord.RecordWriter(f) if fmt == "tfrecord" else tar_shards.TarShardWriter(f)
        for item, (value, shape) in zip(items, encoded):
            name = item.key + codec_extension(codec, shape[2])
            if fmt == "tfrecord":
                located.append(writer.write(tfrecord.encode_example({KEY_FEATURE: item.key.encode("utf-8"),
                                                                     "data": value})))
            else:
                located.append(writer.add(name, value))
            lines.append(meta_line(item.key, shape, codec, tag))
            on_value(len(value))
        if fmt == "wds":
            writer.close()
        f.flush()
        os.fsync(f.fileno())
    _write_lines_and_index(partial, shard, fmt, lines, located)


def _write_lines_and_index(partial: Path, shard: str, fmt: str, lines: Sequence[str],
                           located: Sequence[Located]) -> None:
    tmp = partial / (_lines_name(shard) + ".tmp")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="ascii")
    os.replace(tmp, partial / _lines_name(shard))
    if fmt == "tfrecord":
        tfrecord.write_index(partial / index_name(shard), located)
    else:
        tar_shards.write_index(partial / index_name(shard), located)


def _recover(partial: Path, shard: str, fmt: str, items: Sequence[PackItem], codec: str, tag: str) -> bool:
    """Keep a shard that a stopped run wrote whole but did not index: if its file holds exactly the values of
    `items`, complete and in order, write its meta lines and index from it. False if it does not."""
    path = partial / shard
    if not path.is_file() or path.stat().st_size == 0:
        return False
    data = np.memmap(path, dtype=np.uint8, mode="r")
    try:
        if fmt == "tfrecord":
            found = _tfrecord_values(data, str(path), items)
        else:
            found = _tar_values(data, str(path), items, codec)
    except (DatasetError, tarfile.TarError):
        found = None
    if found is None:
        return False
    _write_lines_and_index(partial, shard, fmt, [meta_line(it.key, shape, codec, tag) for it, (_, shape)
                                                  in zip(items, found)], [where for where, _ in found])
    return True


def _tfrecord_values(data: np.ndarray, where: str, items: Sequence[PackItem]) -> Optional[list[tuple[Located, Shape]]]:
    """(index entry, stored shape) of every record of a TFRecord shard, if they are `items` in order."""
    entries = tfrecord.scan_records(lambda offset, n: bytes(data[offset:offset + n]), len(data), where)
    if len(entries) != len(items):
        return None
    found = []
    for (offset, size), item in zip(entries, items):
        features = tfrecord.decode_example(tfrecord.record_payload(data, offset, size, where), where)
        key, value = features.get(KEY_FEATURE), features.get("data")
        if not key or bytes(key[0]) != item.key.encode("utf-8") or not value:
            return None
        found.append(((offset, size), stored_shape(value[0], f"{where} key {item.key!r}")))
    return found


def _tar_values(data: np.ndarray, where: str, items: Sequence[PackItem],
                codec: str) -> Optional[list[tuple[Located, Shape]]]:
    """(member, stored shape) of every member of a tar shard, if they are `items` in order, each named as
    `_write_shard` names it, and the archive ends as `TarShardWriter.close` ends it."""
    found, offset = [], 0
    for item in items:
        info = tarfile.TarInfo.frombuf(bytes(data[offset:offset + tar_shards.BLOCK]), "utf-8", "strict")
        start, end = offset + tar_shards.BLOCK, offset + tar_shards.BLOCK + info.size
        if not info.isfile() or end > len(data):
            return None
        shape = stored_shape(data[start:end], f"{where} key {item.key!r}")
        if info.name != item.key + codec_extension(codec, shape[2]):
            return None
        found.append((tar_shards.Member(info.name, start, info.size), shape))
        offset = start + -(-info.size // tar_shards.BLOCK) * tar_shards.BLOCK
    size = -(-(offset + 2 * tar_shards.BLOCK) // tarfile.RECORDSIZE) * tarfile.RECORDSIZE
    if len(data) != size or data[offset:].any():
        return None
    return found


def write_shards(items: Sequence[PackItem], dst: Path, fmt: str, count: int, codec: str, tag: str,
                 encode: Callable[[Sequence[PackItem]], Iterator[Encoded]], resume: bool,
                 progress: Callable[[int], None], sources: Optional[Mapping[str, Source]] = None
                 ) -> tuple[int, int, int]:
    """Pack `items` (sorted by key) into `count` shards at `dst`; `encode(items)` yields their (value, shape) in
    order. With `sources` (the files of the keys), a resumed build refuses if the source of a kept key changed.
    Returns (values written, values kept from the partial build, bytes written). A run that stops before any
    shard is complete leaves no partial build behind."""
    if fmt == "wds":
        bad = next((it.key for it in items if "." in it.key.rpartition("/")[2]), None)
        if bad is not None:
            raise DatasetError(f"key {bad!r} has a '.' in its last part: WebDataset reads a sample's key up to the "
                               f"first '.'; rename the file")
    partial = partial_path(str(dst))
    names = shard_names(fmt, count)
    runs = split_keys(items, count)
    wanted = _state(fmt, tag, count, (it.key for it in items))
    recorded = _open_partial(partial, resume, wanted, sources or {})
    finished = (partial / META_TXT).is_file()  # only the tidying and the rename were left
    done = [finished or _complete(partial, shard) or _recover(partial, shard, fmt, run, codec, tag)
            for shard, run in zip(names, runs)]
    if recorded is not None and sources is not None:
        check_unchanged(partial, recorded.get("sources", {}), sources,
                        (it.key for run, kept in zip(runs, done) if kept for it in run))
        write_state(partial, {**wanted, "sources": recorded_stamps(sources)})
    written = kept = written_bytes = 0
    try:
        for shard, run, complete in zip(names, runs, done):
            if complete:
                kept += len(run)
                progress(len(run))
                continue
            results = encode(run)
            try:
                def counted(size: int) -> None:
                    nonlocal written_bytes
                    written_bytes += size
                    progress(1)

                _write_shard(partial, shard, fmt, run, results, codec, tag, counted)
            finally:
                close = getattr(results, "close", None)
                if close is not None:
                    close()
            written += len(run)
    except BaseException:
        if not any(done) and not written:  # no shard complete: nothing to resume
            remove(partial)
        raise
    if not finished:
        _write_meta(partial, names)
    _tidy_and_move(partial, dst, names)
    return written, kept, written_bytes


def _write_meta(partial: Path, names: list[str]) -> None:
    """shards.txt, then meta_info.txt from the shards' lines (it marks the build finished)."""
    lines = [line for shard in names for line in (partial / _lines_name(shard)).read_text("ascii").splitlines()]
    (partial / SHARD_LIST).write_text("".join(n + "\n" for n in names), encoding="ascii")
    write_meta_info_txt(partial, lines)


def _tidy_and_move(partial: Path, dst: Path, names: list[str]) -> None:
    """Drop the shards' meta lines from a finished build, then rename it to DST."""
    for shard in names:
        (partial / _lines_name(shard)).unlink(missing_ok=True)
    move_into_place(partial, dst)
