"""Dataset configs: option files (one module per dialect) and dataset sections validated into a typed `Config`,
and the table of dataset types whose options they take.

    cfg = load_config("configs/div2k_x4_lmdb.yml", phase="train", batch_size_per_gpu=8)
"""
from ..storage.io_options import IoOptions
from .dataset import Config
from .loading import load_config
from .types import DatasetType, TypeOptions, dataset_type, dataset_types, register_dataset_type

__all__ = ["Config", "DatasetType", "IoOptions", "TypeOptions", "dataset_type", "dataset_types", "load_config",
           "register_dataset_type"]
