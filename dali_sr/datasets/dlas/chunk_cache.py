"""dali_sr's index cache of a chunked dataset root: plain JSON in the root, keyed by a fingerprint of the
folder listing (folder and file names and file sizes), holding names relative to the root only.

A cache whose fingerprint differs (a folder added or changed) or that cannot be read as this format is rebuilt,
never trusted; a dataset moved or copied elsewhere keeps its listing and so its cache. It is written atomically
(a temporary file renamed over it); a root that cannot be written to is indexed without one."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from typing import Any, Optional

from .chunks import ChunkFolder, folder_names, read_folder

CACHE_NAME = "dali_sr_chunks.json"
_FORMAT = 1


def listing_fingerprint(root: str, names: list[str]) -> str:
    """A digest of the folders `names` under `root`: each one's file names and sizes."""
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode("utf-8", "surrogateescape") + b"/\0")
        with os.scandir(os.path.join(root, name)) as entries:
            files = sorted((e.name, e.stat().st_size) for e in entries if e.is_file())
        for file, size in files:
            digest.update(f"{file}\0{size}\0".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _to_json(folder: ChunkFolder) -> dict:
    centers = None if folder.centers is None else [[k, y, x, w] for k, ((y, x), w) in sorted(folder.centers.items())]
    ref_size = None if folder.ref_size is None else list(folder.ref_size)
    return {"name": folder.name, "tiles": list(folder.tiles), "size": list(folder.size), "ref_size": ref_size,
            "centers": centers, "centers_error": folder.centers_error}


def _from_json(item: Any) -> ChunkFolder:
    """A folder from its cached entry; `ValueError`/`TypeError`/`KeyError` for anything not in this format."""
    centers = item["centers"]
    if centers is not None:
        centers = {int(k): ((int(y), int(x)), int(w)) for k, y, x, w in centers}
    tiles, (h, w) = item["tiles"], item["size"]
    names = [item["name"], *tiles]
    if not all(isinstance(n, str) and n and "/" not in n and "\\" not in n and n not in (".", "..") for n in names):
        raise ValueError("a name that is not a plain file or folder name")
    error, ref = item["centers_error"], item["ref_size"]
    if not (error is None or isinstance(error, str)) or not tiles:
        raise ValueError("malformed entry")
    ref_size = None if ref is None else (int(ref[0]), int(ref[1]))
    return ChunkFolder(item["name"], tuple(tiles), (int(h), int(w)), ref_size, centers, error)


def _read_cache(path: str, fingerprint: str) -> Optional[list[ChunkFolder]]:
    """The cached folders if `path` holds this format's cache of `fingerprint`, else None."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if data.get("format") != _FORMAT or data.get("fingerprint") != fingerprint:
            return None
        return [_from_json(item) for item in data["folders"]]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def _write_cache(path: str, fingerprint: str, folders: list[ChunkFolder]) -> None:
    data = {"format": _FORMAT, "fingerprint": fingerprint, "folders": [_to_json(f) for f in folders]}
    try:
        fd, tmp = tempfile.mkstemp(prefix=".dali_sr_chunks.", dir=os.path.dirname(path))
    except OSError:
        return  # a read-only dataset: indexed on every start
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except OSError:  # a full disk: indexed again on the next start
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def chunk_folders(root: str) -> list[ChunkFolder]:
    """The folders of `root` that hold tiles, sorted by name: from the cache when it matches the listing, else
    read (and the cache written)."""
    names = folder_names(root)
    fingerprint = listing_fingerprint(root, names)
    path = os.path.join(root, CACHE_NAME)
    cached = _read_cache(path, fingerprint)
    if cached is not None:
        return cached
    folders = [f for f in (read_folder(root, name) for name in names) if f is not None]
    _write_cache(path, fingerprint, folders)
    return folders
