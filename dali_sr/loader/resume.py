"""What a loader's `state_dict` records besides the position, and the checks `load_state_dict` makes with it.

A position (epoch, batch) means the same batches only under the same samples (dataset, order, sharding)
and the same making of each batch (windows, augmentations, outputs, degradation). The state records all
of it; resuming under any difference is refused, naming the setting, before a pipeline is built.
"""
from __future__ import annotations

import hashlib
import numbers
from typing import Any, Mapping, Optional

from ..config import Config
from ..errors import ConfigError

# Settings that decide the batches, in the order a difference is reported.
RESUME_KEYS = ("type", "phase", "rank", "world_size", "seed", "num_samples", "dataset", "batch_size",
               "dataset_enlarge_ratio", "shuffle", "drop_last", "scale", "gt_size", "use_hflip", "use_rot",
               "use_vflip", "color", "mean", "std", "degradation", "crop_pad_size", "patches_per_image")
_FIX = "resume with the config, data and rank it was saved with"


def _chain_digest(cfg: Config) -> Optional[str]:
    """A digest of the degradation chain's validated steps (every setting of every step); None without one."""
    if cfg.degradation is None:
        return None
    return hashlib.sha256(repr(cfg.degradation.steps).encode()).hexdigest()[:16]


def identity(cfg: Config, num_samples: int, dataset: str, rank: int, world_size: int) -> dict[str, Any]:
    """The settings a state is saved under (plain values: they survive `torch.save` and JSON)."""
    return {"type": cfg.type, "phase": cfg.phase, "rank": rank, "world_size": world_size, "seed": cfg.seed,
            "num_samples": num_samples, "dataset": dataset, "batch_size": cfg.batch_size,
            "dataset_enlarge_ratio": cfg.dataset_enlarge_ratio, "shuffle": cfg.shuffle, "drop_last": cfg.drop_last,
            "scale": cfg.scale, "gt_size": cfg.gt_size, "use_hflip": cfg.use_hflip, "use_rot": cfg.use_rot,
            "use_vflip": cfg.use_vflip, "color": cfg.color,
            "mean": list(cfg.mean) if cfg.mean is not None else None,
            "std": list(cfg.std) if cfg.std is not None else None,
            "degradation": _chain_digest(cfg), "crop_pad_size": cfg.crop_pad_size,
            "patches_per_image": cfg.patches_per_image}


def _count(state: Mapping[str, Any], key: str) -> int:
    value = state[key]
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 0:
        raise ConfigError(f"load_state_dict: '{key}' must be a non-negative integer, got {value!r}; pass the dict "
                          f"Loader.state_dict() returned")
    return int(value)


def _differs(key: str, saved: Any, mine: Any) -> str:
    if key == "dataset":
        return f"over other samples (dataset {saved}, this loader's {mine}: the keys differ)"
    if key == "degradation":
        return "with another degradation chain (a step or setting differs)"
    if key in ("rank", "world_size"):
        return f"on {key} {saved}, this loader is {key} {mine}"
    return f"with {key}={saved!r}, this loader has {key}={mine!r}"


def checked_position(state: Any, mine: Mapping[str, Any], batches: int) -> tuple[int, int]:
    """(epoch, batch) of a saved state, once it is a state of this loader's batches; a one-line `ConfigError`
    naming the first thing that is wrong otherwise. Settings the state does not record (saved by an older
    dali_sr) are not compared."""
    if not isinstance(state, Mapping):
        raise ConfigError(f"load_state_dict takes the dict Loader.state_dict() returned, not {type(state).__name__}")
    for key in ("epoch", "batch"):
        if key not in state:
            raise ConfigError(f"load_state_dict: the state has no '{key}'; pass the dict Loader.state_dict() returned "
                              f"(keys: {', '.join(map(str, state)) or 'none'})")
    for key in RESUME_KEYS:
        if key in state and state[key] != mine[key]:
            raise ConfigError(f"state_dict was saved {_differs(key, state[key], mine[key])}; {_FIX}")
    epoch, batch = _count(state, "epoch"), _count(state, "batch")
    if batch > batches:
        raise ConfigError(f"load_state_dict: batch {batch} is past the {batches} batches of an epoch on this rank; "
                          f"{_FIX}")
    return epoch, batch


def checkpoint_start(state: Mapping[str, Any]) -> tuple[int, int]:
    """The (epoch, batch) at which the pipeline whose DALI checkpoint the state holds was started."""
    start = state.get("pipeline_start")
    if not isinstance(start, (list, tuple)) or len(start) != 2 or not all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0 for v in start):
        raise ConfigError(f"load_state_dict: 'pipeline_start' must be [epoch, batch] beside 'dali_checkpoint', got "
                          f"{start!r}; pass the dict Loader.state_dict() returned")
    return int(start[0]), int(start[1])


def checked_epoch(epoch: Any) -> int:
    """`set_epoch`'s argument as an int; a `ConfigError` naming `set_epoch` for anything but a whole number >= 0."""
    if not isinstance(epoch, numbers.Integral) or isinstance(epoch, bool) or epoch < 0:
        raise ConfigError(f"set_epoch({epoch!r}): the epoch must be a non-negative integer")
    return int(epoch)
