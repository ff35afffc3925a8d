"""How a clip dataset type turns clips into samples: its window, keys, folder depth and partitions, from the config."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ...config import Config
from .windows import ClipWindow

# BasicSR's REDS validation partitions (clips left out of training).
PARTITIONS = {"REDS4": frozenset({"000", "011", "015", "020"}),
              "official": frozenset(f"{k:03d}" for k in range(240, 270))}


@dataclass(frozen=True)
class ClipRules:
    """What a clip type reads per sample in the config's phase (outside training, the window's test window)."""

    window: ClipWindow
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
    def all_gt_needed(self) -> bool:
        """Every frame of a clip may be read as GT (else only the middle one)."""
        return self.window.name != "middle"

    def min_frames(self) -> int:
        return self.window.min_frames(self.num_frame, self.interval_list)


def clip_rules(cfg: Config, window: ClipWindow, clip_key: bool = False, depth: int = 1,
               frames_per_clip: Optional[int] = None) -> ClipRules:
    """Rules of a type whose training window is `window`, with the config's options applied."""
    x = cfg.extra
    if not cfg.is_train:
        window = window.test
    partition = PARTITIONS[x["val_partition"]] if x.get("val_partition") else None
    # BasicSR reads `test_mode` only in REDSRecurrentDataset (training on the held-out clips); REDSDataset ignores it
    keep = partition is not None and (not cfg.is_train or (window.every_frame_gt and bool(x.get("test_mode"))))
    return ClipRules(window=window, clip_key=clip_key, depth=depth, num_frame=int(x.get("num_frame") or 0),
                     interval_list=tuple(x.get("interval_list") or (1,)), random_reverse=bool(x.get("random_reverse")),
                     padding=x.get("padding") or "reflection_circle", flip_sequence=bool(x.get("flip_sequence")),
                     partition=partition, keep_partition=keep, frame_tmpl=x.get("frame_tmpl"),
                     frames_per_clip=frames_per_clip)
