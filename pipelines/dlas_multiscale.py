"""The graph of DL-Art-School's tile trees (`MultiScaleDataset`): decode, flip and transpose, cut the square,
INTER_AREA to the tree's size, then every depth of the tree as one INTER_AREA image split into its tiles (a box
mean of a box mean is the box mean, so each tile equals DL-Art-School's resize of its quarter), for HQ and for the
corrupted image at the LQ size. Tiles come out depth by depth; the source puts them in DL-Art-School's order."""
from __future__ import annotations

from dali_sr.config import Config
from dali_sr.datasets.source import PlanSource


def _tiles(x, side: float, tile: int, num_scales: int, on_gpu: bool):
    """Float32 HWC images of `side` x `side` -> (N, tile, tile, C): each depth d resized to tile x 2^d and split
    into its 4^d tiles, row by row."""
    from nvidia.dali import fn

    from . import area

    levels = []
    for depth in range(num_scales):
        k = 2 ** depth
        level = area.area_resize(x, fn.constant(fdata=[side, side], shape=[2]),
                                 fn.constant(fdata=[float(tile * k)] * 2, shape=[2]), on_gpu)
        blocks = fn.transpose(fn.reshape(level, shape=[k, tile, k, tile, 3]), perm=[0, 2, 1, 3, 4])
        levels.append(fn.reshape(blocks, shape=[k * k, tile, tile, 3]))
    return fn.cat(*levels, axis=0) if len(levels) > 1 else levels[0]


def define(cfg: Config, source: PlanSource, on_gpu: bool) -> tuple:
    """Graph: (hq (N, C, t, t), lq (N, C, t / scale, t / scale), idx), float32 in [0, 1]."""
    from nvidia.dali import fn

    from . import area, degrade, ops
    from .dlas_images import corrupt

    columns = ops.source_columns(source, cfg.source_workers)
    image = ops.flip(ops.decode(columns["hq"], on_gpu, cfg.hw_decoder_load), columns["hflip"], columns["vflip"])
    if columns["transpose"]:
        image = ops.transpose_hw(image)
    square = degrade.to_float(ops.crop(image, columns["square_shape"], columns["square_anchor"]))
    tile, num_scales = cfg.options.hq_tile_size, cfg.options.num_scales
    cap = float(tile * 2 ** num_scales)
    full = area.area_resize(square, columns["in_hw"], fn.constant(fdata=[cap, cap], shape=[2]), on_gpu)
    hq = _tiles(full, cap, tile, num_scales, on_gpu)
    lq = _tiles(corrupt(full, cfg, columns, on_gpu), cap, tile // cfg.scale, num_scales, on_gpu)
    return tuple(fn.transpose(x, perm=[0, 3, 1, 2]) for x in (hq, lq)) + (columns["idx"],)
