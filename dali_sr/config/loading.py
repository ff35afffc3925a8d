"""`load_config`: a dataset section or a whole option file (YAML path or dict) -> a validated `Config`."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Union

from ..errors import ConfigError
from ..schema.fields import check_section
from .build import build_config
from .common import COMMON_KEYS, PHASES
from .dataset import Config
from .dialects import dialect_of
from .types import dataset_type
from .toml_file import TOML_SUFFIXES, read_toml
from .yaml_file import read_yaml


def _read_file(path: Path) -> dict:
    """The options of an option file: TOML by its suffix, else YAML."""
    return read_toml(path) if path.suffix.lower() in TOML_SUFFIXES else read_yaml(path)


def load_config(source: Union[str, Path, Mapping[str, Any]], phase: Optional[str] = None,
                **overrides: Any) -> Config:
    """Validate a dataset section or a whole option file (BasicSR / Real-ESRGAN, neosr) into a `Config`.

    `source` is a YAML path, a TOML path (by its `.toml` suffix) or a dict; `phase` picks the section of an option file (`train`, `val`, `test` or
    an exact key such as `val_2`); `overrides` replace keys of the section. Unknown keys, wrong types and
    values out of range fail with a one-line `ConfigError`. Imports no DALI.
    """
    if not isinstance(source, (str, Path, Mapping)):
        raise ConfigError(f"a config is a YAML or TOML file path or a dict of dataset options, not {type(source).__name__} "
                          f"{source!r}")
    origin = str(source) if isinstance(source, (str, Path)) else "config"
    opts = _read_file(Path(source)) if isinstance(source, (str, Path)) else dict(source)
    if phase is not None and phase.split("_")[0] not in PHASES:
        raise ConfigError(f"phase must be one of {PHASES}, got {phase!r}")
    dialect = dialect_of(opts)
    section = {**dialect.section(opts, phase, origin), **overrides}
    if "type" not in section:
        raise ConfigError(f"{origin}: missing 'type' (the pipeline, e.g. PairedImageDataset)")
    spec = dataset_type(str(section["type"])).options
    section = dialect.model_keys(opts, section, spec.model_keys, origin)
    where = f"{origin} [{section.get('name') or section['type']}]"
    values = spec.prepare(check_section(section, {**COMMON_KEYS, **spec.keys}, where), where)
    options = spec.struct(**{key: values[key] for key in spec.keys}) if spec.struct is not None else None
    return build_config(values, section, spec, options, where)
