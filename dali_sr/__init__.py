"""dali_sr: super-resolution / restoration training data from NVIDIA DALI pipelines.

    loader = dali_sr.build_loader("configs/div2k_x4_lmdb.yml")
    for batch in loader: batch["lq"], batch["gt"], batch["lq_path"], batch["gt_path"]
"""
from .config import Config, load_config
from .errors import ConfigError, DaliSRError, DatasetError
from .loader import Loader, build_loader

__all__ = ["Config", "ConfigError", "DaliSRError", "DatasetError", "Loader", "build_loader", "load_config"]
__version__ = "0.1.0"
