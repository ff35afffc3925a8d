"""Building an LMDB so that an interrupted run never looks finished and can be resumed.

The LMDB is built in the sibling folder `DST.partial`, with a state file naming the command, the
meta column its values get and, for `pack`, the stamp (size, mtime) of every source file
(`source_stamps`). `meta_info.txt` is written last; then the state file is deleted and the folder
renamed to DST, so a finished DST never holds the state file. `--resume` reopens the partial build
and keeps the values it holds (checked to be of the codec the command writes, from sources that did
not change); a partial build with `meta_info.txt` and no state file was stopped just before its
rename, and `--resume` only renames it. `--force` replaces a finished DST (LMDB folders only).

A partial build that holds no work (nothing but its state file, an LMDB without values, temporary
files) blocks nothing: the next run starts over without `--resume` or `--force`.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

import numpy as np

from ..errors import ConfigError, DatasetError
from ..storage.headers import SNIFF_BYTES, read_header, sniff_codec
from ..storage.lmdb_writer import MIN_MAP_SIZE, LmdbWriter
from ..storage.meta_files import META_TXT, Shape, meta_line, read_meta_info_txt, write_meta_info_txt
from .source_stamps import Source, check_unchanged, recorded_stamps

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
    if partial.exists() and not (resume or force) and holds_work(partial):
        raise DatasetError(f"{partial} holds an unfinished {command} of {dst.name}; pass --resume to continue it or "
                           f"--force to start over")


def open_partial(partial: Path, resume: bool, codec: str, tag: str, map_size: int, command: str,
                 sources: Optional[Mapping[str, Source]] = None):
    """(env, {key: shape} already stored) of the partial build; a fresh one unless resuming one that holds work.

    With `sources` (key -> `Source`), their stamps go into the state file, and a resumed build refuses if the
    source of a key it holds changed since the run that stored it.
    """
    import lmdb

    if partial.exists() and not (resume and holds_work(partial)):
        remove(partial)
    if not partial.exists():
        state = {"format": _STATE_FORMAT, "tag": tag, "command": command}
        if sources is not None:
            state["sources"] = recorded_stamps(sources)
        start_partial(partial, state)
        return lmdb.open(str(partial), map_size=max(map_size, MIN_MAP_SIZE)), {}
    state = _lmdb_state(partial, command)
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
    try:
        done = {}
        with env.begin(buffers=True) as txn:
            for k, v in txn.cursor():
                key = bytes(k).decode("ascii")
                if sniff_codec(bytes(v[:SNIFF_BYTES])) != codec:
                    raise DatasetError(f"{partial}: value of key {key!r} is not {codec}; this is not a partial build "
                                       f"of this codec, rerun with --force to start over")
                done[key] = stored_shape(v, f"{partial} key {key!r}")
        if sources is not None:
            check_unchanged(partial, state.get("sources", {}), sources, done)
            write_state(partial, {**state, "sources": recorded_stamps(sources)})
    except BaseException:
        env.close()
        raise
    return env, done


def _lmdb_state(partial: Path, command: str) -> dict:
    """The state of a partial LMDB build; for one stopped just before its rename (meta_info.txt written, state
    file deleted), the meta column its meta_info.txt names."""
    if not (partial / STATE_FILE).exists() and (partial / META_TXT).is_file():
        _, tag = finished_meta(partial)
        return {"format": _STATE_FORMAT, "tag": tag, "command": command}
    return read_state(partial, command, _STATE_FORMAT)


def read_state(partial: Path, command: str, state_format: str) -> dict:
    """The state file of a partial build of `command`; `DatasetError` if it has none of `state_format`."""
    try:
        state = json.loads((partial / STATE_FILE).read_text())
        if not isinstance(state, dict) or state.get("format") != state_format:
            raise ValueError(state_format)
    except (OSError, ValueError):
        raise DatasetError(f"{partial} is not a partial build of dali-sr {command} (no valid {STATE_FILE}); "
                           f"rerun with --force to start over") from None
    return state


def finished_meta(partial: Path) -> tuple[list[str], Optional[str]]:
    """(keys, meta column) of the meta_info.txt of a finished build (the column is None unless every line has
    the same one)."""
    lines, _ = read_meta_info_txt(str(partial / META_TXT))
    tags = {line.tag for line in lines}
    return [line.key for line in lines], tags.pop() if len(tags) == 1 else None


def holds_work(partial: Path) -> bool:
    """Whether a partial build holds anything `--resume` would keep: stored values, written shards, a finished
    meta_info.txt. A folder of only its state file, an LMDB without values, empty and temporary files holds none."""
    if not partial.is_dir() or partial.is_symlink():
        return partial.exists() or partial.is_symlink()
    for path in partial.iterdir():
        if path.name in (STATE_FILE, "lock.mdb") or path.name.endswith(".tmp"):
            continue
        if path.name == "data.mdb":
            if _lmdb_entries(partial):
                return True
            continue
        if path.is_file() and path.stat().st_size == 0:
            continue
        return True
    return False


def _lmdb_entries(folder: Path) -> int:
    """Values in the LMDB of `folder` (1 if it cannot be read: then it is not ours to discard)."""
    import lmdb

    try:
        env = lmdb.open(str(folder), readonly=True, lock=False)
    except lmdb.Error:
        return 1
    try:
        return env.stat()["entries"]
    finally:
        env.close()


def discard_if_empty(partial: Path) -> None:
    """Remove a partial build that holds no work (a run stopped before storing anything), so none is left."""
    if partial.exists() and not holds_work(partial):
        remove(partial)


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
    """Create a partial build's folder with its state file."""
    partial.mkdir(parents=True)
    write_state(partial, state)


