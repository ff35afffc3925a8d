"""WebDataset shards: tar files of `{key}.{ext}` members, with the index files DALI's webdataset reader uses.

A DALI index (`wds2idx`, version v1.2) has a first line `v1.2 {samples}` and a line per sample listing
each of its members as `{ext} {data offset} {size} {member name}`. Members are written as POSIX ustar
entries (names up to 255 characters), so every value starts at a known offset and can be read by
range; the 512-byte header before it names the member, which lets a reader check an index against
its shard.
"""
from __future__ import annotations

import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Sequence

from ..errors import DatasetError

INDEX_VERSION = "v1.2"
BLOCK = tarfile.BLOCKSIZE


@dataclass(frozen=True)
class Member:
    """One tar member of an index: the value of `name` is `size` bytes at byte `offset` of the shard."""

    name: str
    offset: int
    size: int

    @property
    def key(self) -> str:
        """WebDataset's sample key: the name up to the first '.' of its last path part."""
        return sample_key(self.name)


def sample_key(name: str) -> str:
    head, _, base = name.rpartition("/")
    stem = base.split(".", 1)[0]
    return f"{head}/{stem}" if head else stem


def _extension(name: str) -> str:
    base = name.rpartition("/")[2]
    return base.split(".", 1)[1] if "." in base else ""


class TarShardWriter:
    """Append members to a tar file being written; `add` returns where the value landed."""

    def __init__(self, file: BinaryIO):
        self._tar = tarfile.open(fileobj=file, mode="w", format=tarfile.USTAR_FORMAT)

    def add(self, name: str, data: bytes) -> Member:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o644, 0
        try:
            header = len(info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict"))
        except ValueError:
            raise DatasetError(f"key {name!r} is too long for a tar member name (POSIX ustar: 255 characters, "
                               f"100 after the last '/'); shorten the file names") from None
        offset = self._tar.offset + header
        self._tar.addfile(info, io.BytesIO(data))
        return Member(name, offset, len(data))

    def close(self) -> None:
        """End the archive (two zero blocks, padded as tar does); the file itself stays open."""
        self._tar.close()


def write_index(path: Path, members: Sequence[Member]) -> None:
    """Write DALI's index of a shard whose samples have one member each, atomically."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(f"{INDEX_VERSION} {len(members)}\n")
        for m in members:
            f.write(f"{_extension(m.name)} {m.offset} {m.size} {m.name}\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def parse_index(text: str, where: str) -> list[Member]:
    """The members of a DALI webdataset index, in shard order; `DatasetError` naming `where` and the line."""
    lines = text.splitlines()
    head = lines[0].split() if lines else []
    if len(head) != 2 or head[0] != INDEX_VERSION or not head[1].isdigit():
        raise DatasetError(f"{where}: first line is not '{INDEX_VERSION} <samples>' (a DALI webdataset index, as "
                           f"wds2idx writes); re-create it with dali-sr pack --format wds")
    members = []
    for number, line in enumerate(lines[1:], 2):
        fields = line.split(" ")
        if len(fields) % 4 or not fields[0:1] or fields == [""]:
            raise DatasetError(f"{where} line {number}: expected 'ext offset size name' per member; re-create the "
                               f"index with dali-sr pack --format wds")
        for i in range(0, len(fields), 4):
            _, offset, size, name = fields[i:i + 4]
            if not (offset.isdigit() and size.isdigit()):
                raise DatasetError(f"{where} line {number}: offset and size must be integers; re-create the index "
                                   f"with dali-sr pack --format wds")
            members.append(Member(name, int(offset), int(size)))
    if len(lines) - 1 != int(head[1]):
        raise DatasetError(f"{where}: header says {head[1]} samples but {len(lines) - 1} follow (truncated index); "
                           f"re-create it with dali-sr pack --format wds")
    return members


def check_header(block: bytes, member: Member, where: str) -> None:
    """The 512-byte tar header just before a member's value must name that member and its size."""
    try:
        info = tarfile.TarInfo.frombuf(bytes(block), "utf-8", "strict")
        ok = info.name == member.name and info.size == member.size
    except tarfile.TarError:
        ok = False
    if not ok:
        raise DatasetError(f"{where}: no tar header of {member.name} ({member.size} bytes) at byte "
                           f"{member.offset - BLOCK}; the index file does not match its shard, re-create both with "
                           f"dali-sr pack --format wds")

