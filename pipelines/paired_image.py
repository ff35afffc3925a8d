"""`PairedImageDataset`: paired LQ/GT images, synced crop + augment, BasicSR semantics."""
from __future__ import annotations

from nvidia.dali import fn

from dali_sr.config import Config
from dali_sr.paired_index import PairedIndex, build_paired_index
from dali_sr.paired_source import PairedSource

from . import ops
from .registry import PipelineSpec, register


def define(cfg: Config, index: PairedIndex, source: PairedSource, on_gpu: bool):
    """Graph: bytes -> decode -> crop (GT window = scale x LQ window) -> flips -> float CHW.

    Runs under `pipeline_def(enable_conditionals=True)`; returns (lq, gt, idx).
    """
    nodes = dict(zip(source.names, fn.external_source(source, num_outputs=len(source.names), batch=True,
                                                     no_copy=True)))
    lq, gt = nodes["lq"], nodes["gt"]
    lq_window = (nodes["lq_shape"], nodes["lq_anchor"]) if cfg.is_train else None
    gt_window = (nodes["gt_shape"], nodes.get("gt_anchor"))
    if index.raw:  # old EDVR arrays arrive decoded; crop on the CPU, then move
        if lq_window:
            lq = ops.crop(lq, *lq_window)
        gt = ops.crop(gt, *gt_window)
        if on_gpu:
            lq, gt = lq.gpu(), gt.gpu()
    elif on_gpu or not lq_window:  # GPU: full decode then slice (H100 ROI-decode crash)
        lq = ops.decode(lq, on_gpu, cfg.hw_decoder_load)
        gt = ops.decode(gt, on_gpu, cfg.hw_decoder_load)
        if lq_window:
            lq = ops.crop(lq, *lq_window)
        gt = ops.crop(gt, *gt_window)
    else:  # CPU training: decode only the windows
        lq = ops.decode_crop(lq, *lq_window)
        gt = ops.decode_crop(gt, *gt_window)
    lq, gt = ops.augment([lq, gt], nodes)
    lq = ops.to_output(lq, cfg.mean, cfg.std, cfg.color == "y")
    gt = ops.to_output(gt, cfg.mean, cfg.std, cfg.color == "y")
    return lq, gt, nodes["idx"]


SPEC = register(PipelineSpec(
    name="PairedImageDataset",
    build_index=build_paired_index,
    make_source=PairedSource,
    define=define,
    outputs=("lq", "gt", "idx"),
))
