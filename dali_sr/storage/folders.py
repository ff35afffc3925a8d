"""Folder scans: which files in a dataset folder are images (hidden files and folders left out, as BasicSR's scandir)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Union

from ..errors import DatasetError
from .formats import CONVERTIBLE_EXTENSIONS, extension_of, is_image_name, listed_extensions


def folder_entries(folder: Union[str, Path]) -> list[os.DirEntry]:
    """The entries directly in `folder`, sorted by name; a `DatasetError` naming it if it cannot be listed
    (missing, not a folder, no read permission)."""
    try:
        with os.scandir(folder) as entries:
            return sorted(entries, key=lambda e: e.name)
    except OSError as e:
        raise DatasetError(f"cannot list {folder}: {e.strerror}; check it exists and is readable") from None


def image_names(folder: str) -> list[str]:
    """Names of the image files directly in `folder` (any format a dali_sr tool reads), sorted."""
    return [e.name for e in folder_entries(folder)
            if not e.name.startswith(".") and is_image_name(e.name) and e.is_file()]


def loader_image_names(folder: str) -> list[str]:
    """`image_names` of `folder`, all in formats the loader reads.

    A BMP, WebP or TIFF file is a `DatasetError` here, before any batch, naming the file and the fix.
    """
    names = image_names(folder)
    for name in names:
        ext = extension_of(name)
        if ext in CONVERTIBLE_EXTENSIONS:
            raise DatasetError(f"{os.path.join(folder, name)}: the loader reads PNG, JPEG, JPEG 2000 and PPM/PGM, "
                               f"not {ext[1:].upper()}; convert the folder (dali-sr pack SRC DST.lmdb writes PNG)")
    return names


def list_images(folder: str) -> list[str]:
    """`image_names` of `folder`; a `DatasetError` if it is no folder or holds no image."""
    if not os.path.isdir(folder):
        raise DatasetError(f"{folder} is not a folder; give the folder that holds the images")
    names = image_names(folder)
    if not names:
        has_dirs = any(e.is_dir() for e in folder_entries(folder))
        hint = ("it holds folders: for clip folders use --clips reds|vimeo90k" if has_dirs
                else f"put images ({listed_extensions()}) there")
        raise DatasetError(f"{folder} holds no images; {hint}")
    return names


def walk_images(root: Path, recursive: bool) -> tuple[list[tuple[str, ...]], int]:
    """Relative path parts of every image file under `root` (every level if `recursive`), sorted by path,
    and the count of files left out (hidden or not images). Symlinked folders are followed once."""
    found, ignored = [], 0
    seen_dirs = {os.path.realpath(root)}
    stack: list[tuple[str, ...]] = [()]
    while stack:
        rel = stack.pop()
        for entry in folder_entries(root.joinpath(*rel)):
            hidden = entry.name.startswith(".")
            if entry.is_dir():
                real = os.path.realpath(entry.path)
                if recursive and not hidden and real not in seen_dirs:
                    seen_dirs.add(real)
                    stack.append(rel + (entry.name,))
            elif entry.is_file():
                if hidden or not is_image_name(entry.name):
                    ignored += 1
                else:
                    found.append(rel + (entry.name,))
    return sorted(found), ignored
