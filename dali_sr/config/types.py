"""The table of dataset types: a config's `type:` -> its options (what `load_config` validates) and what the
loader builds from it (its dataset kind and DALI graph, objects of higher layers held here by reference).

The table is filled by `register_dataset_type`, the built-in types by `dali_sr.pipelines.registry` when
`dali_sr` is imported, and a user's own types by their code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Protocol

from ..errors import ConfigError
from ..schema.fields import Field
from ..schema.suggest import closest
from .dataset import Config

Graph = Callable[[Config, Any, bool], tuple]  # graph(cfg, source, on_gpu) -> DALI outputs


def _unchanged(values: dict, where: str) -> dict:
    """The preparation of a type whose keys need no translation."""
    return values


def _as_built(cfg: Config, where: str) -> Config:
    """The finish of a type with nothing to check or add once the `Config` is built."""
    return cfg


@dataclass(frozen=True)
class TypeOptions:
    """What a dataset `type:` adds to the keys every dataset takes.

    `keys`: its own keys, as typed fields; `struct(**values)` makes `Config.options` of their checked values (a
    frozen dataclass; None: the type has no options object). `model_keys`: keys an option file gives outside the
    dataset section that the type reads (e.g. a model's degradation settings; the option file's dialect says
    where they are). `needs_gt_size`: training needs `gt_size`. `makes_lq`: a config without `dataroot_lq` gets
    LQ made from GT (else it yields GT alone). `many_windows`: the type takes `patches_per_image` (several training
    windows per decoded image). `prepare(values, where)` translates the type's keys into common
    ones before the `Config` is built; `finish(cfg, where)` checks the built `Config` and returns it, completed
    with what the type decides. Both raise `ConfigError`.
    """

    keys: Mapping[str, Field] = field(default_factory=dict)
    struct: Optional[Callable[..., Any]] = None
    model_keys: tuple[str, ...] = ()
    needs_gt_size: bool = True
    makes_lq: bool = True
    many_windows: bool = False
    prepare: Callable[[dict, str], dict] = _unchanged
    finish: Callable[[Config, str], Config] = _as_built


class DatasetKindLike(Protocol):
    """What the table reads of a dataset kind (`dali_sr.datasets.kind.DatasetKind`): its options."""

    options: TypeOptions


@dataclass(frozen=True)
class DatasetType:
    """One `type:`: its dataset kind (options, index and source) and its graph function."""

    name: str
    dataset: Any  # a dali_sr.datasets.kind.DatasetKind
    graph: Graph

    @property
    def options(self) -> TypeOptions:
        return self.dataset.options


_TYPES: dict[str, DatasetType] = {}


def register_dataset_type(name: str, dataset: DatasetKindLike, graph: Graph) -> None:
    """Make `type: name` usable in configs, from any code run before the config is loaded.

    `dataset` is a `dali_sr.datasets.kind.DatasetKind`: the type's options (`TypeOptions`: its own keys and
    checks), `build_index(cfg)` (which samples exist, checked before any batch) and
    `make_source(cfg, index, sampling, start)` (the external source of its batches, a
    `dali_sr.datasets.source.PlanSource`). `graph(cfg, source, on_gpu)` defines the DALI graph inside the
    loader's pipeline and returns its outputs in the order of `source.outputs.graph_outputs`. The built-in
    types are registered with this same call (`dali_sr.pipelines.registry`). A name may be registered once.
    """
    if not isinstance(name, str) or not name:
        raise ConfigError(f"a dataset type's name must be a non-empty string, got {name!r}")
    if name in _TYPES:
        raise ConfigError(f"dataset type '{name}' is registered already; register yours under another name")
    if not isinstance(getattr(dataset, "options", None), TypeOptions) or not callable(graph):
        raise ConfigError(f"dataset type '{name}': pass a DatasetKind (its options, index and source) and a graph "
                          f"function graph(cfg, source, on_gpu)")
    _TYPES[name] = DatasetType(name, dataset, graph)


def dataset_type(name: str) -> DatasetType:
    """The type registered as `name`; a `ConfigError` suggesting the closest one otherwise."""
    if name not in _TYPES:
        hint = closest(name, _TYPES) or f"; known types: {', '.join(dataset_types())}"
        raise ConfigError(f"unknown dataset type '{name}'{hint}")
    return _TYPES[name]


def dataset_types() -> list[str]:
    """Every registered `type:` name, sorted."""
    return sorted(_TYPES)
