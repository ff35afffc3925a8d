"""How a clip dataset type turns clips into samples: windows, GT frames, keys, partitions."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .config import Config

# BasicSR's REDS validation partitions (clips left out of training).
PARTITIONS = {"REDS4": frozenset({"000", "011", "015", "020"}),
              "official": frozenset(f"{k:03d}" for k in range(240, 270))}

# Window used outside training, per training window (VideoTestDataset semantics).
_TEST_WINDOWS = {"centered": "padded", "middle": "middle", "forward": "clip", "all": "clip"}
# Windows that make one sample per frame of a clip (the others: one sample per clip).
_PER_FRAME = frozenset({"centered", "forward", "padded"})


@dataclass(frozen=True)
class ClipRules:
    """What a clip type reads per sample.

    `window` (effective for the phase): centered (REDS), forward (recurrent REDS), middle
    (Vimeo septuplets), all (every frame, Vimeo recurrent); outside training centered
    becomes padded (every frame with padded neighbours), forward/all become clip (whole clips).
    """

    window: str
    gt_all: bool  # GT of every frame (recurrent types) instead of the centre frame only
    clip_key: bool  # `key` names the clip (Vimeo) instead of the key frame
    depth: int  # folder levels of a clip name: 1 (REDS `000`) or 2 (Vimeo `00001/0001`)
    num_frame: int
    interval_list: tuple[int, ...] = (1,)
    random_reverse: bool = False
    padding: str = "reflection_circle"
    flip_sequence: bool = False
    partition: Optional[frozenset] = None  # clips kept out of training
    keep_partition: bool = False  # keep only the partition's clips (validation, REDS test_mode)
    frame_tmpl: Optional[str] = None
    frames_per_clip: Optional[int] = None  # a fixed clip length (Vimeo90K septuplets: 7)

    @property
    def per_frame(self) -> bool:
        """One sample per frame of every clip (else one per clip)."""
        return self.window in _PER_FRAME

    @property
    def flat(self) -> bool:
        """Frames travel as rows of the DALI batch (GT for every frame); else stacked per sample."""
        return self.window == "clip" or self.gt_all

    @property
    def all_gt_needed(self) -> bool:
        """Every frame of a clip may be read as GT (else only the middle one)."""
        return self.window != "middle"


def clip_rules(cfg: Config, window: str, gt_all: bool, clip_key: bool = False, depth: int = 1,
               frames_per_clip: Optional[int] = None) -> ClipRules:
    """Rules of a type whose training window is `window`, with the config's options applied."""
    x = cfg.extra
    if not cfg.is_train:
        window = _TEST_WINDOWS[window]
        gt_all = window == "clip"
    partition = PARTITIONS[x["val_partition"]] if x.get("val_partition") else None
    # BasicSR reads `test_mode` only in REDSRecurrentDataset (training on the held-out clips); REDSDataset ignores it
    keep = partition is not None and (not cfg.is_train or (gt_all and bool(x.get("test_mode"))))
    return ClipRules(window=window, gt_all=gt_all, clip_key=clip_key, depth=depth, num_frame=int(x.get("num_frame") or 0),
                     interval_list=tuple(x.get("interval_list") or (1,)), random_reverse=bool(x.get("random_reverse")),
                     padding=x.get("padding") or "reflection_circle", flip_sequence=bool(x.get("flip_sequence")),
                     partition=partition, keep_partition=keep, frame_tmpl=x.get("frame_tmpl"),
                     frames_per_clip=frames_per_clip)
