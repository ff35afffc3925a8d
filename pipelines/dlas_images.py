"""The graph of DL-Art-School's image-folder type (`ImageFolderDataset`): decode the window, flip, INTER_AREA to
`target_size`, cut to a multiple, LQ by the corruption chain (its downscales as INTER_AREA), float CHW outputs
normalized as DL-Art-School normalizes them."""
from __future__ import annotations

from dali_sr.config import Config
from dali_sr.datasets.dlas.folder_source import exact_area
from dali_sr.datasets.source import PlanSource


def corrupt(x, cfg: Config, columns: dict, on_gpu: bool):
    """The corruption chain on float32 HWC HQ in [0, 1], unrounded as DL-Art-School's float LQ; the chain's area
    downscales to the LQ size are cv2's INTER_AREA."""
    from . import area, degrade

    for step in cfg.degradation.steps:
        if exact_area(step):
            x = area.area_resize(x, columns[f"{step.id}_roi"], columns[f"{step.id}_size"], on_gpu)
        else:
            x = degrade.apply_steps(x, (step,), columns, cfg, on_gpu)
    return x


def _output(x, cfg: Config, on_gpu: bool):
    """HWC float32 -> CHW, normalized (`normalize`, mean / std), then `x * 2 - 1` with `rgb_n1_to_1`."""
    from nvidia.dali import fn

    from . import ops

    x = ops.normalize(fn.transpose(x, perm=[2, 0, 1]), cfg.mean, cfg.std, False, on_gpu)
    return x * 2.0 - 1.0 if cfg.options.rgb_n1_to_1 else x


def define(cfg: Config, source: PlanSource, on_gpu: bool) -> tuple:
    """Graph: bytes -> decode the source's window -> flip -> float [0, 1] -> INTER_AREA to the target size (rows
    whose size changes) -> cut to a multiple -> (hq[, lq], idx). Runs under `pipeline_def(enable_conditionals=True)`."""
    from . import area, degrade, ops  # DALI: imported when a pipeline is built, not when a config is validated

    columns = ops.source_columns(source, cfg.source_workers)
    shape, anchor = columns["hq_shape"], columns["hq_anchor"]
    if ops.roi_decode(on_gpu):
        image = ops.decode_crop(columns["hq"], shape, anchor)
    else:
        image = ops.crop(ops.decode(columns["hq"], on_gpu, cfg.hw_decoder_load), shape, anchor)
    x = degrade.to_float(ops.flip(image, columns["hflip"], 0))
    if columns["resized"]:
        x = area.area_resize(x, columns["in_hw"], columns["target_hw"], on_gpu)
    hq = ops.crop(x, columns["keep"])
    outputs = (hq, corrupt(hq, cfg, columns, on_gpu)) if source.outputs.makes_lq else (hq,)
    return tuple(_output(x, cfg, on_gpu) for x in outputs) + (columns["idx"],)
