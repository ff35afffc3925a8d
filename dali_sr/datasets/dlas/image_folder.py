"""`ImageFolderDataset`: DL-Art-School's folders of whole images; each image cut (`center_crop_hq_sz`, the centre
square with `force_square`), flipped (unless `disable_flip`), resized to `target_size` (INTER_AREA), cut to a
multiple of `scale` x `force_multiple`, and its LQ made by DL-Art-School's corruption chain."""
from __future__ import annotations

from dataclasses import make_dataclass, replace

from ...config import Config, TypeOptions
from ...degrade.dlas import CORRUPTION_KEYS, corruption_chain
from ...errors import ConfigError
from ...schema.fields import Field, choice, flag, integer
from ..kind import DatasetKind
from .folder_index import FolderIndex, build_folder_index
from .folder_source import FolderSource
from .keys import SHARED_KEYS, check_target_size

# DL-Art-School's `normalize` names -> (mean, std) of torchvision's Normalize
NORMALIZE = {"stylegan2_norm": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
             "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))}

FOLDER_KEYS: dict[str, Field] = {
    **SHARED_KEYS,
    "force_square": flag(True),  # the centre square of each image
    "center_crop_hq_sz": integer(1, 1 << 16, None, nullable=True),  # first, a centre crop of this side
    "disable_flip": flag(False),  # else a horizontal flip with probability 1/2
    "normalize": choice(tuple(NORMALIZE), None, nullable=True),
    "rgb_n1_to_1": flag(False),  # x * 2 - 1 after normalizing
    "skip_lq": flag(False),  # HQ alone
    "all_image_color_jitter": Field((int, float), 0, lambda v: v >= 0, "a non-negative number"),
    "fetch_alt_image": flag(False),
    "fetch_alt_tiled_image": flag(False),
    "labeler": Field((dict,), None),
    "fixed_parameters": Field((dict,), None),
}
ImageFolderOptions = make_dataclass("ImageFolderOptions", [(key, object, None) for key in FOLDER_KEYS], frozen=True)
ImageFolderOptions.__module__ = __name__  # where pickle finds it (a Config travels to source worker processes)

# keys of DL-Art-School's ImageFolderDataset dali_sr does not provide, with what to do instead
_REFUSED = {
    "all_image_color_jitter": "HQ colour jitter is not available; remove it or set it to 0",
    "fetch_alt_tiled_image": "another tile of the same image as alt_hq is not available; remove it",
    "labeler": "patch labels are not available; remove it",
    "fixed_parameters": "fixed per-sample tensors are not available; add them to the batch in your training loop",
}
# BasicSR keys whose job ImageFolderDataset's own keys do
_INSTEAD = {"dataroot_gt": "paths", "dataroot_lq": "paths (LQ is made from HQ) or skip_lq",
            "degradation": "fixed_corruptions / random_corruptions", "gt_size": "target_size",
            "use_hflip": "disable_flip", "use_flip": "disable_flip", "use_rot": "disable_flip",
            "use_vflip": "disable_flip"}


def _prepare(v: dict, where: str) -> dict:
    """Refuse what the type does not read or provide; `normalize` -> mean / std."""
    for key, remedy in _REFUSED.items():
        if v[key]:
            raise ConfigError(f"{where}: ImageFolderDataset's '{key}': {remedy}")
    for key, instead in _INSTEAD.items():
        if v[key]:
            raise ConfigError(f"{where}: ImageFolderDataset does not read '{key}'; use {instead}")
    if v["eval"]:
        raise ConfigError(f"{where}: ImageFolderDataset does not read 'eval'; remove it (skip_lq yields HQ alone)")
    if v["paths"] is None:
        raise ConfigError(f"{where}: ImageFolderDataset needs 'paths' (a folder of images, or a list of them)")
    if v["scale"] is None:
        raise ConfigError(f"{where}: missing 'scale' (HQ side / LQ side; 1 for LQ of the HQ's size)")
    check_target_size(v["target_size"], v["scale"], v["force_multiple"], where)
    if v["fetch_alt_image"] and v["target_size"] is None:
        raise ConfigError(f"{where}: fetch_alt_image needs 'target_size' (the next frame is resized whole to it)")
    if v["fetch_alt_image"] and v["fetch_alt_tiled_image"]:
        raise ConfigError(f"{where}: give fetch_alt_image or fetch_alt_tiled_image, not both")
    if v["normalize"] is not None:
        if v["mean"] is not None or v["std"] is not None:
            raise ConfigError(f"{where}: give 'normalize' or 'mean' / 'std', not both")
        v["mean"], v["std"] = (list(x) for x in NORMALIZE[v["normalize"]])
    return v


def _finish(cfg: Config, where: str) -> Config:
    """LQ: the corruption chain of the options (None with skip_lq)."""
    if cfg.color == "y":
        raise ConfigError(f"{where}: ImageFolderDataset yields RGB; remove 'color'")
    options = cfg.options
    if options.skip_lq:
        return cfg
    chain = corruption_chain({key: getattr(options, key) for key in CORRUPTION_KEYS}, cfg.scale, where)
    return replace(cfg, degradation=chain)


def build_index(cfg: Config) -> FolderIndex:
    """The images of the config's `paths`, repeated by `weights`."""
    return build_folder_index(cfg.name, cfg.options.paths, cfg.options.weights)


IMAGE_FOLDER = DatasetKind(TypeOptions(FOLDER_KEYS, ImageFolderOptions, needs_gt_size=False, makes_lq=False,
                                       prepare=_prepare, finish=_finish), build_index, FolderSource)
