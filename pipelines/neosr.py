"""The graph of neosr's types (`paired`, `otf`, `single`): the paired graph, then neosr's batch augmentations
(`mixing`) on the training patches when the config lists some."""
from __future__ import annotations

from dali_sr.config import Config
from dali_sr.datasets.source import PlanSource


def define(cfg: Config, source: PlanSource, on_gpu: bool) -> tuple:
    """(lq, gt, idx) as the paired graph makes them, augmented when the source draws augmentations."""
    from . import graph, mixing, ops  # DALI: imported when a pipeline is built, not when a config is validated

    m = getattr(source, "mixing", None)
    if m is None:
        return graph.restoration_graph(cfg, source, on_gpu, frames=False)
    columns = ops.source_columns(source, cfg.source_workers)
    lq, gt, idx = graph.restoration_graph(cfg, source, on_gpu, False, columns=columns)
    lq, gt = mixing.mix(lq, gt, columns, m, cfg.out_channels, on_gpu)
    return lq, gt, idx
