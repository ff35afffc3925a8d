"""The clip baseline: BasicSR v1.4.2 `REDSDataset` work per sample, in torch DataLoader workers.

Samples are those of the loader's `ClipIndex` (validation clips removed, windows and frames
checked at `build_loader`). Per sample, as BasicSR does it: the sample names a centre frame;
an interval is drawn from `interval_list` and the centre redrawn uniformly while the window
of `num_frame` frames leaves the clip (BasicSR assumes 100 frames; here the clip's real
count); the window may be reversed; the GT centre frame and the LQ window are read, decoded
to float32, cropped at one window for every frame, augmented alike and returned as `lq`
(T, C, h, w), `gt` (C, H, W) and `key`. As in BasicSR, `key` is the sample's own key frame
(`clip/00000042`), not the redrawn centre.
"""
from __future__ import annotations

import random
from typing import Any, Iterator, Sequence

import torch
from torch.utils.data import Dataset

from .. import Config
from ..errors import DatasetError
from .baseline import augment, dataloader_batches, img2tensor, paired_random_crop, read_float

CLIP_TYPE = "REDSDataset"


def window_options(cfg: Config) -> dict[str, Any]:
    """`num_frame`, `interval_list`, `random_reverse` of a REDSDataset config (validated by `load_config`)."""
    x = cfg.options
    return {"num_frame": int(x.num_frame), "interval_list": list(x.interval_list or [1]),
            "random_reverse": bool(x.random_reverse)}


def basicsr_window(index: Any, i: int, num_frame: int, interval_list: Sequence[int],
                   random_reverse: bool) -> tuple[int, int, list[int]]:
    """BasicSR's temporal draw for sample `i` with module `random`: (clip number, centre, the T frames).

    Frames are positions in the clip (`index.lq_keys[clip][frame]`).
    """
    clip, centre = int(index.sample_clip[i]), int(index.sample_frame[i])
    last = index.count(clip) - 1
    interval = random.choice(interval_list)
    reach = num_frame // 2 * interval
    if 2 * reach > last:  # the loader's training index rules this out; never loop forever
        raise DatasetError(f"{index.name}: clip {index.clips[clip]} has {last + 1} frame(s), too few for "
                           f"num_frame {num_frame} at interval {interval}")
    while centre - reach < 0 or centre + reach > last:
        centre = random.randint(0, last)
    frames = list(range(centre - reach, centre + reach + 1, interval))
    if random_reverse and random.random() < 0.5:
        frames.reverse()
    return clip, centre, frames


class BasicSRClipDataset(Dataset):
    """BasicSR's `REDSDataset.__getitem__` over the loader's clip index (enlarged as `EnlargedSampler`)."""

    def __init__(self, cfg: Config, index: Any):
        self.cfg, self.index, self.options = cfg, index, window_options(cfg)

    def __len__(self) -> int:
        return len(self.index) * self.cfg.dataset_enlarge_ratio

    def __getitem__(self, i: int) -> dict[str, Any]:
        cfg, ix = self.cfg, self.index
        i %= len(ix)
        clip, centre, frames = basicsr_window(ix, i, **self.options)
        gt_key = ix.gt_keys[clip][centre]
        img_gt = read_float(ix.gt, gt_key)
        img_lqs = [read_float(ix.lq, ix.lq_keys[clip][f]) for f in frames]
        img_gt, img_lqs = paired_random_crop(img_gt, img_lqs, cfg.gt_size, cfg.scale, ix.gt.label(gt_key))
        *img_lqs, img_gt = augment(img_lqs + [img_gt], cfg.use_hflip, cfg.use_rot)
        return {"lq": torch.stack([img2tensor(img) for img in img_lqs]), "gt": img2tensor(img_gt),
                "key": ix.key(clip, int(ix.sample_frame[i]))}


def clip_baseline_batches(cfg: Config, index: Any, workers: int, on_gpu: bool) -> Iterator[dict]:
    """Endless BasicSR-style `REDSDataset` batches: `lq` (B, T, C, h, w), `gt` (B, C, H, W), `key` (list of str)."""
    return dataloader_batches(BasicSRClipDataset(cfg, index), cfg, workers, on_gpu)
