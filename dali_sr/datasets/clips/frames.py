"""Finding the frames of clips: folder scans and LMDB keys, ordered and checked for gaps.

A side (LQ or GT) maps clip name -> {frame stem: storage key}. Clip names are relative
folders (`000`, `00001/0001`); stems are file names without extension (`00000000`, `im4`).
"""
from __future__ import annotations

import math
import os
import re
from typing import Optional

from ...errors import DatasetError
from ...storage.folders import folder_entries, loader_image_names
from ...storage.meta_files import LmdbMeta

Frames = dict[str, str]  # frame stem -> storage key


def natural_key(text: str) -> list:
    """Sort key that orders embedded numbers by value (`f2` before `f10`)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def template_pattern(tmpl: str) -> re.Pattern:
    """A regex matching the names `tmpl.format(n)` makes (`{:08d}.png`, `frame_{}.jpg`), capturing n."""
    pieces = re.split(r"\{[^{}]*\}", tmpl)
    if len(pieces) != 2:
        raise DatasetError(f"frame_tmpl {tmpl!r} must hold exactly one '{{}}' field for the frame number")
    return re.compile("^" + re.escape(pieces[0]) + r"(\d+)" + re.escape(pieces[1]) + "$")


def order_stems(stems: list[str], pattern: Optional[re.Pattern]) -> list[str]:
    """Frame order: by the template's frame number, or natural order of the names."""
    if pattern is None:
        return sorted(stems, key=natural_key)
    return sorted(stems, key=lambda s: int(pattern.search(s).group(1)))


def gaps(stems: list[str]) -> list[str]:
    """Names missing between numbered frames of one naming (`im2`, `im4` -> `im3`); [] for other names.

    Three or more numbers share a step (`00000`, `00010`, `00020` is complete); only its multiples can be missing.
    """
    parts = [re.fullmatch(r"(\D*)(\d+)", s) for s in stems]
    if not parts or not all(parts) or len({p.group(1) for p in parts}) != 1:
        return []
    prefix, widths = parts[0].group(1), {len(p.group(2)) for p in parts}
    width = widths.pop() if len(widths) == 1 else 0
    numbers = {int(p.group(2)) for p in parts}
    first = min(numbers)
    step = math.gcd(*(n - first for n in numbers)) if len(numbers) > 2 else 1
    return [f"{prefix}{n:0{width}d}" for n in range(first, max(numbers) + 1, step) if n not in numbers]


def stem_pattern(pattern: Optional[re.Pattern]) -> Optional[re.Pattern]:
    """The template pattern without its file extension, for stems and LMDB keys (which have none)."""
    if pattern is None:
        return None
    return re.compile(re.sub(r"(\\\.\w+)\$$", "$", pattern.pattern))


def scan_clip(root: str, clip: str, pattern: Optional[re.Pattern], on_stem: bool = False) -> Optional[Frames]:
    """Image files of folder `root/clip` (those whose name, or stem if `on_stem`, matches `pattern` if given);
    None if no folder."""
    folder = os.path.join(root, clip)
    if not os.path.isdir(folder):
        return None
    frames: Frames = {}
    for name in loader_image_names(folder):
        stem = os.path.splitext(name)[0]
        if pattern is not None and not pattern.search(stem if on_stem else name):
            continue
        if stem in frames:
            raise DatasetError(f"{folder} holds two files for frame {stem!r} ({os.path.basename(frames[stem])} and "
                               f"{name}); keep one")
        frames[stem] = f"{clip}/{name}"
    return frames


def scan_clip_names(root: str, depth: int) -> list[str]:
    """Clip folders under `root`, `depth` levels deep (`000`, or `00001/0001`), sorted."""
    names = [""]
    for _ in range(depth):
        names = [f"{n}/{e.name}" if n else e.name for n in names
                 for e in folder_entries(os.path.join(root, n) if n else root)
                 if e.is_dir() and not e.name.startswith(".")]
    return sorted(names, key=natural_key)


def key_separator(raw_shape: Optional[tuple]) -> str:
    """Between clip and frame in LMDB keys: `/` (BasicSR), `_` in old EDVR raw LMDBs."""
    return "/" if raw_shape is None else "_"


def keyed_clips(root: str, meta: LmdbMeta, pattern: Optional[re.Pattern]) -> dict[str, Frames]:
    """Clips of a BasicSR LMDB or shard folder grouped from its keys (`clip/frame`; old EDVR `clip_frame`)."""
    sep = key_separator(meta.raw_shape)
    stem_re = stem_pattern(pattern)
    clips: dict[str, Frames] = {}
    for key in meta.keys:
        clip, _, stem = key.rpartition(sep)
        if not clip:
            raise DatasetError(f"{root}: key {key!r} has no clip part (expected clip{sep}frame); "
                               f"pack clips with keys like 000{sep}00000000")
        if stem_re is None or stem_re.search(stem):
            clips.setdefault(clip, {})[stem] = key
    return clips
