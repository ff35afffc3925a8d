"""`ClipOptions`: the clip types' own settings, typed (`Config.options` of every clip type)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional


@dataclass(frozen=True)
class ClipOptions:
    """The clip window and clip layout keys of a clip type; a key the type does not take keeps its default."""

    num_frame: Optional[int] = None  # frames per sample (None: every frame of the clip, recurrent types)
    interval_list: tuple[int, ...] = (1,)
    random_reverse: bool = False
    padding: str = "reflection_circle"
    val_partition: Optional[str] = None  # REDS: the clips left out of training
    test_mode: bool = False  # REDSRecurrentDataset: train on the partition's clips
    flip_sequence: bool = False  # Vimeo90KRecurrentDataset: the clip and its reverse
    frame_tmpl: Optional[str] = None  # clip folders: the frame file name template
    gt_frames: str = "center"  # VideoClipDataset: GT of the centre frame or of every frame ("all")
    border_mode: bool = False  # REDSDataset: EDVR's one-sided windows from the key frame (its GT)


_UNUSED = ("cache_data", "dataroot_flow")  # BasicSR keys accepted and not needed: frames are read on demand


def clip_options(**values: Any) -> ClipOptions:
    """The `ClipOptions` of a clip type's checked keys."""
    kept = {key: value for key, value in values.items() if key not in _UNUSED}
    if "interval_list" in kept:
        kept["interval_list"] = tuple(kept["interval_list"])
    return ClipOptions(**kept)
