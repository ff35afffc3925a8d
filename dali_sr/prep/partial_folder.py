"""Building a folder of image files so that an interrupted run never looks finished and resumes exactly.

The files are written into the sibling folder `DST.partial`, each one whole (a hidden temporary name
renamed), with a state file naming the command, its options and a fingerprint of every source item;
the folder is renamed to DST only when every file is there. `--resume` reopens the partial build: it
refuses other options, keeps the files of the items whose source is unchanged and deletes the rest
(files of changed or vanished sources, temporary files cut short), so the finished folder is the one
an uninterrupted run over the current sources writes. `--force` replaces a finished DST that holds
only files the command writes, or discards a partial build.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..errors import ConfigError, DatasetError
from .partial_lmdb import STATE_FILE, move_into_place, partial_path, remove, start_partial

_STATE_FORMAT = "dali_sr folder partial v1"
Fingerprint = list  # JSON-friendly numbers that change when a source item changes (e.g. size and mtime)


@dataclass(frozen=True)
class FolderBuild:
    """A partial folder build: where it is, and the files (relative '/'-paths) kept from an interrupted run."""

    partial: Path
    dst: Path
    kept: frozenset[str]

    def path(self, name: str) -> Path:
        """Where the output file `name` (a relative '/'-path) is written."""
        return self.partial.joinpath(*name.split("/"))

    def finish(self) -> None:
        """Rename the complete build to DST (replacing an old DST) and drop its state file."""
        move_into_place(self.partial, self.dst)


def file_fingerprint(path: str) -> Fingerprint:
    """Size and modification time of a source file: what changes when it is rewritten."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise DatasetError(f"cannot read {path}: {e.strerror}; check it exists and is readable") from None
    return [st.st_size, st.st_mtime_ns]


def write_whole(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a hidden temporary file renamed over it: a kill leaves the whole file or none."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as e:
        raise DatasetError(f"cannot write {path}: {e.strerror}; check free disk space and the folder's "
                           f"permissions") from None


def _files(folder: Path) -> list[str]:
    """Relative '/'-paths of every file below `folder`."""
    found = []
    for root, _, names in os.walk(folder):
        rel = Path(root).relative_to(folder)
        found.extend((rel / name).as_posix() for name in names)
    return found


def _empty_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and not any(path.iterdir())


def check_folder_destination(src: Path, dst: Path, force: bool, resume: bool, command: str,
                             ours: Callable[[str], bool], what: str) -> None:
    """DST must lie outside SRC and be new or empty; `force` replaces a DST whose files (relative '/'-paths) are
    all `ours` (`what` names them in messages); an unfinished build of DST needs `resume` or `force`."""
    s, d = src.resolve(), dst.resolve()
    if s == d or d in s.parents:
        raise ConfigError(f"DST {dst} is SRC {src} or holds it; choose a DST outside SRC")
    if (dst.exists() or dst.is_symlink()) and not _empty_folder(dst):
        if not dst.is_dir() or dst.is_symlink():
            raise DatasetError(f"DST {dst} exists and is not a folder; choose another DST")
        if not force:
            raise DatasetError(f"DST {dst} already exists; pass --force to replace it, or choose another DST")
        strangers = sorted(name for name in _files(dst) if not (ours(name) or name == STATE_FILE))
        if strangers:
            raise DatasetError(f"DST {dst} holds {strangers[0]}, which {command} does not write; --force only "
                               f"replaces a folder of {what}: remove it yourself or choose another DST")
    partial = partial_path(str(dst))
    if partial.exists() and not (resume or force):
        raise DatasetError(f"{partial} holds an unfinished {command} of {dst.name}; pass --resume to continue it or "
                           f"--force to start over")


def _read_state(partial: Path, command: str) -> dict:
    try:
        state = json.loads((partial / STATE_FILE).read_text())
        valid = isinstance(state, dict) and state.get("format") == _STATE_FORMAT
    except (OSError, ValueError):
        valid = False
    if not valid:
        raise DatasetError(f"{partial} is not a partial build of dali-sr {command} (no valid {STATE_FILE}); rerun "
                           f"with --force to start over")
    if state.get("command") != command:
        raise DatasetError(f"{partial} is an unfinished dali-sr {state.get('command')}, not {command}; finish it with "
                           f"dali-sr {state.get('command')} --resume, or rerun with --force to start over")
    return state


def _check_options(partial: Path, was: Mapping[str, Any], now: Mapping[str, Any]) -> None:
    for name in sorted(set(was) | set(now)):
        if was.get(name) != now.get(name):
            raise ConfigError(f"{partial} was started with {name} {was.get(name)}, not {now.get(name)}; resume with "
                              f"the same options, or pass --force to start over")


def open_folder_build(dst: Path, command: str, options: Mapping[str, Any], sources: Mapping[str, Fingerprint],
                      outputs: Callable[[str], Sequence[str]], resume: bool) -> FolderBuild:
    """The partial build of DST: a fresh one, or with `resume` the interrupted one, refused if it was started with
    other `options` (flag -> value). `sources` fingerprints every source item; `outputs(item)` lists the files
    (relative '/'-paths) an item writes. Resuming keeps the files of items whose fingerprint is unchanged and
    deletes every other file, so the finished folder equals an uninterrupted run's."""
    partial = partial_path(str(dst))
    state = {"format": _STATE_FORMAT, "command": command, "options": dict(options), "sources": dict(sources)}
    if partial.exists() and not resume:
        remove(partial)
    if not partial.exists():
        start_partial(partial, state)
        return FolderBuild(partial, dst, frozenset())
    was = _read_state(partial, command)
    _check_options(partial, was.get("options", {}), options)
    old = was.get("sources", {})
    wanted = {name for item, fingerprint in sources.items() if old.get(item) == fingerprint for name in outputs(item)}
    kept = set()
    for name in _files(partial):
        if name in wanted:
            kept.add(name)
        elif name != STATE_FILE:
            os.remove(partial / name)
    for root, folders, _ in os.walk(partial, topdown=False):
        for folder in folders:
            if _empty_folder(Path(root) / folder):
                os.rmdir(Path(root) / folder)
    write_whole(partial / STATE_FILE, json.dumps(state).encode())
    return FolderBuild(partial, dst, frozenset(kept))
