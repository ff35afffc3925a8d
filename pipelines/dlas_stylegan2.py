"""The graph of DL-Art-School's StyleGAN2 folders (`Stylegan2Dataset`): decode, resize the shorter side to the
target size, crop, resize a random crop to the square, each resize bilinear and antialiased and rounded to 8 bits
as PIL's; float CHW in [0, 1]."""
from __future__ import annotations

from dali_sr.config import Config
from dali_sr.datasets.source import PlanSource


def _resize(image, size):
    """uint8 HWC -> (h, w) `size`, bilinear with antialiasing, rounded to uint8."""
    from nvidia.dali import fn, types
    from nvidia.dali import math as dmath

    x = fn.resize(image, size=size, interp_type=types.INTERP_LINEAR, antialias=True, dtype=types.FLOAT)
    return fn.cast(dmath.clamp(dmath.floor(x + 0.5), 0.0, 255.0), dtype=types.UINT8)


def define(cfg: Config, source: PlanSource, on_gpu: bool) -> tuple:
    """Graph: (hq (C, t, t) float32 in [0, 1], idx)."""
    from nvidia.dali import fn, types

    from . import ops

    columns = ops.source_columns(source, cfg.source_workers)
    image = _resize(ops.decode(columns["hq"], on_gpu, cfg.hw_decoder_load), columns["resized_hw"])
    image = _resize(ops.crop(image, columns["crop_shape"], columns["crop_anchor"]), columns["final_hw"])
    hq = fn.transpose(image, perm=[2, 0, 1]) / types.Constant(255.0, dtype=types.FLOAT)
    return hq, columns["idx"]
