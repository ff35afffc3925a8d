"""The loader layer: the DALI pipeline of a config's type, and iterating it as BasicSR-style batches."""
try:
    import nvidia.dali  # noqa: F401 - the one place that says how to get it
except ImportError as e:
    raise ImportError("dali_sr needs NVIDIA DALI: pip install 'dali_sr[cuda12]' (CUDA 12 driver, or no GPU) or "
                      "'dali_sr[cuda13]' (CUDA 13 driver and torch)") from e

from .loader import Loader, build_loader, dali_pipeline

__all__ = ["Loader", "build_loader", "dali_pipeline"]
