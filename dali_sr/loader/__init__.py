"""The loader layer: the DALI pipeline of a config's type, and iterating it as BasicSR-style batches."""
from .loader import Loader, build_loader, dali_pipeline

__all__ = ["Loader", "build_loader", "dali_pipeline"]
