"""The graph of the clip types: REDS, Vimeo90K (plain and recurrent), generic clip folders, video test sets.

Every frame of a sample and its GT share one crop window (GT = scale x LQ) and the same
flips and transpose; which frames a sample reads is the source's business (its clip window).
"""
from __future__ import annotations

from dali_sr.config import Config
from dali_sr.datasets.source import PlanSource


def define(cfg: Config, source: PlanSource, on_gpu: bool) -> tuple:
    """Graph: frames -> decode -> one FHWC sequence per DALI row, one window for all its frames -> the same
    flips -> float FCHW; (lq, gt, idx) per row. Runs under `pipeline_def(enable_conditionals=True)`."""
    from . import graph  # DALI: imported when a pipeline is built, not when a config is validated

    return graph.restoration_graph(cfg, source, on_gpu, frames=True)
