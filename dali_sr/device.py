"""Where a pipeline runs: `auto` picks the GPU when DALI and PyTorch both see one."""
from __future__ import annotations

from .errors import ConfigError


def gpu_count() -> int:
    """CUDA devices visible to DALI (0 on a machine without a GPU or driver)."""
    from nvidia.dali.backend import GetCUDADeviceCount

    try:
        return GetCUDADeviceCount()
    except RuntimeError:
        return 0


def torch_has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def resolve_device(device: str) -> bool:
    """True to run on the GPU; `device` is `auto`, `gpu` or `cpu`."""
    if device == "cpu":
        return False
    usable = gpu_count() > 0 and torch_has_cuda()
    if device == "gpu" and not usable:
        why = "no CUDA GPU is visible to DALI" if gpu_count() == 0 else "this PyTorch build has no CUDA"
        raise ConfigError(f"device: gpu, but {why}; use device: auto or cpu")
    return usable
