"""What a loader's `state_dict` records besides the position, and the checks `load_state_dict` makes with it.

A position (epoch, batch) means the same batches only under the same samples (dataset, order) and the same
making of each batch (windows, augmentations, outputs, degradation). The state records all of it; resuming
under any difference is refused, naming the setting, before a pipeline is built. The rank and world size are
recorded too, but they may change: the state also holds the epoch's position across all ranks (`epoch_slot`
of the order of `order_world_size` ranks), from which any job continues the epoch (see `Sampling.continuing`).
"""
from __future__ import annotations

import hashlib
import numbers
from dataclasses import replace
from typing import Any, Mapping, Optional

from ..config import Config
from ..datasets.plan import Redeal, Sampling
from ..errors import ConfigError

# Settings that decide the batches, in the order a difference is reported.
RESUME_KEYS = ("type", "phase", "seed", "num_samples", "dataset", "batch_size",
               "dataset_enlarge_ratio", "shuffle", "drop_last", "scale", "gt_size", "use_hflip", "use_rot",
               "use_vflip", "color", "mean", "std", "degradation", "crop_pad_size", "patches_per_image")
_FIX = "resume with the config and data it was saved with"
_PASS = "pass the dict Loader.state_dict() returned"


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


def _count(state: Mapping[str, Any], key: str, least: int = 0) -> int:
    value = state[key]
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < least:
        kind = "a positive" if least == 1 else "a non-negative"
        raise ConfigError(f"load_state_dict: '{key}' must be {kind} integer, got {value!r}; {_PASS}")
    return int(value)


def _differs(key: str, saved: Any, mine: Any) -> str:
    if key == "dataset":
        return f"over other samples (dataset {saved}, this loader's {mine}: the keys differ)"
    if key == "degradation":
        return "with another degradation chain (a step or setting differs)"
    return f"with {key}={saved!r}, this loader has {key}={mine!r}"


def checked_position(state: Any, mine: Mapping[str, Any], sampling: Sampling) -> tuple[Sampling, int, int, bool]:
    """(sampling, epoch, batch, exact) with which a loader of `sampling` continues a saved state, once it is a
    state of this loader's batches; a one-line `ConfigError` naming the first thing that is wrong otherwise.
    `exact` is true on the rank and world size the state was saved on: the saver's very pipeline continues
    (its DALI checkpoint too). Settings the state does not record (saved by an older dali_sr) are not
    compared; a state without its rank and world size is taken as this loader's."""
    if not isinstance(state, Mapping):
        raise ConfigError(f"load_state_dict takes the dict Loader.state_dict() returned, not {type(state).__name__}")
    for key in ("epoch", "batch"):
        if key not in state:
            raise ConfigError(f"load_state_dict: the state has no '{key}'; {_PASS} "
                              f"(keys: {', '.join(map(str, state)) or 'none'})")
    for key in RESUME_KEYS:
        if key in state and state[key] != mine[key]:
            raise ConfigError(f"state_dict was saved {_differs(key, state[key], mine[key])}; {_FIX}")
    epoch, batch = _count(state, "epoch"), _count(state, "batch")
    saver = _saver(state, sampling, epoch)
    if batch > saver.batches(epoch):
        raise ConfigError(f"load_state_dict: batch {batch} is past the {saver.batches(epoch)} batches of an epoch on "
                          f"the rank that saved it; {_FIX}")
    slot = saver.next_slot(epoch, batch)
    if "epoch_slot" in state and _count(state, "epoch_slot") != slot:
        raise ConfigError(f"load_state_dict: epoch_slot {state['epoch_slot']} is not where batch {batch} of rank "
                          f"{saver.rank} of {saver.world_size} stands (slot {slot}): the state was edited or pieced "
                          f"together from several; {_PASS}")
    continued, at = sampling.continuing(saver, epoch, batch)
    return continued, epoch, at, (saver.rank, saver.world_size) == (sampling.rank, sampling.world_size)


def _saver(state: Mapping[str, Any], sampling: Sampling, epoch: int) -> Sampling:
    """The sampling of the rank that saved `state` (this loader's, bar rank, world size and a redealt epoch)."""
    world = _count(state, "world_size", 1) if "world_size" in state else sampling.world_size
    rank = _count(state, "rank") if "rank" in state else (sampling.rank if world == sampling.world_size else 0)
    if rank >= world:
        raise ConfigError(f"load_state_dict: rank {rank} is not in [0, world_size={world}); {_PASS}")
    redeal = None
    if state.get("dealt_from") is not None:
        if "order_world_size" not in state:
            raise ConfigError(f"load_state_dict: the state has 'dealt_from' but no 'order_world_size'; {_PASS}")
        redeal = Redeal(epoch, _count(state, "order_world_size", 1), _count(state, "dealt_from"))
        whole = replace(sampling, redeal=redeal).slots_in_order(epoch)
        if redeal.start > whole:
            raise ConfigError(f"load_state_dict: dealt_from {redeal.start} is past the {whole} slots of epoch "
                              f"{epoch}'s order; {_PASS}")
    return replace(sampling, rank=rank, world_size=world, redeal=redeal)


def position_state(sampling: Sampling, epoch: int, batch: int) -> dict[str, Any]:
    """The position keys of a state at (epoch, batch): beside them, where the epoch stands across all ranks
    (`epoch_slot` in the order of `order_world_size` ranks) and the slot its rest was dealt from on this job
    (`dealt_from`, None for an epoch read as this job's own plan)."""
    redeal = sampling.redeal if sampling.redeal is not None and sampling.redeal.epoch == epoch else None
    return {"epoch": epoch, "batch": batch, "epoch_slot": sampling.next_slot(epoch, batch),
            "order_world_size": sampling.order_world_size(epoch),
            "dealt_from": redeal.start if redeal is not None else None}


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
