"""From a dataset section's checked keys to a `Config`: the rules between keys (flips, normalization, patch and
batch sizes, how LQ is made, phase defaults) and the settings taken from the environment and `io_backend`."""
from __future__ import annotations

from typing import Any, Collection, Mapping, Optional

from ..degrade.chain import Chain, parse_chain
from ..errors import ConfigError
from ..storage.io_options import read_io_backend
from .common import MAX_BATCH_PIXELS
from .dataset import Config
from .environment import default_threads, local_rank
from .types import TypeOptions


def _hflip(given: Collection[str], v: Mapping[str, Any], where: str) -> bool:
    """`use_hflip`, or BasicSR's old name `use_flip`; giving both with different values is a conflict."""
    if "use_hflip" in given and v["use_flip"] is not None and v["use_flip"] != v["use_hflip"]:
        raise ConfigError(f"{where}: 'use_flip' ({v['use_flip']}) and 'use_hflip' ({v['use_hflip']}) disagree; "
                          f"use_flip is BasicSR's old name of use_hflip, keep one of them")
    return v["use_hflip"] if "use_hflip" in given or v["use_flip"] is None else v["use_flip"]


def _normalization(v: Mapping[str, Any], where: str) -> tuple[Optional[tuple], Optional[tuple]]:
    """`mean` and `std` as float tuples: both or neither, one value or one per output channel."""
    mean, std = v["mean"], v["std"]
    if (mean is None) != (std is None):
        raise ConfigError(f"{where}: give both 'mean' and 'std' or neither")
    channels = 1 if v["color"] == "y" else 3
    for key, values in (("mean", mean), ("std", std)):
        if values is not None and len(values) not in (1, channels):
            raise ConfigError(f"{where}: '{key}' needs {channels} values for color {v['color'] or 'rgb'}, got "
                              f"{len(values)}")
    floats = (lambda values: tuple(float(x) for x in values) if values is not None else None)
    return floats(mean), floats(std)


def _check_gt_size(v: Mapping[str, Any], train: bool, spec: TypeOptions, where: str) -> None:
    if train and v["gt_size"] is None and spec.needs_gt_size:
        raise ConfigError(f"{where}: training needs 'gt_size' (GT patch size, e.g. 128)")
    if v["gt_size"] is not None and train and v["gt_size"] % v["scale"]:
        raise ConfigError(f"{where}: 'gt_size' {v['gt_size']} is not a multiple of scale {v['scale']}")


def _check_batch_pixels(batch: int, v: Mapping[str, Any], where: str) -> None:
    """One training batch of `batch` GT windows (`crop_pad_size`, else `gt_size`) must stay within
    `MAX_BATCH_PIXELS`."""
    key = "crop_pad_size" if v["crop_pad_size"] is not None else "gt_size"
    side = v[key]
    if side is not None and batch * side * side > MAX_BATCH_PIXELS:
        raise ConfigError(f"{where}: batch_size_per_gpu {batch} x {key} {side}x{side} is {batch * side * side} GT "
                          f"pixels per batch, above the limit of 2**32; lower batch_size_per_gpu or {key}")


def _prefetch_depth(given: Collection[str], v: Mapping[str, Any], train: bool, where: str) -> int:
    """DALI's prefetch depth: `prefetch_queue_depth`, else BasicSR's `num_prefetch_queue`, else 2. A training
    section with `prefetch_mode: cuda` needs `pin_memory: true`, the rule of BasicSR's train.py."""
    if train and v["prefetch_mode"] == "cuda" and v["pin_memory"] is not True:
        raise ConfigError(f"{where}: prefetch_mode cuda needs pin_memory: true (BasicSR refuses it without); set "
                          f"pin_memory: true, or use prefetch_mode cpu or ~ (the same batches here)")
    if "prefetch_queue_depth" not in given and v["num_prefetch_queue"] is not None:
        return v["num_prefetch_queue"]
    return v["prefetch_queue_depth"]


def _degradation(v: Mapping[str, Any], train: bool, where: str) -> Optional[Chain]:
    """How LQ is made: None with `dataroot_lq` (stored LQ), else `degradation`, by default bicubic.

    A list of steps (random degradations) is for training; validation and test take bicubic or stored LQ,
    so every pass sees the same LQ."""
    if v["dataroot_lq"] and v["degradation"]:
        raise ConfigError(f"{where}: 'degradation' makes LQ from GT, but 'dataroot_lq' gives stored LQ; remove one "
                          f"of them")
    if v["dataroot_lq"]:
        return None
    value = v["degradation"] or "bicubic"
    chain = value if isinstance(value, Chain) else parse_chain(value, v["scale"], where)
    if not train and not chain.is_bicubic:
        raise ConfigError(f"{where}: a degradation list draws new LQ on every pass, so it is for training; "
                          f"validate on stored LQ (dataroot_lq, e.g. made by dali-sr downscale) or 'bicubic'")
    return chain


