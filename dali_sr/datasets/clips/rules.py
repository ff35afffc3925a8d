"""How a clip dataset type turns clips into samples: its window, keys, folder depth and partitions, from the config."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ...config import Config
from .options import ClipOptions
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
    x: ClipOptions = cfg.options
    if not cfg.is_train:
        window = window.test
    partition = PARTITIONS[x.val_partition] if x.val_partition else None
    # BasicSR reads `test_mode` only in REDSRecurrentDataset (training on the held-out clips); REDSDataset ignores it
    keep = partition is not None and (not cfg.is_train or (window.every_frame_gt and x.test_mode))
    return ClipRules(window=window, clip_key=clip_key, depth=depth, num_frame=x.num_frame or 0,
                     interval_list=x.interval_list, random_reverse=x.random_reverse, padding=x.padding,
                     flip_sequence=x.flip_sequence, partition=partition, keep_partition=keep,
                     frame_tmpl=x.frame_tmpl, frames_per_clip=frames_per_clip)
