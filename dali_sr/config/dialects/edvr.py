"""Old EDVR option files (xinntao/EDVR before its BasicSR rewrite): `datasets:` sections whose `mode:` names the
dataset (`REDS`, `Vimeo90K`, `video_test`), with EDVR's key names, read as EDVR's `options.parse` and datasets read
them.

- `mode` selects the type; the section name gives the phase (`val_2` -> val); the top-level `scale` is every
  section's, and `train: {manual_seed}` seeds a section that sets no `seed`.
- `dataroot_GT` / `dataroot_LQ` (`~` expanded); a root ending in `lmdb` reads LMDBs, as EDVR's `data_type`.
- `GT_size` is the GT patch; `LQ_size` equal to it means same-size frames (EDVR's `HR_in`: deblurring,
  denoising), read with scale 1; else the LQ patch is `GT_size // scale`, as EDVR crops it.
- `N_frames` -> `num_frame`; `n_workers` (per GPU) -> `num_worker_per_gpu`; `batch_size` is EDVR's whole
  batch, divided among `WORLD_SIZE` processes as EDVR's distributed loader divides it.
- `color`: `RGB` and `gray` give RGB (EDVR's REDS, Vimeo90K and video_test datasets never read `color`: they
  always give RGB); `y` gives the BT.601 Y channel.
- `border_mode` is REDSDataset's own key (EDVR's one-sided windows from the key frame); the other modes ignore it,
  as EDVR's do.
- `cache_keys`: a pickle of the training keys (a list, or a dict with `keys` such as `meta_info.pkl`); a
  path that is absolute, relative to the option file, or inside `dataroot_GT`. Frames are always found in
  the data; the keys must be those frames (REDS: `clip_frame`), else the section is refused.
- `Vimeo90K` ignores `interval_list` and `random_reverse`, as EDVR's Vimeo90K dataset does.
- `video_test`'s `padding: new_info` is BasicSR's `reflection_circle`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Sequence

from ...errors import ConfigError, DatasetError
from ...storage.meta_files import read_lmdb_meta
from ...storage.plain_pickle import load_plain_pickle
from .dialect import Dialect, Options, phase_of, section_name

# EDVR's dataset modes -> the dali_sr type of each.
MODES = {"REDS": "REDSDataset", "Vimeo90K": "Vimeo90KDataset", "video_test": "VideoTestDataset"}

# EDVR key -> dali_sr key (`use_flip`, `use_rot`, `use_shuffle`, `interval_list`, `random_reverse`, `name`,
# `cache_data` and `padding` are dali_sr keys already).
_RENAMED = {"dataroot_GT": "dataroot_gt", "dataroot_LQ": "dataroot_lq", "N_frames": "num_frame",
            "n_workers": "num_worker_per_gpu"}
_PADDINGS = {"new_info": "reflection_circle"}  # EDVR's name -> BasicSR's
_COLORS = {"rgb": None, "gray": None, "y": "y"}  # gray: RGB, as EDVR's video datasets give it


def _is_section(section: Any) -> bool:
    return isinstance(section, dict) and str(section.get("mode", "")).removesuffix("_mc") in MODES


def _detect(opts: Options) -> bool:
    """An EDVR dataset section, or an option file with one under `datasets:`."""
    if _is_section(opts):
        return True
    datasets = opts.get("datasets")
    return isinstance(datasets, dict) and any(_is_section(s) for s in datasets.values())


def _pop(section: dict, key: str) -> Any:
    return section.pop(key) if key in section else None


def _sizes(section: dict, scale: Any, train: bool, where: str) -> Any:
    """`GT_size` / `LQ_size` -> `gt_size`; the scale the loader reads with (1 for EDVR's same-size frames)."""
    gt_size, lq_size = _pop(section, "GT_size"), _pop(section, "LQ_size")
    if gt_size is None:
        if train:
            raise ConfigError(f"{where}: training needs 'GT_size' (the GT patch, e.g. 256) and 'LQ_size'")
        return scale
    section["gt_size"] = gt_size
    if lq_size is not None and lq_size == gt_size:
        return 1  # EDVR's HR_in: LQ and GT frames of one size, one window
    if not isinstance(scale, int) or isinstance(scale, bool) or scale < 1:
        raise ConfigError(f"{where}: 'LQ_size' {lq_size} differs from 'GT_size' {gt_size}, so the top-level 'scale' "
                          f"must give the SR factor (got {scale!r}); set LQ_size to GT_size for same-size frames")
    if lq_size is not None and (not isinstance(gt_size, int) or lq_size * scale != gt_size):
        raise ConfigError(f"{where}: 'LQ_size' {lq_size} is neither 'GT_size' {gt_size} (same-size frames) nor "
                          f"GT_size / scale {scale} (EDVR crops GT_size // scale); fix LQ_size")
    return scale


def _color(section: dict, where: str) -> None:
    if "color" not in section:
        return
    value = section.pop("color")
    if value is not None and str(value).lower() not in _COLORS:
        raise ConfigError(f"{where}: color {value!r} is not RGB, y or gray (EDVR's values); use RGB or y")
    if value is not None and _COLORS[str(value).lower()] is not None:
        section["color"] = _COLORS[str(value).lower()]


def _batch(section: dict, where: str) -> None:
    """EDVR's `batch_size` is the whole batch; its distributed loader gives each process batch_size / world."""
    if section.get("batch_size") is None:
        section.pop("batch_size", None)
        return
    total = section.pop("batch_size")
    text = os.environ.get("WORLD_SIZE", "1").strip()
    world = int(text) if text.isdigit() and int(text) > 0 else 1
    if not isinstance(total, int) or isinstance(total, bool) or total % world:
        raise ConfigError(f"{where}: 'batch_size' {total!r} is EDVR's batch over all {world} processes "
                          f"(WORLD_SIZE) and must divide among them, as EDVR asserts; fix batch_size")
    section["batch_size_per_gpu"] = total // world


def _key_file(value: Any, section: dict, origin: str) -> Path:
    """Where `cache_keys` is: an absolute path, one relative to the option file, or one inside `dataroot_GT`."""
    path = Path(os.path.expanduser(str(value)))
    if path.is_absolute():
        candidates = [path]
    else:
        candidates = [Path(origin).parent / path] if os.path.isfile(origin) else []
        if section.get("dataroot_gt"):
            candidates.append(Path(section["dataroot_gt"]) / path)
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        tried = ", ".join(str(p) for p in candidates) or str(path)
        raise ConfigError(f"{origin}: cache_keys {value!r} not found (looked at {tried}); give its path (absolute, "
                          f"relative to the option file, or inside dataroot_GT), or remove cache_keys")
    return found


def _stored_keys(section: dict) -> Optional[set]:
    """The frame keys (`clip_frame`) of an LMDB `dataroot_gt`, or of REDS clip folders; None when unknown."""
    root = section.get("dataroot_gt")
    if not root or not os.path.isdir(root):
        return None
    if (Path(root) / "data.mdb").is_file():
        return {k.replace("/", "_") for k in read_lmdb_meta(root).keys}
    from ...storage.folders import folder_entries, image_names  # noqa: PLC0415 - only for folder datasets

    return {f"{e.name}_{os.path.splitext(n)[0]}" for e in folder_entries(root)
            if e.is_dir() and not e.name.startswith(".") for n in image_names(e.path)}


def _cache_keys(section: dict, origin: str, where: str) -> None:
    """Check `cache_keys` against the frames the data holds (REDS); the loader reads the frames from the data."""
    value = _pop(section, "cache_keys")
    if value is None:
        return
    path = _key_file(value, section, origin)
    try:
        data = load_plain_pickle(str(path))
    except DatasetError as e:
        raise ConfigError(f"{where}: cache_keys: {e}") from None
    keys = data.get("keys") if isinstance(data, dict) else data
    if not isinstance(keys, (list, tuple, set)) or not all(isinstance(k, str) for k in keys):
        raise ConfigError(f"{where}: cache_keys {path} holds no list of keys (expected a list, or a dict with 'keys' "
                          f"as meta_info.pkl); give EDVR's key file or remove cache_keys")
    if section.get("type") != "REDSDataset":
        return
    stored = _stored_keys(section)
    if stored is None:
        return
    listed = set(keys)
    absent, unlisted = sorted(listed - stored), sorted(stored - listed)
    if absent or unlisted:
        what = (f"lists {absent[0]!r}, which dataroot_GT does not hold" if absent else
                f"leaves out {unlisted[0]!r}, which dataroot_GT holds")
        raise ConfigError(f"{where}: cache_keys {path} {what}; the loader samples every frame of the data, so the "
                          f"keys must be its frames: remove cache_keys, or point it at the data's meta_info.pkl")


def translate(dataset: Options, scale: Any, origin: str, where: str) -> dict:
    """One EDVR dataset section as dali_sr keys (see the module doc)."""
    section = dict(dataset)
    mode = str(section.pop("mode"))
    if mode.endswith("_mc"):
        raise ConfigError(f"{where}: mode {mode!r} reads EDVR's memcached cluster; use mode {mode[:-3]!r} with "
                          f"dataroots (or io_backend type memcached)")
    if section.get("type") not in (None, MODES[mode]):
        raise ConfigError(f"{where}: mode {mode!r} is type {MODES[mode]} but type is {section['type']!r}; keep one "
                          f"of them")
    section["type"] = MODES[mode]
    train = section.get("phase", "train") == "train"
    for old, new in _RENAMED.items():
        if old in section:
            if new in section:
                raise ConfigError(f"{where}: both '{old}' (EDVR's) and '{new}' are given; keep one of them")
            section[new] = section.pop(old)
    for key in ("dataroot_gt", "dataroot_lq"):
        if isinstance(section.get(key), str):
            section[key] = os.path.expanduser(section[key])
    if "io_backend" not in section and any(str(section.get(k) or "").endswith("lmdb")
                                            for k in ("dataroot_gt", "dataroot_lq")):
        section["io_backend"] = {"type": "lmdb"}  # EDVR's data_type
    if section["type"] != "REDSDataset" or section.get("border_mode") is None:
        section.pop("border_mode", None)  # read by EDVR's REDS dataset only
    if section["type"] == "Vimeo90KDataset":  # EDVR's Vimeo90K dataset reads neither: no reverse, no interval
        section.pop("interval_list", None)
        section.pop("random_reverse", None)
    if section.get("padding") in _PADDINGS:
        section["padding"] = _PADDINGS[section["padding"]]
    section["scale"] = _sizes(section, scale, train and section["type"] != "VideoTestDataset", where)
    _color(section, where)
    _batch(section, where)
    _cache_keys(section, origin, where)
    return section


def _section(opts: Options, phase: Optional[str], origin: str) -> dict:
    datasets = opts.get("datasets")
    scale = opts.get("scale")
    if _is_section(opts) or not isinstance(datasets, dict):
        section = dict(opts)
        if phase is not None:
            section["phase"] = phase
        return translate(section, section.pop("scale", scale), origin, origin)
    name = section_name(datasets, phase)
    if name is None:
        raise ConfigError(f"{origin}: no dataset for phase '{phase or 'train'}' under 'datasets' (has: "
                          f"{', '.join(map(str, datasets))})")
    section = dict(datasets[name] or {})
    where = f"{origin} [datasets.{name}]"
    if not _is_section(section):
        raise ConfigError(f"{where}: mode {section.get('mode')!r} is not one of EDVR's video modes "
                          f"({', '.join(MODES)}); give one of them")
    section["phase"] = phase_of(name)  # as EDVR's options.parse sets it
    train_opts = opts.get("train")
    if "seed" not in section and isinstance(train_opts, dict) and train_opts.get("manual_seed") is not None:
        section["seed"] = train_opts["manual_seed"]
    return translate(section, scale, origin, where)


def _model_keys(opts: Options, section: dict, keys: Sequence[str], origin: str) -> dict:
    """EDVR's datasets read nothing outside their section but the scale and the seed."""
    return section


DIALECT = Dialect("EDVR option file", detect=_detect, section=_section, model_keys=_model_keys)
