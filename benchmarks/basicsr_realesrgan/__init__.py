"""BasicSR / Real-ESRGAN training-pair synthesis, re-implemented in NumPy + PyTorch (BasicSR is not imported).

Two halves, as in BasicSR:

* `BasicSRRealESRGANDataset`: `RealESRGANDataset.__getitem__` (GT bytes -> float BGR, flips,
  crop-or-pad, three random 21 x 21 kernels), for a torch DataLoader;
* `BasicSRDegradation`: `feed_data` of `RealESRGANModel` (BasicSR) / `RealESRNetModel` (Real-ESRGAN),
  the two-stage blur / resize / noise / JPEG degradation of a batch, on any torch device.

The kernel formulas follow `basicsr/data/degradations.py` (float64 NumPy), `DiffJPEG` follows
`basicsr/utils/diffjpeg.py` with `differentiable=False`, `USMSharp` and `filter2D` follow
`basicsr/utils/img_process_util.py`. Every random draw uses generators passed in or owned by the
object instead of the global `random` / `np.random` / torch states, in BasicSR's order and with
its distributions, so a run is reproducible from one seed. Given the global states instead
(`Rngs(random, np.random)`, and `generator = None` on `BasicSRDegradation`), the draws are
BasicSR's own stream. The step functions (`filter2D`, `interpolate`, the `_pt` noise functions,
`jpeg`, `round_to_levels`) take explicit per-sample parameters, to compare another implementation
with these operations on the same inputs.
"""
from __future__ import annotations

from .dataset import BasicSRRealESRGANDataset, worker_init_fn
from .degradation import BasicSRDegradation
from .diffjpeg import DiffJPEG, jpeg, quality_to_factor
from .kernels import (KERNEL_TYPES, Rngs, gaussian_kernel, generalized_gaussian_kernel, mesh_grid, plateau_kernel,
                      random_mixed_kernel, sinc_kernel)
from .ops import (USMSharp, add_gaussian_noise_pt, add_poisson_noise_pt, filter2D, interpolate, rgb_to_grayscale,
                  round_to_levels)
from .options import RealESRGANOptions

__all__ = ["BasicSRDegradation", "BasicSRRealESRGANDataset", "DiffJPEG", "KERNEL_TYPES", "RealESRGANOptions", "Rngs",
           "USMSharp", "add_gaussian_noise_pt", "add_poisson_noise_pt", "filter2D", "gaussian_kernel",
           "generalized_gaussian_kernel", "interpolate", "jpeg", "mesh_grid", "plateau_kernel", "quality_to_factor",
           "random_mixed_kernel", "rgb_to_grayscale", "round_to_levels", "sinc_kernel", "worker_init_fn"]
