"""What the loader needs of one dataset `type:`: its config keys, how to index it and its source."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..config import Config, TypeOptions
from .plan import Sampling
from .source import PlanSource


@dataclass(frozen=True)
class DatasetKind:
    """`build_index(cfg)` -> an index (`__len__`, `fingerprint()`, `close()`);
    `make_source(cfg, index, sampling, start)` -> its `PlanSource`."""

    options: TypeOptions
    build_index: Callable[[Config], Any]
    make_source: Callable[[Config, Any, Sampling, tuple[int, int]], PlanSource]
