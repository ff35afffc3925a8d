"""DALI pieces of the chunked-tile graph (SingleImageDataset, MultiFrameDataset): decode the tile, resize to
`target_size` (on the CPU the source hands over the tile so made) and then to the LQ size as cv2's INTER_AREA
computes whole-factor reductions (a box mean), cut to `force_multiple`, corrupt by the chain, float CHW outputs
(FCHW for frames). The references with their masks come
finished from the source (`datasets.dlas.chunk_refs`: one decode per folder, not per tile)."""
from __future__ import annotations

from typing import Any

from nvidia.dali import fn, types

from dali_sr.config import Config
from dali_sr.datasets.dlas.tile_source import TileSource, lq_resize

from . import degrade, ops
from .area import block_means, halve, halvings


def _reduced(x, side: int, factor: int, fold=None):
    """Square HWC images of `side` reduced by the whole `factor` (static), as float32: halvings for a power of two,
    else the means of the blocks `fold` gives per sample (or of factor x factor blocks)."""
    times = halvings(factor)
    if times is not None:
        return halve(x, side, times) if times else fn.cast(x, dtype=types.FLOAT)
    out = side // factor
    return block_means(x, fold if fold is not None else [out, factor, out, factor, -1])


def _in_unit_range(x):
    """8-bit values as float32 in [0, 1]."""
    return x / types.Constant(255.0, dtype=types.FLOAT)


def _hq(x, source: TileSource, fold):
    """A decoded tile, its reference or its square at `target_size`, values as they were, float32: the whole-factor
    box mean INTER_AREA computes (by the sample's `fold` when tiles differ in size)."""
    ix = source.index
    if ix.tile_side is not None:
        return _reduced(x, ix.tile_side, ix.tile_side // ix.target_side)
    return block_means(x, fold)


def _frame(cfg: Config, source: TileSource, columns: dict[str, Any], suffix: str, on_gpu: bool) -> tuple:
    """One frame's (lq, hq) as HWC float images. The box means run on the 8-bit values, which are scaled to [0, 1]
    once they are smaller."""
    side, fold = source.index.hq_side, columns.get("fold" + suffix)
    if source.outputs.decoded:  # the source made it
        hq = fn.reshape(columns["tile" + suffix], layout="HWC")
    else:
        hq = _in_unit_range(_hq(ops.decode(columns["tile" + suffix], on_gpu, cfg.hw_decoder_load), source, fold))
        if side != source.index.target_side:  # force_multiple cuts
            hq = hq[0:side, 0:side]
    lq = _reduced(hq, side, cfg.scale)
    if source.chain is not None:
        steps = source.chain.steps
        at = lq_resize(source.chain)
        if at:
            lq = block_means(degrade.apply_steps(hq, steps[:at], columns, cfg, on_gpu), columns["lq_fold"])
        lq = degrade.apply_steps(lq, steps[at + 1:], columns, cfg, on_gpu)
    return lq, hq


def _references(source: TileSource, columns: dict[str, Any], on_gpu: bool) -> list:
    """`gt_fullsize_ref` and `lq_fullsize_ref` as the source made them, CHW (FCHW for frames)."""
    refs = []
    for name in ("gt_ref", "lq_ref"):
        frames = [columns[name + suffix] for suffix in source.outputs.frame_names]
        ref = fn.stack(*frames, axis=0) if source.index.frames else frames[0]
        refs.append(ref.gpu() if on_gpu else ref)
    return refs


def chunk_graph(cfg: Config, source: TileSource, on_gpu: bool) -> tuple:
    """(lq, hq[, gt_fullsize_ref, lq_fullsize_ref], gt_center, lq_center, idx): float32 CHW in [0, 1] (the
    references with the mask as a 4th channel; FCHW with `num_frames`), centres as int64 (y, x)."""
    source.make_pixels(not on_gpu)  # on the CPU, OpenCV and NumPy make the HQ tiles
    columns: dict[str, Any] = ops.source_columns(source, cfg.source_workers)
    frames = [_frame(cfg, source, columns, suffix, on_gpu) for suffix in source.outputs.frame_names]
    if source.index.frames:  # every frame's corruption takes the sample's draws
        outputs = [fn.transpose(fn.stack(*images, axis=0), perm=[0, 3, 1, 2]) for images in zip(*frames)]
    else:
        outputs = [fn.transpose(image, perm=[2, 0, 1]) for image in frames[0]]
    if source.need_ref:
        outputs += _references(source, columns, on_gpu)
    return (*outputs, columns["gt_center"], columns["lq_center"], columns["idx"])
