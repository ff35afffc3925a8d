"""The dataset types: a config's `type:` (BasicSR spelling) -> what to read (a `DatasetKind`) and its DALI graph.

This module imports no DALI: validating a config asks it only for a type's options. The graph
module of a type is imported when a loader builds its pipeline.
"""
from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

from dali_sr.config import Config, TypeOptions
from dali_sr.config import load_config as _load_config
from dali_sr.datasets.clips.types import CLIP_TYPES
from dali_sr.datasets.kind import DatasetKind
from dali_sr.datasets.paired.kind import FFHQ, PAIRED, REALESRGAN
from dali_sr.errors import ConfigError


@dataclass(frozen=True)
class PipelineSpec:
    """One `type:`: its dataset kind and the module (in this package) whose `define` builds its graph."""

    name: str
    dataset: DatasetKind
    graph_module: str

    @property
    def define(self) -> Callable:
        """`define(cfg, source, on_gpu)` of the type's graph module (imports DALI)."""
        return importlib.import_module(f"{__package__}.{self.graph_module}").define


_TYPES: dict[str, PipelineSpec] = {
    "PairedImageDataset": PipelineSpec("PairedImageDataset", PAIRED, "paired_image"),
    "RealESRGANDataset": PipelineSpec("RealESRGANDataset", REALESRGAN, "paired_image"),
    "FFHQDataset": PipelineSpec("FFHQDataset", FFHQ, "paired_image"),
    **{name: PipelineSpec(name, kind, "video_clips") for name, kind in CLIP_TYPES.items()},
}


def pipeline_types() -> list[str]:
    """Every `type:` name."""
    return sorted(_TYPES)


def get_pipeline(name: str) -> PipelineSpec:
    """The spec for `type: name`; a `ConfigError` suggesting the closest type otherwise."""
    if name not in _TYPES:
        close = difflib.get_close_matches(name, list(_TYPES), n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else f"; known types: {', '.join(sorted(_TYPES))}"
        raise ConfigError(f"unknown dataset type '{name}'{hint}")
    return _TYPES[name]


def type_options(name: str) -> TypeOptions:
    """The config keys and checks of `type: name` (what `dali_sr.config.load_config` asks for)."""
    return get_pipeline(name).dataset.options


def load_config(source: Union[str, Path, Mapping[str, Any]], phase: Optional[str] = None, **overrides: Any) -> Config:
    """Validate a dataset section or a whole BasicSR option file (YAML path or dict) into a `Config`.

    `phase` picks the section of an option file (`train`, `val`, `test` or an exact key such as
    `val_2`); `overrides` replace keys. Imports no DALI.
    """
    return _load_config(source, phase, type_options=type_options, **overrides)
