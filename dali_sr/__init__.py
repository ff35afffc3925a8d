"""dali_sr: super-resolution / restoration training data from NVIDIA DALI pipelines.

    loader = dali_sr.build_loader("configs/div2k_x4_lmdb.yml")
    for batch in loader: batch["lq"], batch["gt"], batch["lq_path"], batch["gt_path"]

`load_config` validates a config without importing DALI; the loader imports it on first use.
`register_dataset_type` adds a `type:` of your own.
"""
from typing import Any

from .config import Config, load_config, register_dataset_type
from .errors import ConfigError, DaliSRError, DatasetError, TransientReadWarning
from .pipelines import registry as _builtin_types  # noqa: F401 - registers the built-in dataset types

__all__ = ["Config", "ConfigError", "DaliSRError", "DatasetError", "Loader", "TransientReadWarning", "build_loader",
           "load_config", "register_dataset_type"]
__version__ = "0.1.0"
_LOADER_NAMES = ("Loader", "build_loader")


def __getattr__(name: str) -> Any:
    """`Loader` and `build_loader`, imported (with DALI) when first asked for."""
    if name in _LOADER_NAMES:
        from . import loader

        return getattr(loader, name)
    raise AttributeError(f"module 'dali_sr' has no attribute {name!r}")
