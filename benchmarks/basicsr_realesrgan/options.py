"""The Real-ESRGAN options that `RealESRGANDataset` and `feed_data` read."""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import yaml

from dali_sr.errors import ConfigError

from .kernels import KERNEL_TYPES

@dataclass
class RealESRGANOptions:
    """The options `RealESRGANDataset` and `feed_data` read; defaults are Real-ESRGAN's x4plus option files.

    `crop_pad_size` is 400 in BasicSR (a constant there). `gt_size` is the top-level one (feed_data's crop).
    """

    dataroot_gt: str = ""
    meta_info: Optional[str] = None
    io_backend: str = "disk"
    scale: int = 4
    gt_size: int = 256
    crop_pad_size: int = 400
    use_hflip: bool = True
    use_rot: bool = False
    batch_size_per_gpu: int = 12
    num_worker_per_gpu: int = 5
    kernel_list: tuple[str, ...] = KERNEL_TYPES
    kernel_prob: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    sinc_prob: float = 0.1
    blur_sigma: tuple[float, float] = (0.2, 3.0)
    betag_range: tuple[float, float] = (0.5, 4.0)
    betap_range: tuple[float, float] = (1.0, 2.0)
    kernel_list2: tuple[str, ...] = KERNEL_TYPES
    kernel_prob2: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    sinc_prob2: float = 0.1
    blur_sigma2: tuple[float, float] = (0.2, 1.5)
    betag_range2: tuple[float, float] = (0.5, 4.0)
    betap_range2: tuple[float, float] = (1.0, 2.0)
    final_sinc_prob: float = 0.8
    gt_usm: bool = True
    resize_prob: tuple[float, float, float] = (0.2, 0.7, 0.1)
    resize_range: tuple[float, float] = (0.15, 1.5)
    gaussian_noise_prob: float = 0.5
    noise_range: tuple[float, float] = (1.0, 30.0)
    poisson_scale_range: tuple[float, float] = (0.05, 3.0)
    gray_noise_prob: float = 0.4
    jpeg_range: tuple[float, float] = (30.0, 95.0)
    second_blur_prob: float = 0.8
    resize_prob2: tuple[float, float, float] = (0.3, 0.4, 0.3)
    resize_range2: tuple[float, float] = (0.3, 1.2)
    gaussian_noise_prob2: float = 0.5
    noise_range2: tuple[float, float] = (1.0, 25.0)
    poisson_scale_range2: tuple[float, float] = (0.05, 2.5)
    gray_noise_prob2: float = 0.4
    jpeg_range2: tuple[float, float] = (30.0, 95.0)
    queue_size: int = 180

    @classmethod
    def from_option_file(cls, source: Union[str, Path, Mapping[str, Any]]) -> "RealESRGANOptions":
        """From a Real-ESRGAN option file (path or parsed dict): `datasets.train` keys, then top-level keys.

        Top-level keys win (`gt_size` is in both; feed_data reads the top-level one); other keys are ignored.
        """
        opt = source if isinstance(source, Mapping) else yaml.safe_load(Path(source).read_text())
        if not isinstance(opt, Mapping):
            raise ConfigError(f"{source}: not a YAML mapping; give a Real-ESRGAN option file")
        merged = dict((opt.get("datasets") or {}).get("train") or {})
        merged.update({k: v for k, v in opt.items() if k != "datasets"})
        backend = merged.get("io_backend", {"type": "disk"})
        merged["io_backend"] = backend["type"] if isinstance(backend, Mapping) else backend
        if merged["io_backend"] not in ("disk", "lmdb"):
            raise ConfigError(f"io_backend type {merged['io_backend']!r} is not supported; use disk or lmdb")
        names = {f.name for f in fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in merged.items() if k in names})
