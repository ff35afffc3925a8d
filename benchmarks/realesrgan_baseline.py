"""The `RealESRGANDataset` baseline of `python -m benchmarks.realesrgan`: BasicSR's work with the same CPU budget.

BasicSR's dataset (decode, flips, crop-or-pad to 400, three kernels per sample) runs in DataLoader
workers, and the model's `feed_data` degradation in PyTorch on the loader's device (the GPU when the
loader runs there), as a Real-ESRGAN training process does; the training pair pool is left out. Both
come from `basicsr_realesrgan`. Also here: how many distinct degradation settings a dali_sr batch holds.
"""
from __future__ import annotations

from dataclasses import fields
from typing import Any, Iterator

import numpy as np
import torch

from dali_sr import Config, Loader
from dali_sr.bench.baseline import dataloader_batches
from dali_sr.degrade.chain import Usm

from .basicsr_realesrgan import BasicSRDegradation, BasicSRRealESRGANDataset, RealESRGANOptions, worker_init_fn


def options_of(cfg: Config) -> RealESRGANOptions:
    """The baseline's options for a `RealESRGANDataset` config: its own keys, then the common ones."""
    names = {f.name for f in fields(RealESRGANOptions)}
    given = {k: tuple(v) if isinstance(v, list) else v for k, v in vars(cfg.options).items() if k in names and v is not None}
    given.update(dataroot_gt=cfg.dataroot_gt, meta_info=cfg.meta_info_file, io_backend=cfg.io_backend,
                 scale=cfg.scale, gt_size=cfg.gt_size, crop_pad_size=cfg.crop_pad_size or cfg.gt_size,
                 use_hflip=cfg.use_hflip, use_rot=cfg.use_rot, batch_size_per_gpu=cfg.batch_size,
                 gt_usm=cfg.sharpen_gt)
    return RealESRGANOptions(**given)


def model_of(cfg: Config) -> str:
    """RealESRGANModel when the chain degrades the sharpened GT, else RealESRNetModel."""
    return "RealESRGANModel" if isinstance(cfg.degradation.steps[0], Usm) else "RealESRNetModel"


def realesrgan_baseline_batches(cfg: Config, index: Any, workers: int, on_gpu: bool) -> Iterator[dict]:
    """Endless (lq, gt[, gt_usm]) batches: BasicSR's dataset in `workers` DataLoader workers, then `feed_data`."""
    opts = options_of(cfg)
    device = torch.device("cuda", cfg.device_id) if on_gpu else torch.device("cpu")
    degrade = BasicSRDegradation(opts, device, model_of(cfg), seed=cfg.seed)
    dataset = BasicSRRealESRGANDataset(opts, seed=cfg.seed)
    for batch in dataloader_batches(dataset, cfg, workers, on_gpu, worker_init_fn):
        yield degrade(batch)


# The draws that BasicSR makes once per batch: resize direction and mode (both orders), noise kind (both
# orders), the second blur, the final order.
_PER_BATCH_IN_BASICSR = ("d2_size", "d2_mode", "d3_gaussian", "d5_on", "d6_size", "d6_mode", "d7_gaussian",
                         "d8_option")


def settings_per_batch(loader: Loader, batches: int = 8) -> dict[str, Any]:
    """Mean number of distinct settings of BasicSR's per-batch draws in a dali_sr batch (BasicSR: 1)."""
    source = loader.spec.dataset.make_source(loader.cfg, loader.index, loader.sampling)
    counts = []
    for b in range(min(batches, len(loader))):
        columns = source.assemble(0, b).columns
        rows = zip(*(columns[k] for k in _PER_BATCH_IN_BASICSR if k in columns))
        counts.append(len({tuple(tuple(np.asarray(v).ravel().tolist()) for v in row) for row in rows}))
    return {"draws": list(_PER_BATCH_IN_BASICSR), "dali_sr": float(np.mean(counts)), "baseline": 1.0,
            "batch_size": loader.cfg.batch_size}
