"""neosr option files (TOML): `[datasets.train]`, `[datasets.val]`, `[datasets.test_1]`, ... whose `type` is one
of neosr's (`paired`, `otf`, `single`), the top-level `scale` and `manual_seed`, and the top-level
`[degradations]` table, which neosr's `train.py` merges into the training section (its values win).

As neosr's `parse_options` and datasets read them: the phase is the section name before `_`; `~` in the
dataroots is expanded; flips (`use_hflip`, `use_rot`) are on unless turned off; a dataroot ending in `lmdb`
(both, for `paired`) is an LMDB; `num_worker_per_gpu = "auto"` leaves the thread count to dali_sr. Unlike
neosr, a key neither neosr nor dali_sr reads is refused, naming the closest valid one.
"""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence

from ...degrade.realesrgan import DATASET_DEFAULTS, MODEL_DEFAULTS
from ...errors import ConfigError
from ...schema.fields import check_keys
from ...schema.suggest import closest
from .dialect import Dialect, Options

TYPES = ("paired", "otf", "single")
# The dataset keys neosr's datasets, data loader, trainer and models read from a dataset section.
NEOSR_KEYS = ("type", "name", "phase", "scale", "dataroot_gt", "dataroot_lq", "meta_info", "meta_info_file",
              "patch_size", "batch_size", "accumulate", "use_hflip", "use_rot", "mean", "std", "color",
              "num_worker_per_gpu", "dataset_enlarge_ratio", "pin_memory", "persistent_workers", "augmentation",
              "aug_prob", "queue_size")
# Real-ESRGAN's degradation keys, neosr's `[degradations]` table (read by `otf`).
DEGRADATION_KEYS = tuple(DATASET_DEFAULTS) + tuple(MODEL_DEFAULTS)
# dali_sr's own keys, accepted beside neosr's.
DALI_SR_KEYS = ("device", "device_id", "seed", "num_threads", "prefetch_queue_depth", "hw_decoder_load",
                "source_workers", "shuffle", "drop_last", "io_backend", "aug_multi_prob")
_FLIPS = ("use_hflip", "use_rot")  # neosr's datasets read both with default true
_LMDB_SIDES = {"paired": ("dataroot_gt", "dataroot_lq"), "otf": ("dataroot_gt",), "single": ("dataroot_lq",)}


def _is_section(section: Any) -> bool:
    return isinstance(section, dict) and section.get("type") in TYPES


def _detect(opts: Options) -> bool:
    """A dataset section of a neosr type, or a file whose `datasets` hold one."""
    if _is_section(opts):
        return True
    datasets = opts.get("datasets")
    return isinstance(datasets, dict) and any(_is_section(s) for s in datasets.values())


def _phase_of(name: object) -> str:
    return str(name).split("_")[0]


def _pick(opts: Options, phase: Optional[str], origin: str) -> tuple[dict, str]:
    """The section for `phase` (default `train`) and its phase."""
    datasets = opts["datasets"]
    want = phase or "train"
    name = want if want in datasets else next((k for k in datasets if _phase_of(k) == want), None)
    if name is None:
        raise ConfigError(f"{origin}: no [datasets.{want}] section (has: {', '.join(map(str, datasets))})")
    if not isinstance(datasets[name], dict):
        raise ConfigError(f"{origin}: [datasets.{name}] must be a table of dataset options")
    return dict(datasets[name]), _phase_of(name)


def _degradations(opts: Options, origin: str) -> dict:
    table = opts.get("degradations")
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise ConfigError(f"{origin}: 'degradations' must be a table ([degradations]) of degradation keys")
    check_keys(table, DEGRADATION_KEYS, f"{origin} [degradations]")
    return dict(table)


def _section(opts: Options, phase: Optional[str], origin: str) -> dict:
    if _is_section(opts):
        section, file_phase = dict(opts), phase or opts.get("phase") or "train"
    else:
        section, file_phase = _pick(opts, phase, origin)
        for key, target in (("scale", "scale"), ("manual_seed", "seed")):
            if opts.get(key) is not None and (key == "scale" or target not in section):
                section[target] = opts[key]
    kind = section.get("type")
    where = f"{origin} [{section.get('name') or kind}]"
    if kind not in TYPES:
        raise ConfigError(f"{where}: unknown neosr dataset type {kind!r}{closest(str(kind), TYPES)} (neosr's types: "
                          f"{', '.join(TYPES)})")
    valid = NEOSR_KEYS + DALI_SR_KEYS + (DEGRADATION_KEYS if kind == "otf" else ())
    check_keys(section, valid, where)
    degradations = _degradations(opts, origin)
    if file_phase == "train" and kind == "otf":
        section.update(degradations)  # neosr's train.py: dataset_opt.update(opt["degradations"])
    section["phase"] = file_phase
    for key in _FLIPS:
        section.setdefault(key, True)
    for key in ("dataroot_gt", "dataroot_lq"):
        if isinstance(section.get(key), str):
            section[key] = os.path.expanduser(section[key])
    if section.get("num_worker_per_gpu") == "auto":
        del section["num_worker_per_gpu"]  # neosr: os.cpu_count(); dali_sr picks its thread count itself
    if "io_backend" not in section:
        roots = [section.get(key) for key in _LMDB_SIDES[kind]]
        if all(isinstance(r, str) and r.endswith("lmdb") for r in roots):
            section["io_backend"] = {"type": "lmdb"}
    return section


def _model_keys(opts: Options, section: dict, keys: Sequence[str], origin: str) -> dict:
    """The section holds everything neosr's types read (`[degradations]` merged in by `section`)."""
    return section


DIALECT = Dialect("neosr option file", detect=_detect, section=_section, model_keys=_model_keys)
