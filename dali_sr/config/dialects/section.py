"""A bare dataset section: the options of one dataset, as under `datasets:` of a BasicSR option file."""
from __future__ import annotations

from typing import Optional, Sequence

from .dialect import Dialect, Options


def _section(opts: Options, phase: Optional[str], origin: str) -> dict:
    section = dict(opts)
    if phase is not None:
        section["phase"] = phase
    return section


def _model_keys(opts: Options, section: dict, keys: Sequence[str], origin: str) -> dict:
    """A bare section has nothing outside it."""
    return section


DIALECT = Dialect("dataset section", detect=lambda opts: True, section=_section, model_keys=_model_keys)
