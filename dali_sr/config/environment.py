"""What a config takes from the process it runs in: the GPU index torchrun gives it, and the default number of
DALI CPU threads."""
from __future__ import annotations

import os

from ..errors import ConfigError
from ..parallel import default_workers
from .common import MAX_DEVICE_ID


def local_rank(where: str) -> int:
    """The GPU index torchrun gives this process ($LOCAL_RANK), 0 without one."""
    text = os.environ.get("LOCAL_RANK", "0").strip()
    if not text.isdigit() or int(text) > MAX_DEVICE_ID:
        raise ConfigError(f"{where}: LOCAL_RANK={text!r} is not a GPU index in [0, {MAX_DEVICE_ID}]; fix LOCAL_RANK "
                          f"or set device_id")
    return int(text)


def default_threads() -> int:
    """DALI CPU threads when a config sets neither `num_threads` nor `num_worker_per_gpu`."""
    return default_workers()
