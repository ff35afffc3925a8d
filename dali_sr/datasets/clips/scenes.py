"""`SceneClipDataset`: clips from flat folders of frames named `SCENE_FRAME.ext`, as traiNNer-redux's
`PairedVideoDataset` reads them.

Each LQ folder's image files (`.png`, `.jpg`, `.jpeg`) are sorted by name and grouped into scenes by the text
before their first `_`. A sample is every window of `num_frame` consecutive frames of a scene whose middle frame
has a GT file of the same name in the paired GT folder; it yields the window's LQ frames and that GT frame.
`dataroot_gt` / `dataroot_lq` are a folder or lists of them (the N-th GT folder pairs with the N-th LQ folder);
`dataset_enlarge_ratio` may be `auto`, as for `PairedImageListDataset`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any, Optional

import numpy as np

from ...config import Config, TypeOptions
from ...errors import ConfigError, DatasetError
from ...schema.fields import integer
from ...storage.backends import DiskStorage, searchable_folder
from ...storage.joined import JoinedStorage, joined_key
from ..kind import DatasetKind
from ..paired.lists import ENLARGE_RATIO, ROOTS, auto_enlarge_ratio
from .index import ClipIndex
from .rules import ClipRules
from .source import ClipSource
from .windows import CENTRED, PADDED

FRAME_EXTENSIONS = (".png", ".jpg", ".jpeg")  # traiNNer-redux's, in any letter case
_KEYS = {"dataroot_gt": ROOTS, "dataroot_lq": ROOTS, "num_frame": integer(1, 255, nullable=True),
         "dataset_enlarge_ratio": ENLARGE_RATIO}


@dataclass(frozen=True)
class SceneOptions:
    """The folder lists, the window length and the enlarge ratio as given ('auto' or an integer)."""

    dataroot_gt: Optional[tuple[str, ...]]
    dataroot_lq: Optional[tuple[str, ...]]
    num_frame: Optional[int]
    dataset_enlarge_ratio: Any = 1


def _options(**values: Any) -> SceneOptions:
    as_list = (lambda v: None if v is None else (v,) if isinstance(v, str) else tuple(v))  # noqa: E731
    return SceneOptions(as_list(values["dataroot_gt"]), as_list(values["dataroot_lq"]), values["num_frame"],
                        values["dataset_enlarge_ratio"])


def _finish(cfg: Config, where: str) -> Config:
    o = cfg.options
    if o.dataroot_gt is None or o.dataroot_lq is None:
        raise ConfigError(f"{where}: {cfg.type} needs dataroot_gt and dataroot_lq (folders or lists of folders)")
    if len(o.dataroot_gt) != len(o.dataroot_lq):
        raise ConfigError(f"{where}: dataroot_lq lists {len(o.dataroot_lq)} folder(s) and dataroot_gt "
                          f"{len(o.dataroot_gt)}; give one GT folder per LQ folder")
    if o.num_frame is None or o.num_frame % 2 == 0:
        raise ConfigError(f"{where}: {cfg.type} needs an odd 'num_frame' (frames per window, e.g. 5), got "
                          f"{o.num_frame}")
    if cfg.io_backend != "disk":
        raise ConfigError(f"{where}: {cfg.type} reads folders of frame files; set io_backend: {{type: disk}}")
    if cfg.degradation is not None:
        raise ConfigError(f"{where}: {cfg.type} reads stored LQ frames; remove 'degradation'")
    ratio = o.dataset_enlarge_ratio
    return replace(cfg, dataroot_gt=o.dataroot_gt[0], dataroot_lq=o.dataroot_lq[0],
                   dataset_enlarge_ratio=1 if ratio == "auto" or not cfg.is_train else ratio)


def frame_files(root: str, name: str) -> list[str]:
    """The frame files (`FRAME_EXTENSIONS`) of a flat folder, sorted by name; `DatasetError` if it is missing."""
    if not searchable_folder(root, "frame folder"):
        raise DatasetError(f"{name}: frame folder {root} does not exist; fix dataroot_gt / dataroot_lq")
    return sorted(f for f in os.listdir(root) if f.lower().endswith(FRAME_EXTENSIONS))


def build_scene_index(cfg: Config) -> ClipIndex:
    """The scenes of every folder pair and the windows whose middle frame has GT."""
    o = cfg.options
    n, half = o.num_frame, o.num_frame // 2
    rules = ClipRules(window=CENTRED if cfg.is_train else PADDED, clip_key=False, depth=1, num_frame=n)
    clips: list[str] = []
    stems: list[list[str]] = []
    lq_keys: list[list[str]] = []
    gt_keys: list[list[Optional[str]]] = []
    samples: list[tuple[int, int]] = []
    for number, (lq_root, gt_root) in enumerate(zip(o.dataroot_lq, o.dataroot_gt)):
        gt_files = set(frame_files(gt_root, cfg.name))
        scenes: dict[str, list[str]] = {}
        for f in frame_files(lq_root, cfg.name):
            scenes.setdefault(f.split("_")[0], []).append(f)
        for scene, files in scenes.items():
            clip = len(clips)
            clips.append(f"{number}/{scene}" if len(o.dataroot_lq) > 1 else scene)
            stems.append([os.path.splitext(f)[0] for f in files])
            lq_keys.append([joined_key(number, f) for f in files])
            gt_keys.append([joined_key(number, f) if f in gt_files else None for f in files])
            samples += [(clip, centre) for centre in range(half, len(files) - half) if files[centre] in gt_files]
    if not samples:
        raise DatasetError(f"{cfg.name}: no window of {n} frames with a GT middle frame in {', '.join(o.dataroot_lq)}; "
                           f"check the folders (frames named SCENE_FRAME.png, GT files named as the LQ ones)")
    lq = JoinedStorage([DiskStorage(r) for r in o.dataroot_lq])
    gt = JoinedStorage([DiskStorage(r) for r in o.dataroot_gt])
    index = ClipIndex(cfg.name, rules, lq, gt, clips, stems, lq_keys, gt_keys)
    repeats = auto_enlarge_ratio(len(samples), cfg.batch_size) if cfg.is_train and o.dataset_enlarge_ratio == "auto" \
        else 1
    index.sample_clip = np.tile(np.array([c for c, _ in samples], np.int64), repeats)
    index.sample_frame = np.tile(np.array([f for _, f in samples], np.int64), repeats)
    return index


SCENE_CLIPS = DatasetKind(TypeOptions(_KEYS, _options, finish=_finish), build_scene_index, ClipSource)
