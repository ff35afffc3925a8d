"""DL-Art-School option dicts: a dataset dict whose `mode:` (or `type:`, its class name) names its dataset, or a
whole option file whose `datasets:` sections do. `mode:` selects the `type:`, and the loader keys DL-Art-School's
`create_dataloader` reads (`batch_size`, `n_workers`) are renamed to dali_sr's."""
from __future__ import annotations

from typing import Any, Optional, Sequence

from ...errors import ConfigError
from .dialect import Dialect, Options, phase_of, section_name

# DL-Art-School's image dataset modes -> the dali_sr type of each (its class name in DL-Art-School).
MODES = {
    "single_image_extensible": "SingleImageDataset",
    "multi_frame_extensible": "MultiFrameDataset",
    "imagefolder": "ImageFolderDataset",
    "stylegan2": "Stylegan2Dataset",
    "multiscale": "MultiScaleDataset",
    "torch_dataset": "TorchDataset",
    "fullimage": "FullImageDataset",
}

# DL-Art-School loader key -> dali_sr key. `pin_memory`, `name` and `phase` are dali_sr keys already.
_RENAMED = {"batch_size": "batch_size_per_gpu", "n_workers": "num_worker_per_gpu"}


def _sections(opts: Options) -> Optional[dict]:
    """The `datasets:` mapping of a whole option file, or None."""
    datasets = opts.get("datasets")
    return datasets if isinstance(datasets, dict) else None


def _is_dataset(section: Any) -> bool:
    """A DL-Art-School dataset dict: it has `mode:`, or a `type:` that is one of its dataset classes."""
    return isinstance(section, dict) and ("mode" in section or section.get("type") in MODES.values())


def _detect(opts: Options) -> bool:
    """A dataset dict of DL-Art-School's, or an option file with one under `datasets:`."""
    if _is_dataset(opts):
        return True
    datasets = _sections(opts)
    return datasets is not None and any(_is_dataset(s) for s in datasets.values())


def _type_of(mode: Any, given: Any, where: str) -> str:
    """The `type:` that `mode:` selects; a `type:` given beside it must be the same."""
    if mode not in MODES:
        raise ConfigError(f"{where}: DL-Art-School mode {mode!r} is not supported; supported modes: "
                          f"{', '.join(MODES)}")
    if given is not None and given != MODES[mode]:
        raise ConfigError(f"{where}: mode {mode!r} is type {MODES[mode]} but type is {given!r}; keep one of them")
    return MODES[mode]


def translate(dataset: Options, where: str) -> dict:
    """One DL-Art-School dataset dict as dali_sr keys: `mode` -> `type`, the loader keys renamed, and a null
    `batch_size` outside training (DL-Art-School's `batch_size or 1`) read as 1."""
    section = dict(dataset)
    if "mode" in section:
        section["type"] = _type_of(section.pop("mode"), section.get("type"), where)
    if "batch_size" in section and section["batch_size"] is None and section.get("phase", "train") != "train":
        section["batch_size"] = 1
    for old, new in _RENAMED.items():
        if old in section:
            if new in section:
                raise ConfigError(f"{where}: both '{old}' (DL-Art-School's) and '{new}' are given; keep one of them")
            section[new] = section.pop(old)
    return section


def _section(opts: Options, phase: Optional[str], origin: str) -> dict:
    datasets = _sections(opts)
    if datasets is None or _is_dataset(opts):
        section = dict(opts)
        if phase is not None:
            section["phase"] = phase
        return translate(section, origin)
    name = section_name(datasets, phase)
    if name is None:
        raise ConfigError(f"{origin}: no dataset for phase '{phase or 'train'}' under 'datasets' (has: "
                          f"{', '.join(map(str, datasets))})")
    section = dict(datasets[name] or {})
    section["phase"] = phase_of(name)  # as DL-Art-School's option parser sets it
    return translate(section, origin)


def _model_keys(opts: Options, section: dict, keys: Sequence[str], origin: str) -> dict:
    """DL-Art-School's datasets read nothing outside their own dict."""
    return section


DIALECT = Dialect("DL-Art-School option dict", detect=_detect, section=_section, model_keys=_model_keys)