def _crop_pad_size(v: Mapping[str, Any], chain: Optional[Chain], train: bool, where: str) -> Optional[int]:
    """The window a chain degrades before the `gt_size` crop (None: the `gt_size` window itself)."""
    size = v["crop_pad_size"]
    if size is None:
        return None
    if chain is None or chain.is_bicubic or not train:
        raise ConfigError(f"{where}: 'crop_pad_size' is the window a degradation list degrades in training; remove "
                          f"it, or give a degradation list")
    if size < v["gt_size"] or size % v["scale"]:
        raise ConfigError(f"{where}: 'crop_pad_size' {size} must be at least gt_size {v['gt_size']} and a multiple "
                          f"of scale {v['scale']}")
    return None if size == v["gt_size"] else size


def _patches_per_image(v: Mapping[str, Any], train: bool, spec: TypeOptions, where: str) -> int:
    """`patches_per_image`: windows per decoded image, for the training windows of the image types that cut them."""
    n = v["patches_per_image"]
    if n > 1 and not spec.many_windows:
        raise ConfigError(f"{where}: type {v['type']} does not take 'patches_per_image' (PairedImageDataset does, "
                          f"paired or GT only); remove it")
    if n > 1 and not train:
        raise ConfigError(f"{where}: 'patches_per_image' cuts several training windows per image; remove it outside "
                          f"phase train")
    return n


def _first_given(*values: Any) -> Any:
    """The first of `values` that is not None."""
    return next((x for x in values if x is not None), None)


def build_config(v: Mapping[str, Any], given: Collection[str], spec: TypeOptions, options: Any,
                 where: str) -> Config:
    """The `Config` of checked and prepared keys `v` (`given`: the keys the section set; `options`: the type's
    typed options), finished by the type's own last step."""
    if v["scale"] is None:
        raise ConfigError(f"{where}: missing 'scale' (the SR factor; 1 for restoration)")
    phase = v["phase"] or "train"
    train = phase == "train"
    use_hflip = _hflip(given, v, where)
    mean, std = _normalization(v, where)
    _check_gt_size(v, train, spec, where)
    batch_size = v["batch_size_per_gpu"] or (16 if train else 1)
    if train:
        _check_batch_pixels(batch_size, v, where)
    degradation = _degradation(v, train, where) if spec.makes_lq else None
    device_id = v["device_id"] if v["device_id"] is not None else local_rank(where)
    io_backend, io_options = read_io_backend(v["io_backend"], where)
    if io_options.patch_shape is not None and io_options.patch_shape[2] == 1 and v["color"] != "y":
        raise ConfigError(f"{where}: io_backend.patch_shape {list(io_options.patch_shape)} holds one-channel Y "
                          f"patches; set color: y")
    cfg = Config(
        type=v["type"], phase=phase, name=v["name"] or v["type"], scale=v["scale"],
        dataroot_gt=v["dataroot_gt"], dataroot_lq=v["dataroot_lq"], meta_info_file=v["meta_info_file"],
        filename_tmpl=v["filename_tmpl"], io_backend=io_backend, io_options=io_options,
        gt_size=v["gt_size"], use_hflip=use_hflip, use_rot=v["use_rot"], use_vflip=v["use_vflip"],
        mean=mean, std=std, color="y" if v["color"] == "y" else None, batch_size=batch_size,
        dataset_enlarge_ratio=v["dataset_enlarge_ratio"] if train else 1,
        device=v["device"], device_id=device_id,
        seed=v["seed"], num_threads=v["num_threads"] or v["num_worker_per_gpu"] or default_threads(),
        prefetch_queue_depth=_prefetch_depth(given, v, train, where), hw_decoder_load=float(v["hw_decoder_load"]),
        source_workers=v["source_workers"], shuffle=_first_given(v["shuffle"], v["use_shuffle"], train),
        drop_last=_first_given(v["drop_last"], train), degradation=degradation,
        crop_pad_size=_crop_pad_size(v, degradation, train, where),
        patches_per_image=_patches_per_image(v, train, spec, where), options=options,
    )
    return spec.finish(cfg, where)
