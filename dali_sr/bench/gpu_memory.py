"""Device memory in use on a GPU, as the driver counts it (every allocator and context included).

DALI allocates from its own pools, outside PyTorch's allocator, so a loader's GPU memory is
read here as the device's used memory now minus what was used before the loader was built.
DALI's pools are per process and outlive pipelines: the free blocks of earlier pipelines are
returned (`idle_mib`) before the base is read, or a later loader would be counted as using
almost nothing while it reuses them.
"""
from __future__ import annotations

import gc
from typing import Optional

import torch

_MIB = 1 << 20


def used_mib(device_id: Optional[int]) -> Optional[float]:
    """MiB in use on GPU `device_id` (its CUDA context is created first); None when `device_id` is None."""
    if device_id is None:
        return None
    free, total = torch.cuda.mem_get_info(device_id)
    return (total - free) / _MIB


def _return_torch_cache(device_id: int) -> None:
    """Collect freed tensors and return PyTorch's cached blocks on GPU `device_id`."""
    gc.collect()
    with torch.cuda.device(device_id):
        torch.cuda.synchronize()
        torch.cuda.empty_cache()


def release_unused(device_id: Optional[int]) -> None:
    """Return the completely free blocks of DALI's memory pools (device and pinned host) and PyTorch's cache."""
    if device_id is None:
        return
    from nvidia.dali.backend import ReleaseUnusedMemory

    _return_torch_cache(device_id)
    ReleaseUnusedMemory()


def idle_mib(device_id: Optional[int]) -> Optional[float]:
    """MiB in use on GPU `device_id` once the pools held no free blocks: the base a new loader is counted from."""
    release_unused(device_id)
    return used_mib(device_id)


def held_since(device_id: Optional[int], base: Optional[float]) -> Optional[float]:
    """MiB in use beyond `base` once freed tensors are collected and PyTorch's cached blocks returned."""
    if device_id is None or base is None:
        return None
    _return_torch_cache(device_id)
    return round(used_mib(device_id) - base, 1)
