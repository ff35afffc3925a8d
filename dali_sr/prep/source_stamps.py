"""What a partial build records of its source files, so that `--resume` notices a source that changed.

A stamp is a file's size and modification time in nanoseconds, as `os.stat` gives them (what rsync and
make compare): cheap to take for every source, and different after any ordinary rewrite of the file.
The state file of a partial build keeps the stamp of every key's source. A resumed build compares the
stamps of the keys it keeps with the files as they are now and refuses if one differs, since the value
it stored would no longer be what that source gives.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from ..errors import DatasetError

Stamp = tuple[int, int]  # (size in bytes, modification time in ns)


@dataclass(frozen=True)
class Source:
    """The file a key is packed from, and its stamp when the build read its header."""

    path: str
    stamp: Stamp


def stamp_file(path: str) -> Stamp:
    """(size, mtime_ns) of the file at `path`."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise DatasetError(f"cannot read {path}: {e.strerror}; check it exists and is readable") from None
    return st.st_size, st.st_mtime_ns


def recorded_stamps(sources: Mapping[str, Source]) -> dict[str, list[int]]:
    """The stamps to keep in a state file (JSON), by key."""
    return {key: list(source.stamp) for key, source in sources.items()}


def check_unchanged(partial: Path, recorded: Mapping[str, Sequence[int]], sources: Mapping[str, Source],
                    kept: Iterable[str]) -> None:
    """`DatasetError` naming the first source of a `kept` key whose stamp differs from the one `recorded` when
    the partial build started (keys without a recorded stamp are not checked)."""
    for key in sorted(kept):
        was, source = recorded.get(key), sources.get(key)
        if was is not None and source is not None and tuple(was) != source.stamp:
            raise DatasetError(f"{source.path} changed since {partial} stored it as key {key!r} (its size or "
                               f"modification time differs); restore the file, or rerun with --force to pack "
                               f"everything again")
