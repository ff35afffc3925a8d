"""Writing one dataset side as N TFRecord files or WebDataset tars, resumable shard by shard.

Keys are sorted and cut into N contiguous runs, one per shard (`shard-00000-of-00004.tfrecord`). A
TFRecord holds one `tf.train.Example` per image with features `key` (the key's bytes) and `data` (the
stored value); a tar holds `{key}{ext}` members. Beside each shard goes the index DALI's readers use
(`.idx`) and, until the pack finishes, the shard's `meta_info.txt` lines (`.meta`).

As for an LMDB the folder is built as `DST.partial` and renamed to DST only when `meta_info.txt` and
`shards.txt` are written, so an interrupted run never looks finished. A shard is complete once its
index is written (after the shard itself is on disk); `--resume` keeps complete shards and rewrites
the one that was cut short.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Iterator, Sequence

from ..errors import ConfigError, DatasetError
from ..storage import tar_shards, tfrecord
from ..storage.formats import codec_extension
from ..storage.meta_files import META_TXT, Shape, meta_line, write_meta_info_txt
from ..storage.shards import INDEX_EXTENSION, KEY_FEATURE, SHARD_EXTENSIONS, SHARD_LIST, index_name
from .pack_sources import PackItem
from .partial_lmdb import STATE_FILE, move_into_place, partial_path, remove, start_partial

FORMATS = {"tfrecord": "tfrecord", "wds": "webdataset"}  # --format word -> io_backend type
_STATE_FORMAT = "dali_sr pack shards v1"
_LINES_EXTENSION = ".meta"
Encoded = tuple[bytes, Shape]


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


def _digest(items: Sequence[PackItem]) -> str:
    h = hashlib.sha256()
    for it in items:
        h.update(it.key.encode("utf-8") + b"\0")
    return h.hexdigest()[:16]


def _open_partial(partial: Path, resume: bool, state: dict) -> None:
    if partial.exists() and not resume:
        remove(partial)
    if partial.exists():
        try:
            was = json.loads((partial / STATE_FILE).read_text())
        except (OSError, ValueError):
            raise DatasetError(f"{partial} is not a partial build of dali-sr pack (no valid {STATE_FILE}); rerun with "
                               f"--force to start over") from None
        if was != state:
            diff = next(k for k in state if was.get(k) != state[k])
            raise ConfigError(f"{partial} was packed with {diff} {was.get(diff)!r}, not {state[diff]!r}; resume with "
                              f"the same options and source, or --force to start over")
        return
    start_partial(partial, state)


def _complete(partial: Path, shard: str) -> bool:
    return all((partial / name).is_file() for name in (shard, index_name(shard), _lines_name(shard)))


def _lines_name(shard: str) -> str:
    return os.path.splitext(shard)[0] + _LINES_EXTENSION


def _write_shard(partial: Path, shard: str, fmt: str, items: Sequence[PackItem], encoded: Iterator[Encoded],
                 codec: str, tag: str, on_value: Callable[[int], None]) -> None:
    """Write one shard, then its meta lines, then its index (which marks it complete)."""
    for name in (index_name(shard), _lines_name(shard)):
        (partial / name).unlink(missing_ok=True)
    lines, entries, members = [], [], []
    with open(partial / shard, "wb") as f:
        writer = tfrecord.RecordWriter(f) if fmt == "tfrecord" else tar_shards.TarShardWriter(f)
        for item, (value, shape) in zip(items, encoded):
            name = item.key + codec_extension(codec, shape[2])
            if fmt == "tfrecord":
                entries.append(writer.write(tfrecord.encode_example({KEY_FEATURE: item.key.encode("utf-8"),
                                                                     "data": value})))
            else:
                members.append(writer.add(name, value))
            lines.append(meta_line(item.key, shape, codec, tag))
            on_value(len(value))
        if fmt == "wds":
            writer.close()
        f.flush()
        os.fsync(f.fileno())
    tmp = partial / (_lines_name(shard) + ".tmp")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="ascii")
    os.replace(tmp, partial / _lines_name(shard))
    if fmt == "tfrecord":
        tfrecord.write_index(partial / index_name(shard), entries)
    else:
        tar_shards.write_index(partial / index_name(shard), members)


def write_shards(items: Sequence[PackItem], dst: Path, fmt: str, count: int, codec: str, tag: str,
                 encode: Callable[[Sequence[PackItem]], Iterator[Encoded]], resume: bool,
                 progress: Callable[[int], None]) -> tuple[int, int, int]:
    """Pack `items` (sorted by key) into `count` shards at `dst`; `encode(items)` yields their (value, shape) in
    order. Returns (values written, values kept from the partial build, bytes written)."""
    if fmt == "wds":
        bad = next((it.key for it in items if "." in it.key.rpartition("/")[2]), None)
        if bad is not None:
            raise DatasetError(f"key {bad!r} has a '.' in its last part: WebDataset reads a sample's key up to the "
                               f"first '.'; rename the file")
    partial = partial_path(str(dst))
    _open_partial(partial, resume, {"format": _STATE_FORMAT, "shards_format": fmt, "tag": tag, "shards": count,
                                    "keys": _digest(items)})
    names = shard_names(fmt, count)
    runs = split_keys(items, count)
    written = kept = written_bytes = 0
    for shard, run in zip(names, runs):
        if _complete(partial, shard):
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
    _finish(partial, dst, names)
    return written, kept, written_bytes


def _finish(partial: Path, dst: Path, names: list[str]) -> None:
    lines = [line for shard in names for line in (partial / _lines_name(shard)).read_text("ascii").splitlines()]
    (partial / SHARD_LIST).write_text("".join(n + "\n" for n in names), encoding="ascii")
    write_meta_info_txt(partial, lines)
    for shard in names:
        (partial / _lines_name(shard)).unlink()
    move_into_place(partial, dst)
