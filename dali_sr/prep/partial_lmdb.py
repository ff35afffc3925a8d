"""Building an LMDB so that an interrupted run never looks finished and can be resumed.

The LMDB is built in the sibling folder `DST.partial`, with a state file naming the command and the
meta column its values get; `meta_info.txt` is written last and the folder is renamed to DST only
then. `--resume` reopens the partial build and keeps the values it holds (checked to be of the
codec the command writes); `--force` replaces a finished DST (LMDB folders only).
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from ..errors import ConfigError, DatasetError
from ..storage.headers import SNIFF_BYTES, read_header, sniff_codec
from ..storage.lmdb_writer import MIN_MAP_SIZE, LmdbWriter
from ..storage.meta_files import META_TXT, Shape, meta_line, write_meta_info_txt

PARTIAL_SUFFIX = ".partial"
STATE_FILE = "pack_state.json"
_STATE_FORMAT = "dali_sr pack partial v1"
_LMDB_FILES = {"data.mdb", "lock.mdb", META_TXT, STATE_FILE}


def partial_path(dst: str) -> Path:
    """Where an LMDB is built until it is complete."""
    p = Path(dst)
    return p.with_name(p.name + PARTIAL_SUFFIX)


def stored_shape(value: Any, name: str) -> Shape:
    """(h, w, c) that a stored value's header gives."""
    header = read_header(np.frombuffer(value, dtype=np.uint8), name)
    return header.height, header.width, header.channels


def check_destination(src: Path, dst: Path, force: bool, resume: bool, command: str,
                      replaceable: Optional[Callable[[str], bool]] = None) -> None:
    """DST must lie outside SRC and be new (or a folder of only `replaceable` files, by default an LMDB's, that
    `force` replaces); an LMDB must be named `*.lmdb`; an unfinished build of DST needs `resume` or `force`."""
    if replaceable is None and not dst.name.endswith(".lmdb"):
        raise ConfigError(f"{dst}: the LMDB folder name must end with '.lmdb' (BasicSR requires it); "
                          f"e.g. {dst.name}.lmdb")
    s, d = src.resolve(), dst.resolve()
    if s == d or d in s.parents:
        raise ConfigError(f"{dst} is the source folder or holds it; choose a DST outside SRC {src}")
    name, kind = ("LMDB", "an LMDB folder") if replaceable is None else ("shard folder", "a shard folder")
    if dst.exists() or dst.is_symlink():
        if not force:
            done = f" (a complete {name})" if (dst / META_TXT).is_file() else ""
            raise DatasetError(f"{dst} already exists{done}; pass --force to replace it, or choose another DST")
        if dst.is_dir() and not dst.is_symlink():
            ours = replaceable or (lambda name: name in _LMDB_FILES)
            strangers = sorted(p.name for p in dst.iterdir() if not ours(p.name))
            if strangers:
                raise DatasetError(f"{dst} is not {kind} (it holds {strangers[0]}); --force only replaces "
                                   f"{kind[kind.index(' ') + 1:]}s, remove it yourself")
    partial = partial_path(str(dst))
    if partial.exists() and not (resume or force):
        raise DatasetError(f"{partial} holds an unfinished {command} of {dst.name}; pass --resume to continue it or "
                           f"--force to start over")


def open_partial(partial: Path, resume: bool, codec: str, tag: str, map_size: int, command: str):
    """(env, {key: shape} already stored) of the partial build; a fresh one unless resuming."""
    import lmdb

    if partial.exists() and not resume:
        remove(partial)
    if partial.exists():
        try:
            state = json.loads((partial / STATE_FILE).read_text())
            assert state.get("format") == _STATE_FORMAT
        except (OSError, ValueError, AssertionError):
            raise DatasetError(f"{partial} is not a partial build of dali-sr {command} (no valid {STATE_FILE}); "
                               f"rerun with --force to start over") from None
        was, by = state.get("tag", str(state.get("level"))), state.get("command", "pack")
        if by != command:
            raise DatasetError(f"{partial} is an unfinished dali-sr {by}, not {command}; finish it with dali-sr {by} "
                               f"--resume, or rerun with --force to start over")
        if was != tag:
            raise ConfigError(f"{partial} was packed as {was} (meta column), not {tag}; resume with the same "
                              f"--codec/--level/--quality, or --force to start over")
        data = partial / "data.mdb"
        size = data.stat().st_size if data.exists() else 0
        env = lmdb.open(str(partial), map_size=max(map_size, 2 * size, MIN_MAP_SIZE))
        done = {}
        with env.begin(buffers=True) as txn:
            for k, v in txn.cursor():
                key = bytes(k).decode("ascii")
                if sniff_codec(bytes(v[:SNIFF_BYTES])) != codec:
                    raise DatasetError(f"{partial}: value of key {key!r} is not {codec}; this is not a partial build "
                                       f"of this codec, rerun with --force to start over")
                done[key] = stored_shape(v, f"{partial} key {key!r}")
        return env, done
    start_partial(partial, {"format": _STATE_FORMAT, "tag": tag, "command": command})
    return lmdb.open(str(partial), map_size=max(map_size, MIN_MAP_SIZE)), {}


def fill_partial(env: Any, shapes: dict[str, Shape], keys: Sequence[str], results: Iterator[tuple[bytes, Shape]],
                 bar: Any) -> None:
    """Put each key's (value, shape) from `results` into the partial build, in order, ticking `bar`; whatever
    stops it, what was written is committed (so `--resume` starts after it) and `results` is closed."""
    writer = LmdbWriter(env)
    try:
        for key, (value, shape) in zip(keys, results):
            writer.put(key, value)
            shapes[key] = shape
            bar.update()
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()
        writer.commit()


def start_partial(partial: Path, state: dict) -> None:
    """Create a partial build's folder with its state file (written whole or not at all)."""
    partial.mkdir(parents=True)
    tmp = partial / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, partial / STATE_FILE)


def finish(partial: Path, dst: Path, shapes: dict[str, Shape], codec: str, tag: str) -> None:
    """Write `meta_info.txt` (sorted keys) into the partial build and move it to DST (replacing an old DST)."""
    write_meta_info_txt(partial, (meta_line(key, shapes[key], codec, tag) for key in sorted(shapes)))
    move_into_place(partial, dst)


def move_into_place(partial: Path, dst: Path) -> None:
    """Rename a finished partial build to DST, replacing an old DST, and drop its state file."""
    old = None
    if dst.exists() or dst.is_symlink():
        old = dst.with_name(f"{dst.name}.old-{os.getpid()}")
        os.replace(dst, old)
    os.replace(partial, dst)
    (dst / STATE_FILE).unlink(missing_ok=True)
    if old is not None:
        remove(old)


def remove(path: Path) -> None:
    """Delete a file or a folder tree."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
