"""Which image files `dali-sr pack` stores, under which LMDB keys (BasicSR's key conventions).

Keys are paths relative to SRC without the extension, `/`-separated, sorted:
  no preset   files directly in SRC (every level below with `recursive`)
  div2k       a flat folder of sub-images: `0001_s001`
  reds        SRC/clip/frame.png: `000/00000000`
  vimeo90k    SRC/sequence/sub/imN.png: `00001/0001/im4` (all seven frames; only im4 with `only_im4`)
Hidden files and folders (names starting with '.') and non-image files are left out and counted.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import ConfigError, DatasetError
from ..storage.folders import walk_images
from ..storage.formats import listed_extensions

PRESETS = ("div2k", "reds", "vimeo90k")
_DEPTH = {"reds": 2, "vimeo90k": 3}  # path parts of an image below SRC
_LAYOUT = {"reds": "SRC/clip/frame.png (e.g. 000/00000000.png)",
           "vimeo90k": "SRC/sequence/sub/imN.png (e.g. 00001/0001/im4.png)"}
VIMEO_FRAMES = tuple(f"im{i}" for i in range(1, 8))
VIMEO_GT_FRAME = "im4"


@dataclass(frozen=True)
class PackItem:
    key: str
    path: str


@dataclass(frozen=True)
class Selection:
    items: list[PackItem]  # sorted by key
    ignored: int  # non-image or hidden files seen, and Vimeo frames left out by the preset


def _key_problem(key: str, path: str) -> Optional[str]:
    try:
        key.encode("ascii")
    except UnicodeEncodeError:
        return f"{path}: key {key!r} is not ASCII (BasicSR LMDB keys are ASCII); rename the file or folder"
    if "." in key:
        return (f"{path}: key {key!r} contains '.', but BasicSR reads a key only up to the first '.' of its "
                f"meta_info.txt line; rename the file or folder")
    if any(ch.isspace() for ch in key) or "\\" in key:
        return (f"{path}: key {key!r} contains whitespace or '\\', which breaks meta_info.txt lines; "
                f"rename the file or folder")
    return None


def _filter_by_list(items: list[PackItem], list_file: str) -> list[PackItem]:
    path = Path(list_file)
    if not path.is_file():
        raise ConfigError(f"list file {list_file} does not exist; fix --list (lines like 00001/0001 or 000)")
    try:
        wanted = [line.strip().strip("/") for line in path.read_text(encoding="utf-8").splitlines()]
    except UnicodeDecodeError:
        raise DatasetError(f"{list_file} is not UTF-8 text; it must list keys or key prefixes, one a line") from None
    wanted = [w for w in dict.fromkeys(wanted) if w]
    if not wanted:
        raise DatasetError(f"list file {list_file} is empty; list keys or key prefixes (00001/0001), one a line")
    keep, matched = [], set()
    for item in items:
        parts = item.key.split("/")
        prefixes = {"/".join(parts[:n]) for n in range(1, len(parts) + 1)}
        hit = prefixes.intersection(wanted)
        if hit:
            keep.append(item)
            matched.update(hit)
    missing = [w for w in wanted if w not in matched]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise DatasetError(f"{list_file}: entry {missing[0]!r}{more} matches no image under the source folder; "
                           f"fix the list or the source folder")
    return keep


def _check_vimeo(items: list[PackItem], root: Path, only_im4: bool) -> tuple[list[PackItem], int]:
    sequences: dict[str, dict[str, PackItem]] = {}
    for item in items:
        seq, frame = item.key.rsplit("/", 1)
        if frame not in VIMEO_FRAMES:
            raise DatasetError(f"{item.path}: not a Vimeo90K frame (im1..im7.png); remove it or drop --preset "
                               f"vimeo90k (use --recursive for other clip layouts)")
        sequences.setdefault(seq, {})[frame] = item
    need = (VIMEO_GT_FRAME,) if only_im4 else VIMEO_FRAMES
    keep = []
    for seq, frames in sequences.items():
        missing = [f for f in need if f not in frames]
        if missing:
            hint = " (--only-im4 needs im4)" if only_im4 else " (or pack GT with --only-im4, as BasicSR's GT_only4th LMDB)"
            raise DatasetError(f"{root / seq}: Vimeo90K sequence lacks {', '.join(m + '.png' for m in missing)}"
                               f"{hint}; restore the frames or leave the sequence out with --list")
        keep.extend(frames[f] for f in need)
    return keep, len(items) - len(keep)


def select_images(src: str, preset: Optional[str] = None, recursive: bool = False, only_im4: bool = False,
                  list_file: Optional[str] = None) -> Selection:
    """The images to pack and their keys; `DatasetError` naming the files for bad keys, duplicates, layout."""
    if preset is not None and preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)} or none")
    if preset is not None and recursive:
        raise ConfigError(f"--recursive does not combine with --preset {preset}: the preset fixes the folder layout")
    if only_im4 and preset != "vimeo90k":
        raise ConfigError("--only-im4 applies to --preset vimeo90k only; remove it")
    root = Path(src)
    if not root.is_dir():
        raise DatasetError(f"source folder {src} does not exist or is not a folder; fix SRC")
    depth = _DEPTH.get(preset)
    found, ignored = walk_images(root, recursive=recursive or depth is not None)
    items, problems = [], []
    for parts in found:
        path = str(root.joinpath(*parts))
        if depth is not None and len(parts) != depth:
            problems.append(f"{path}: preset {preset} expects {_LAYOUT[preset]}; point SRC at the folder that "
                            f"holds the {'clip' if preset == 'reds' else 'sequence'} folders")
            continue
        key = "/".join(parts[:-1] + (os.path.splitext(parts[-1])[0],))
        problem = _key_problem(key, path)
        if problem:
            problems.append(problem)
        else:
            items.append(PackItem(key, path))
    items.sort(key=lambda it: (it.key, it.path))
    for a, b in zip(items, items[1:]):
        if a.key == b.key:
            problems.append(f"{a.path} and {b.path} both give LMDB key {a.key!r}; remove or rename one of them")
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise DatasetError(problems[0] + more)
    if list_file is not None:
        items = _filter_by_list(items, list_file)
    if preset == "vimeo90k":
        items, left_out = _check_vimeo(items, root, only_im4)
        ignored += left_out
    if not items:
        how = "" if recursive or depth else "; images in subfolders need --recursive (or --preset reds/vimeo90k)"
        raise DatasetError(f"no images ({listed_extensions()}) found in {src}{how}")
    return Selection(items, ignored)
