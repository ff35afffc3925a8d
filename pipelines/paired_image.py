"""The graph of the image types (`PairedImageDataset`, `RealESRGANDataset`, `FFHQDataset`): paired LQ/GT images,
synced crop + augment, BasicSR semantics."""
from __future__ import annotations

from dali_sr.config import Config
from dali_sr.datasets.source import PlanSource


def define(cfg: Config, source: PlanSource, on_gpu: bool) -> tuple:
    """Graph: bytes -> decode -> crop (GT window = scale x LQ window) -> flips -> float CHW; (lq, gt, idx).

    Raw sides arrive already cut by the source and skip decode and crop. Runs under
    `pipeline_def(enable_conditionals=True)`.
    """
    from . import graph  # DALI: imported when a pipeline is built, not when a config is validated

    return graph.restoration_graph(cfg, source, on_gpu, frames=False)
