"""Registry of pipeline types: a config's `type:` (BasicSR spelling) -> its `PipelineSpec`."""
from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from dali_sr.errors import ConfigError

# Modules that register pipeline types when imported.
_MODULES = ("pipelines.paired_image", "pipelines.video_clips")
_REGISTRY: dict[str, "PipelineSpec"] = {}


@dataclass(frozen=True)
class PipelineSpec:
    """What the loader needs to run one dataset type.

    build_index(cfg) -> index with `__len__` (samples) and `close()`;
    make_source(cfg, index) -> external-source callable with `names`, `rows_per_batch`,
    `start(plan, batch)`, `suspects(batch, row)` and `collate(batch_dict)`;
    define(cfg, index, source, on_gpu) -> the graph's outputs, named by `outputs`.
    """

    name: str
    build_index: Callable
    make_source: Callable
    define: Callable
    outputs: tuple[str, ...]
    options: Mapping[str, Any] = field(default_factory=dict)  # type-specific config keys
    needs_gt_size: bool = True
    validate: Callable = lambda cfg, where: None


def register(spec: PipelineSpec) -> PipelineSpec:
    _REGISTRY[spec.name] = spec
    return spec


def _load_all() -> None:
    for module in _MODULES:
        importlib.import_module(module)


def pipeline_types() -> list[str]:
    """Every registered `type:` name."""
    _load_all()
    return sorted(_REGISTRY)


def get_pipeline(name: str) -> PipelineSpec:
    """The spec for `type: name`; a `ConfigError` suggesting the closest type otherwise."""
    _load_all()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=1, cutoff=0.5)
        hint = f"; did you mean '{close[0]}'?" if close else f"; known types: {', '.join(sorted(_REGISTRY))}"
        raise ConfigError(f"unknown dataset type '{name}'{hint}")
    return _REGISTRY[name]
