"""BasicSR and Real-ESRGAN option files: `datasets:` with one section per phase (`train`, `val`, `val_2`, ...),
the top-level `scale` and `manual_seed` every dataset reads, and the model's keys at the top level (Real-ESRGAN's
degradation settings)."""
from __future__ import annotations

from typing import Optional, Sequence

from ...errors import ConfigError
from .dialect import Dialect, Options, phase_of, section_name

# Top-level keys of the file -> the dataset key they set. BasicSR's `parse_options` writes `scale` into every
# dataset section; `manual_seed` seeds a section that does not give its own.
_FILE_KEYS = {"scale": "scale", "manual_seed": "seed"}


def _detect(opts: Options) -> bool:
    return "datasets" in opts


def _section(opts: Options, phase: Optional[str], origin: str) -> dict:
    """The section named `phase` (default `train`), else the first whose name starts with `phase_`."""
    datasets = opts["datasets"]
    if not isinstance(datasets, dict) or not datasets:
        raise ConfigError(f"{origin}: 'datasets' must be a non-empty mapping of phase -> dataset options")
    name = section_name(datasets, phase)
    if name is None:
        raise ConfigError(f"{origin}: no dataset for phase '{phase or 'train'}' under 'datasets' (has: "
                          f"{', '.join(map(str, datasets))})")
    section = dict(datasets[name] or {})
    section["phase"] = phase_of(name)
    for key, target in _FILE_KEYS.items():
        if opts.get(key) is not None and (key == "scale" or target not in section):
            section[target] = opts[key]
    return section


def _model_keys(opts: Options, section: dict, keys: Sequence[str], origin: str) -> dict:
    """Copy the top-level `keys`; one given both at the top level and in the section must agree (the model reads
    the top-level one)."""
    section = dict(section)
    for key in keys:
        if key not in opts:
            continue
        if key in section and section[key] != opts[key]:
            raise ConfigError(f"{origin}: '{key}' is {opts[key]!r} at the top level (the model's) but "
                              f"{section[key]!r} in the dataset section; make them agree")
        section[key] = opts[key]
    return section


DIALECT = Dialect("BasicSR option file", detect=_detect, section=_section, model_keys=_model_keys)
