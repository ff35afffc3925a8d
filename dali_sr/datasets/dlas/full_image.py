"""`FullImageDataset` (deprecated in DL-Art-School): its folder of full images read on dali_sr's GT-only path, a
random `target_size` patch of each image (flips with `use_flip` / `use_rot`) and its LQ by MATLAB's bicubic
`imresize` (DL-Art-School's `imresize_np`), yielded under DL-Art-School's keys. Its random tile sizes, its tile
augmentations and its own LQ folders are not provided: those keys are refused in one line."""
from __future__ import annotations

from dataclasses import make_dataclass
from typing import Any

from ...config import TypeOptions
from ...errors import ConfigError
from ...schema.fields import ANY, Field, integer, text
from ..kind import DatasetKind
from ..paired.index import build_paired_index
from ..paired.source import PairedSource
from .keys import check_target_size

# DL-Art-School keys dali_sr does not provide, with what they do there
_REFUSED = {"dataroot_LQ": "full LQ images to pull tiles from", "min_tile_size": "random tile sizes",
            "tile_scale_normal_stddev": "random tile sizes", "fixed_size": "random tile sizes",
            "use_blurring": "tile blurring", "blur_magnitude": "tile blurring",
            "use_compression_artifacts": "tile JPEG artifacts", "grayscale": "grayscale tiles",
            "lq_noise": "LQ noise"}
FULL_IMAGE_KEYS: dict[str, Field] = {
    "dataroot_GT": text(),  # the folder of full images
    "dataroot_GT_weights": Field((list,), None),
    "target_size": integer(1, 1 << 16, None, nullable=True),  # the GT patch side in training
    "force_multiple": integer(1, 1 << 16, 1),
    **{key: Field(ANY) for key in _REFUSED},
}
FullImageOptions = make_dataclass("FullImageOptions", [(key, object, None) for key in FULL_IMAGE_KEYS], frozen=True)
FullImageOptions.__module__ = __name__  # where pickle finds it (a Config travels to source worker processes)


def _prepare(v: dict, where: str) -> dict:
    """DL-Art-School's keys -> the GT-only keys: dataroot_GT -> dataroot_gt, target_size -> gt_size."""
    for key, what in _REFUSED.items():
        if v[key] is not None:
            raise ConfigError(f"{where}: FullImageDataset's '{key}' ({what}) is not available; remove it")
    for key in ("dataroot_gt", "dataroot_lq", "gt_size", "degradation"):
        if v[key] is not None:
            raise ConfigError(f"{where}: FullImageDataset does not read '{key}'; use dataroot_GT and target_size")
    if v["dataroot_GT"] is None:
        raise ConfigError(f"{where}: FullImageDataset needs 'dataroot_GT' (a folder of full images)")
    if v["dataroot_GT_weights"] not in (None, [1]):
        raise ConfigError(f"{where}: 'dataroot_GT_weights' repeats folders of a list of dataroot_GT; give one folder "
                          f"and remove it")
    if v["scale"] is None:
        raise ConfigError(f"{where}: missing 'scale' (the SR factor)")
    if v["force_multiple"] != 1 and v["phase"] not in (None, "train"):
        raise ConfigError(f"{where}: force_multiple cuts validation images to a multiple of scale x force_multiple, "
                          f"which is not available; remove it")
    check_target_size(v["target_size"], v["scale"], v["force_multiple"], where)
    v["dataroot_gt"], v["gt_size"] = v["dataroot_GT"], v["target_size"]
    return v


class FullImageSource(PairedSource):
    """The GT-only paired source, its batches under DL-Art-School's keys."""

    def collate(self, out: dict[str, Any]) -> dict[str, Any]:
        """`hq`, `lq`, `HQ_path`, `LQ_path` (the GT file: LQ is made from it)."""
        out = super().collate(out)
        return {"hq": out["gt"], "lq": out["lq"], "HQ_path": out["gt_path"], "LQ_path": out["gt_path"]}


FULL_IMAGE = DatasetKind(TypeOptions(FULL_IMAGE_KEYS, FullImageOptions, prepare=_prepare), build_paired_index,
                         FullImageSource)
