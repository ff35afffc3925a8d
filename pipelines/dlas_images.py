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
    """Graph: per image (and its next frame with fetch_alt_image) bytes -> decode the source's window -> flip ->
    float [0, 1] -> INTER_AREA to the target size (rows whose size changes) -> cut to a multiple -> LQ;
    (hq[, lq][, alt_hq[, alt_lq], has_alt], idx). Runs under `pipeline_def(enable_conditionals=True)`."""
    from . import ops  # DALI: imported when a pipeline is built, not when a config is validated

    source.make_pixels(not on_gpu and cfg.options.target_size is not None)  # OpenCV's INTER_AREA, on the CPU
    columns = ops.source_columns(source, cfg.source_workers)
    out = source.outputs
    images = [_hq(columns, "hq", cfg, out.decoded, on_gpu)] + ([_hq(columns, "alt", cfg, out.decoded, on_gpu)]
                                                                if out.alt else [])
    outputs = []
    for hq in images:
        pair = (hq, corrupt(hq, cfg, columns, on_gpu)) if out.makes_lq else (hq,)
        outputs += [_output(x, cfg, on_gpu) for x in pair]
    return tuple(outputs) + ((columns["has_alt"],) if out.alt else ()) + (columns["idx"],)


def _hq(columns: dict, prefix: str, cfg: Config, decoded: bool, on_gpu: bool):
    """One image of a row (columns `prefix`...) -> float32 HWC HQ in [0, 1]: decode the window, flip, INTER_AREA
    to the target size where it changes, cut to the multiple; or, `decoded`, the HQ pixels the source made so."""
    from nvidia.dali import fn

    from . import area, degrade, ops

    col = (lambda suffix: columns[prefix + suffix])
    if decoded:
        return fn.reshape(col(""), layout="HWC")
    if ops.roi_decode(on_gpu):
        image = ops.decode_crop(col(""), col("_shape"), col("_anchor"))
    else:
        image = ops.crop(ops.decode(col(""), on_gpu, cfg.hw_decoder_load), col("_shape"), col("_anchor"))
    if col("_resized"):  # the means of the 8-bit values (mirrored as they are taken), scaled to [0, 1] once smaller
        x = area.area_resize(image, col("_in_hw"), col("_target_hw"), on_gpu, hflip=col("_hflip")) / 255.0
    else:
        x = degrade.to_float(ops.flip(image, col("_hflip"), 0))
    return ops.crop(x, col("_keep"))
