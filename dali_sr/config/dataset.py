"""`Config`: one dataset's settings, validated and typed, as the loader and the datasets read them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from ..degrade.chain import Chain
from ..storage.io_options import IoOptions


@dataclass(frozen=True)
class Config:
    """A validated dataset config: the settings every type shares, and in `options` the typed options of its
    `type:` (e.g. the clip window of a clip type; None for a type without keys of its own)."""

    type: str
    phase: str
    name: str
    scale: int
    dataroot_gt: Optional[str]
    dataroot_lq: Optional[str]
    meta_info_file: Optional[str]
    filename_tmpl: str
    io_backend: str
    gt_size: Optional[int]
    use_hflip: bool
    use_rot: bool
    use_vflip: bool
    mean: Optional[tuple]
    std: Optional[tuple]
    color: Optional[str]
    batch_size: int
    dataset_enlarge_ratio: int
    device: str
    device_id: int
    seed: int
    num_threads: int
    prefetch_queue_depth: int
    hw_decoder_load: float
    source_workers: int
    shuffle: bool
    drop_last: bool
    degradation: Optional[Chain] = None  # LQ made from GT (no dataroot_lq): bicubic or a chain of steps
    crop_pad_size: Optional[int] = None  # a chain degrades windows of this size, then crops gt_size from them
    sharpen_gt: bool = False  # GT windows are sharpened (unsharp masking) first, then degraded and yielded so
    gt_usm: bool = False  # the loader also yields `gt_usm`, the sharpened GT patch
    patches_per_image: int = 1  # training windows cut from each decoded image (an epoch holds that many per image)
    io_options: IoOptions = IoOptions()
    options: Any = None

    @property
    def is_train(self) -> bool:
        return self.phase == "train"

    @property
    def out_channels(self) -> int:
        return 1 if self.color == "y" else 3
