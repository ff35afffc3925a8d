"""The sample index of clip datasets: clips, their frames on both sides, checked before any batch."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ...config import Config
from ...errors import DatasetError, listing
from ...storage.backends import Storage
from ...storage.opening import keyed_meta
from ...storage.meta_files import read_clip_meta
from ...storage.raw_pixels import ArraySide, raw_files_side
from ..storages import build_on_storages, fingerprint
from .frames import (Frames, gaps, key_separator, keyed_clips, order_stems, scan_clip, scan_clip_names, stem_pattern,
                     template_pattern)
from .rules import ClipRules
from .windows import padded


@dataclass
class ClipIndex:
    """Clips with their ordered frames (LQ keys, GT keys where stored) and the samples over them.

    Frames have global ids (`offsets[clip] + position`), which batches carry back to name keys.
    """

    name: str
    rules: ClipRules
    lq: Optional[Storage]  # None for a GT-only index: its LQ keys name GT frames, and LQ is made from them
    gt: Storage
    clips: list[str]
    stems: list[list[str]]
    lq_keys: list[list[str]]
    gt_keys: list[list[Optional[str]]]
    sep: str = "/"  # between clip and frame in BasicSR keys (`_` in old EDVR LMDBs)
    lq_arrays: Optional[ArraySide] = None  # how to read values that are pixels (EDVR arrays, raw PPM/PGM)
    gt_arrays: Optional[ArraySide] = None

    def __post_init__(self) -> None:
        counts = np.array([len(s) for s in self.stems], np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        if self.rules.window.per_frame:
            self.sample_clip = np.repeat(np.arange(len(self.clips)), counts)
            self.sample_frame = np.concatenate([np.arange(n) for n in counts]) if len(counts) else counts
        else:
            self.sample_clip = np.arange(len(self.clips))
            self.sample_frame = np.zeros(len(self.clips), np.int64)

    def __len__(self) -> int:
        return len(self.sample_clip)

    def count(self, clip: int) -> int:
        return len(self.stems[clip])

    def frame_id(self, clip: int, frame: int) -> int:
        return int(self.offsets[clip]) + frame

    def locate(self, frame_id: int) -> tuple[int, int]:
        """(clip, frame position) of a global frame id."""
        clip = int(np.searchsorted(self.offsets, frame_id, side="right")) - 1
        return clip, frame_id - int(self.offsets[clip])

    def key(self, clip: int, frame: int) -> str:
        """BasicSR's `key`: the clip (Vimeo types) or `clip/frame` of the key frame."""
        if self.rules.clip_key:
            return self.clips[clip]
        return f"{self.clips[clip]}{self.sep}{self.stems[clip][frame]}"

    def keys(self, frame_ids: Sequence[int]) -> list[str]:
        return [self.key(*self.locate(int(i))) for i in frame_ids]

    def fingerprint(self) -> str:
        """A digest of the clips' frame keys (`Loader.state_dict` compares it on resume)."""
        return fingerprint(self.clips, (k for clip in self.lq_keys for k in clip),
                           (k or "" for clip in self.gt_keys for k in clip))

    @property
    def lq_store(self) -> Storage:
        """Where the values of `lq_keys` are: the LQ storage, or the GT one for a GT-only index."""
        return self.lq or self.gt

    def close(self) -> None:
        if self.lq is not None:
            self.lq.close()
        self.gt.close()


def _side_frames(store: Storage, clips: list[str], pattern: Optional[re.Pattern], discovered: Optional[dict],
                 on_stem: bool = False) -> dict[str, Optional[Frames]]:
    """Frames of every clip on one side: from the LMDB's keys, or by scanning the clip folders."""
    if discovered is not None:
        return {c: discovered.get(c) for c in clips}
    return {c: scan_clip(store.root, c, pattern, on_stem) for c in clips}


def _check_window_fits(cfg: Config, rules: ClipRules, clip: str, count: int, where: str) -> None:
    need = rules.min_frames()
    if count < need:
        raise DatasetError(f"{cfg.name}: clip {clip} in {where} has {count} frame(s), fewer than the {need} that "
                           f"num_frame {rules.num_frame} with interval_list {list(rules.interval_list)} needs; "
                           f"remove the clip or lower num_frame")
    if rules.window.pads:
        half = rules.num_frame // 2
        for frame in list(range(min(half, count))) + list(range(max(count - half, 0), count)):
            if not all(0 <= f < count for f in padded(frame, count, rules.num_frame, rules.padding)):
                raise DatasetError(f"{cfg.name}: clip {clip} in {where} has {count} frame(s), too few to pad a "
                                   f"{rules.num_frame}-frame window with padding {rules.padding}; use padding "
                                   f"replicate or lower num_frame")


class _Sides:
    """LQ and GT storages with their discovered clips (LMDB keys) and the clip list."""

    def __init__(self, cfg: Config, rules: ClipRules, lq: Storage, gt: Storage):
        lq_meta, gt_meta = keyed_meta(lq), keyed_meta(gt)
        self.lmdb = lq_meta is not None and gt_meta is not None
        self.pattern = pattern = template_pattern(rules.frame_tmpl) if rules.frame_tmpl else None
        self.lq_clips = self.gt_clips = None
        self.sep = "/"
        self.arrays: tuple = (None, None)
        if self.lmdb:
            self.lq_clips = keyed_clips(lq.root, lq_meta, pattern)
            self.gt_clips = keyed_clips(gt.root, gt_meta, pattern)
            if (lq_meta.raw_shape is None) != (gt_meta.raw_shape is None):
                raise DatasetError(f"{cfg.name}: one LMDB holds raw EDVR arrays and the other encoded images "
                                   f"({lq.root}, {gt.root}); pack both the same way")
            self.sep, self.arrays = key_separator(lq_meta.raw_shape), (lq_meta.arrays, gt_meta.arrays)
        self.meta = read_clip_meta(cfg.meta_info_file) if cfg.meta_info_file else None
        if self.meta is not None:
            names = [c.replace("/", self.sep) for c, _ in self.meta]
        elif self.lmdb:
            names = sorted(self.lq_clips)
        else:
            names = scan_clip_names(lq.root, rules.depth)
        if rules.partition is not None:
            names = [c for c in names if (c in rules.partition) == rules.keep_partition]
        self.names = names


