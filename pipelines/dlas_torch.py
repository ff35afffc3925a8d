"""The graph of `TorchDataset`: image (pixels, or decoded) -> window -> resize (linear, antialiased) -> square
cut -> horizontal flip -> float CHW normalised; (hq, idx)."""
from __future__ import annotations

from dali_sr.config import Config
from dali_sr.datasets.source import PlanSource


def define(cfg: Config, source: PlanSource, on_gpu: bool) -> tuple:
    """The windows, sizes and flips come from the source (`TorchSource`), one per sample."""
    from nvidia.dali import fn, types

    from . import ops

    columns = ops.source_columns(source, cfg.source_workers)
    size = source.outputs.image_size
    if source.outputs.pixels:
        image = fn.reshape(columns["image"], layout="HWC")
        image = image.gpu() if on_gpu else image
    else:
        image = ops.decode(columns["image"], on_gpu, cfg.hw_decoder_load)
    image = ops.crop(image, columns["roi_shape"], columns["roi_anchor"])
    image = fn.resize(image, resize_x=columns["resize_x"], resize_y=columns["resize_y"],
                      interp_type=types.INTERP_LINEAR, antialias=True)
    image = ops.crop(image, [size, size], columns["crop_anchor"])
    image = fn.flip(image, horizontal=columns["flip"])
    return ops.to_output(image, cfg.mean, cfg.std, False, False, on_gpu), columns["idx"]
