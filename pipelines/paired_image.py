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

    Array sides (raw values) arrive already cut by the source and skip decode and crop.

    Runs under `pipeline_def(enable_conditionals=True)`; returns (lq, gt, idx).
    """
    nodes = dict(zip(source.names, fn.external_source(source, num_outputs=len(source.names), batch=True,
                                                     no_copy=True)))
    lq_window = (nodes["lq_shape"], nodes["lq_anchor"]) if "lq_shape" in nodes else None
    gt_window = (nodes["gt_shape"], nodes.get("gt_anchor")) if "gt_shape" in nodes else None
    lq = ops.image(nodes["lq"], index.lq_arrays is not None, lq_window, on_gpu, cfg.hw_decoder_load)
    gt = ops.image(nodes["gt"], index.gt_arrays is not None, gt_window, on_gpu, cfg.hw_decoder_load)
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
