"""The graph of SingleImageDataset and MultiFrameDataset (DL-Art-School's chunked tile folders)."""
from __future__ import annotations

from dali_sr.config import Config
from dali_sr.datasets.dlas.tile_source import TileSource


def define(cfg: Config, source: TileSource, on_gpu: bool) -> tuple:
    """Graph: tile (and reference + mask) bytes -> decode -> INTER_AREA to target_size (a box mean) ->
    force_multiple cut -> LQ (box mean by scale, with the chain's corruptions) -> float CHW; (lq, hq[, refs],
    gt_center, lq_center, idx)."""
    from . import chunk_graph  # DALI: imported when a pipeline is built, not when a config is validated

    return chunk_graph.chunk_graph(cfg, source, on_gpu)