def write_state(partial: Path, state: dict) -> None:
    """Write a partial build's state file, whole or not at all."""
    tmp = partial / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, partial / STATE_FILE)


def finish(partial: Path, dst: Path, shapes: dict[str, Shape], codec: str, tag: str) -> None:
    """Write `meta_info.txt` (sorted keys) into the partial build and move it to DST (replacing an old DST)."""
    write_meta_info_txt(partial, (meta_line(key, shapes[key], codec, tag) for key in sorted(shapes)))
    move_into_place(partial, dst)


def move_into_place(partial: Path, dst: Path) -> None:
    """Rename a finished partial build (its meta_info.txt written) to DST, replacing an old DST. Its state file is
    deleted first, so DST never holds it; a build stopped between the two is renamed by `--resume`."""
    (partial / STATE_FILE).unlink(missing_ok=True)
    old = None
    if dst.exists() or dst.is_symlink():
        old = dst.with_name(f"{dst.name}.old-{os.getpid()}")
        os.replace(dst, old)
    os.replace(partial, dst)
    if old is not None:
        remove(old)


def remove(path: Path) -> None:
    """Delete a file or a folder tree."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def unfinished_build(path: str) -> Optional[str]:
    """How to finish the partial build at `path` (a folder with a state file, or a `*.partial` folder holding an
    LMDB or shards), in one line; None for anything else."""
    folder = Path(path)
    if not folder.is_dir():
        return None
    named = folder.name.endswith(PARTIAL_SUFFIX)
    has_state = (folder / STATE_FILE).is_file()
    if not has_state and not (named and any((folder / n).exists() for n in ("data.mdb", "shards.txt", META_TXT))):
        return None
    command = "pack"
    if has_state:
        try:
            command = str(json.loads((folder / STATE_FILE).read_text()).get("command", command))
        except (OSError, ValueError, AttributeError):
            pass
    if not named:
        return (f"{path} holds {STATE_FILE}: it is an unfinished dali-sr {command} build, not a dataset; rename it to "
                f"{folder.name}{PARTIAL_SUFFIX} and finish it with the same dali-sr {command} command and --resume")
    dst = folder.with_name(folder.name[:-len(PARTIAL_SUFFIX)])
    return (f"{path} is an unfinished dali-sr {command} build of {dst}, not a dataset; finish it by running the same "
            f"dali-sr {command} command with --resume (or start over with --force), then use {dst}")