def _clip_frames(cfg: Config, rules: ClipRules, lq: Storage, gt: Storage, sides: _Sides,
                 clip: str, lq_frames: Optional[Frames], gt_frames: Optional[Frames], count: Optional[int]):
    """Ordered stems, LQ keys and GT keys of one clip; a `DatasetError` for anything missing."""
    where_lq = f"{lq.root}/{clip}" if not sides.lmdb else f"LMDB {lq.root}"
    if not lq_frames:
        which = f"LQ frames matching frame_tmpl {rules.frame_tmpl!r}" if rules.frame_tmpl else "LQ frames"
        raise DatasetError(f"{cfg.name}: clip {clip} has no {which} in {where_lq}; add the frames"
                           f"{', fix frame_tmpl' if rules.frame_tmpl else ''} or drop the clip")
    gt_frames = gt_frames or {}
    names = set(lq_frames) | (set(gt_frames) if rules.all_gt_needed else set())
    stems = order_stems(list(names), stem_pattern(sides.pattern))
    missing_lq = [s for s in stems if s not in lq_frames]
    if missing_lq:
        raise DatasetError(f"{cfg.name}: clip {clip}: LQ frame(s) {listing(missing_lq)} missing from {where_lq} "
                           f"(present in GT); add them or remove the GT frames")
    holes = gaps(stems)
    if holes:
        raise DatasetError(f"{cfg.name}: clip {clip}: frame(s) {listing(holes)} missing from {where_lq} and its GT "
                           f"(the numbering has gaps, so windows would skip time); add them or renumber the clip")
    needed_gt = stems if rules.all_gt_needed else [stems[len(stems) // 2]]
    missing_gt = [s for s in needed_gt if s not in gt_frames]
    if missing_gt:
        where_gt = f"{gt.root}/{clip}" if not sides.lmdb else f"LMDB {gt.root}"
        raise DatasetError(f"{cfg.name}: clip {clip}: GT frame(s) {listing(missing_gt)} missing from {where_gt}; "
                           f"every LQ frame needs its GT partner with the same name")
    found = f"{len(stems)} frame(s) ({stems[0]}..{stems[-1]}) in {where_lq}"
    if count is not None and count != len(stems):
        raise DatasetError(f"{cfg.name}: clip {clip} has {found} but {cfg.meta_info_file} says {count}; "
                           f"fix the meta file or the clip")
    if rules.frames_per_clip is not None and rules.frames_per_clip != len(stems):
        raise DatasetError(f"{cfg.name}: clip {clip} has {found}; {cfg.type} clips have {rules.frames_per_clip} "
                           f"frames (im1..im{rules.frames_per_clip}): add the missing frames or drop the clip")
    _check_window_fits(cfg, rules, clip, len(stems), where_lq)
    return stems, [lq_frames[s] for s in stems], [gt_frames.get(s) for s in stems]


def build_clip_index(cfg: Config, rules: ClipRules) -> ClipIndex:
    """Index the clips of `cfg` (meta file, LMDB keys or folder scan); fail early, naming clip and frame."""
    return build_on_storages(cfg, lambda lq, gt: _index(cfg, rules, lq, gt))


def _index(cfg: Config, rules: ClipRules, stored_lq: Optional[Storage], gt: Storage) -> ClipIndex:
    lq = stored_lq or gt  # GT-only: frames are found, and read for the LQ, on the GT side
    sides = _Sides(cfg, rules, lq, gt)
    counts = {c.replace("/", sides.sep): n for c, n in sides.meta} if sides.meta is not None else {}
    lq_side = _side_frames(lq, sides.names, sides.pattern, sides.lq_clips)
    # frame_tmpl names the LQ files; GT partners share the stem, in any format (JPEG input, PNG GT)
    gt_side = _side_frames(gt, sides.names, stem_pattern(sides.pattern), sides.gt_clips, on_stem=True)
    stems, lq_keys, gt_keys = [], [], []
    for clip in sides.names:
        s, lk, gk = _clip_frames(cfg, rules, lq, gt, sides, clip, lq_side[clip], gt_side[clip], counts.get(clip))
        stems.append(s)
        lq_keys.append(lk)
        gt_keys.append(gk)
    if not sides.names:
        kept = "" if rules.partition is None else " after the validation partition was applied"
        where, key = (cfg.dataroot_lq, "dataroot_lq") if stored_lq is not None else (cfg.dataroot_gt, "dataroot_gt")
        raise DatasetError(f"{cfg.name}: dataset has no clips{kept} (in {where}); check {key}, meta_info_file and "
                           f"val_partition")
    if sides.lmdb:
        for store, keys in ((lq, lq_keys), (gt, gt_keys)):
            store.require([k for clip in keys for k in clip if k is not None])
    if sides.lmdb:
        lq_arrays, gt_arrays = sides.arrays
    else:
        lq_arrays = raw_files_side([k for clip in lq_keys for k in clip])
        gt_arrays = raw_files_side([k for clip in gt_keys for k in clip if k is not None])
    return ClipIndex(cfg.name, rules, stored_lq, gt, sides.names, stems, lq_keys, gt_keys, sides.sep, lq_arrays,
                     gt_arrays)
