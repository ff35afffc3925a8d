"""`PairedImageDataset`: paired LQ/GT images, synced crop + augment, BasicSR semantics."""
from __future__ import annotations

from dali_sr.config import Config
from dali_sr.datasets.source import PlanSource

from . import graph


def define(cfg: Config, source: PlanSource, on_gpu: bool) -> tuple:
    """Graph: bytes -> decode -> crop (GT window = scale x LQ window) -> flips -> float CHW; (lq, gt, idx).

    Raw sides arrive already cut by the source and skip decode and crop. Runs under
    `pipeline_def(enable_conditionals=True)`.
    """
    return graph.restoration_graph(cfg, source, on_gpu, frames=False)
