"""The graph of LQ clips alone (`SceneLQClipDataset`): each window's frames decoded whole and stacked -> float
FCHW; (lq, idx)."""
from __future__ import annotations

from dali_sr.config import Config
from dali_sr.datasets.source import PlanSource


def define(cfg: Config, source: PlanSource, on_gpu: bool) -> tuple:
    """Frames -> decode -> one FHWC sequence per row -> float FCHW as BasicSR computes it (RGB, or Y with
    `color: y`; `mean` / `std` applied)."""
    from . import ops  # DALI: imported when a pipeline is built, not when a config is validated

    columns = ops.source_columns(source, cfg.source_workers)
    frames = ops.side_images(columns, source.outputs.lq, True, on_gpu, cfg.hw_decoder_load)
    return ops.to_output(frames, cfg.mean, cfg.std, cfg.color == "y", True, on_gpu), columns["idx"]
