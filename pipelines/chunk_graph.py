"""DALI pieces of the chunked-tile graph (SingleImageDataset, MultiFrameDataset): decode the tile (and its
reference, with the mask as a 4th channel), resize to `target_size` and then to the LQ size as cv2's INTER_AREA
computes whole-factor reductions (a box mean), cut to `force_multiple`, corrupt by the chain, float CHW outputs
(FCHW for frames)."""
from __future__ import annotations

from typing import Any

from nvidia.dali import fn, types

from dali_sr.config import Config
from dali_sr.datasets.dlas.tile_source import TileSource, lq_resize

from . import degrade, ops


def box_mean(x, fold):
    """HWC float images averaged over whole-factor blocks: `fold` is (h', f, w', f, -1) per sample."""
    return fn.reductions.mean(fn.reshape(x, shape=fold), axes=[1, 3])


def box_downscale(x, side: int, factor: int):
    """A `side` x `side` HWC float image reduced by the whole `factor` (the same for every sample)."""
    if factor == 1:
        return x
    return fn.reductions.mean(fn.reshape(x, shape=[side // factor, factor, side // factor, factor, -1]), axes=[1, 3])


def _float(image):
    return fn.cast(image, dtype=types.FLOAT) / types.Constant(255.0, dtype=types.FLOAT)


def _frame(cfg: Config, source: TileSource, columns: dict[str, Any], suffix: str, on_gpu: bool) -> tuple:
    """One frame's (lq, hq[, gt ref, lq ref]) as HWC float images."""
    side = source.index.hq_side
    images = [_float(ops.decode(columns["tile" + suffix], on_gpu, cfg.hw_decoder_load))]
    if source.need_ref:
        mask = columns["mask" + suffix].gpu() if on_gpu else columns["mask" + suffix]
        images.append(fn.cat(_float(ops.decode(columns["ref" + suffix], on_gpu, cfg.hw_decoder_load)), mask, axis=2))
    hqs = [box_mean(x, columns["fold" + suffix])[0:side, 0:side] for x in images]
    lqs = [box_downscale(x, side, cfg.scale) for x in hqs]
    if source.chain is not None:
        steps = source.chain.steps
        at = lq_resize(source.chain)
        lq = degrade.apply_steps(hqs[0], steps[:at], columns, cfg, on_gpu)
        lqs[0] = degrade.apply_steps(box_mean(lq, columns["lq_fold"]), steps[at + 1:], columns, cfg, on_gpu)
    return (lqs[0], hqs[0]) + ((hqs[1], lqs[1]) if source.need_ref else ())


def chunk_graph(cfg: Config, source: TileSource, on_gpu: bool) -> tuple:
    """(lq, hq[, gt_fullsize_ref, lq_fullsize_ref], gt_center, lq_center, idx): float32 CHW in [0, 1] (the
    references with the mask as a 4th channel; FCHW with `num_frames`), centres as int64 (y, x)."""
    columns: dict[str, Any] = ops.source_columns(source, cfg.source_workers)
    frames = [_frame(cfg, source, columns, suffix, on_gpu) for suffix in source.outputs.frame_names]
    if source.index.frames:  # every frame's corruption takes the sample's draws
        outputs = [fn.transpose(fn.stack(*images, axis=0), perm=[0, 3, 1, 2]) for images in zip(*frames)]
    else:
        outputs = [fn.transpose(image, perm=[2, 0, 1]) for image in frames[0]]
    return (*outputs, columns["gt_center"], columns["lq_center"], columns["idx"])
