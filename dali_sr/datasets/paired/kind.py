"""`PairedImageDataset` (BasicSR's paired images, with only the common keys), `RealESRGANDataset`
(GT only; LQ made by Real-ESRGAN's degradation model, read from an option file's keys) and `FFHQDataset`
(GT alone, as BasicSR's for StyleGAN2: whole images, `use_hflip`, mean/std)."""
from __future__ import annotations

from typing import Any

from ...config import Option, TypeOptions
from ...degrade.realesrgan import (CROP_PAD_SIZE, DATASET_DEFAULTS, MODEL_DEFAULTS, MODELS, USM_KEYS,
                                   realesrgan_chain, usm_semantics)
from ...errors import ConfigError
from ..kind import DatasetKind
from .index import build_paired_index
from .source import PairedSource

PAIRED = DatasetKind(TypeOptions(), build_paired_index, PairedSource)

_ANY = (int, float, bool, str, list, tuple, type(None))  # checked by the chain's own validation, naming the key
_MODEL_KEYS = tuple(MODEL_DEFAULTS) + USM_KEYS + ("model_type", "queue_size", "high_order_degradation", "gt_size")
_REALESRGAN_OPTIONS = {
    "meta_info": Option((str, type(None)), None),  # RealESRGANDataset's name of meta_info_file
    **{key: Option(_ANY, None) for key in DATASET_DEFAULTS},
    **{key: Option(_ANY, None) for key in MODEL_DEFAULTS},
    **{key: Option((bool, type(None)), None) for key in USM_KEYS},
    "model_type": Option((str, type(None)), None),
    "queue_size": Option((int, type(None)), None, lambda v: v is None or v > 0, "a positive integer"),
    "high_order_degradation": Option((bool,), True),
}


def _prepare_realesrgan(v: dict, where: str) -> tuple[dict, dict]:
    """Real-ESRGAN's keys -> the common ones: GT only, its chain as `degradation`, 400 x 400 windows."""
    for key, why in (("dataroot_lq", "makes its LQ from GT"), ("degradation", "builds its degradation from the "
                     "Real-ESRGAN keys; for a chain of your own use PairedImageDataset with a degradation list")):
        if v[key] is not None:
            raise ConfigError(f"{where}: RealESRGANDataset {why}; remove '{key}'")
    if not v["high_order_degradation"]:
        raise ConfigError(f"{where}: high_order_degradation: false trains on stored pairs; use PairedImageDataset "
                          f"with dataroot_lq")
    if v["phase"] not in (None, "train"):
        raise ConfigError(f"{where}: RealESRGANDataset is for training; validate with PairedImageDataset")
    if v["model_type"] is not None and v["model_type"] not in MODELS:
        raise ConfigError(f"{where}: model_type {v['model_type']!r} is not one whose degradation dali_sr knows "
                          f"({', '.join(MODELS)})")
    if v["meta_info"] is not None:
        if v["meta_info_file"] is not None:
            raise ConfigError(f"{where}: give 'meta_info' (RealESRGANDataset's name) or 'meta_info_file', not both")
        v["meta_info_file"] = v["meta_info"]
    if v["scale"] is None:
        raise ConfigError(f"{where}: missing 'scale' (the SR factor; 1 for restoration)")
    sharpen_input, sharpen_gt, gt_usm = usm_semantics(v)
    if v["color"] == "y" and (sharpen_gt or gt_usm):
        raise ConfigError(f"{where}: color: y is not available with sharpened GT outputs; remove 'color'")
    v["degradation"] = realesrgan_chain({k: v[k] for k in (*DATASET_DEFAULTS, *MODEL_DEFAULTS)}, v["scale"],
                                        sharpen_input, where)
    v["crop_pad_size"] = v["crop_pad_size"] or CROP_PAD_SIZE
    extra: dict[str, Any] = {"sharpen_gt": sharpen_gt, "gt_usm": gt_usm}
    return v, extra


REALESRGAN = DatasetKind(TypeOptions(_REALESRGAN_OPTIONS, option_file_keys=_MODEL_KEYS, prepare=_prepare_realesrgan),
                         build_paired_index, PairedSource)


def _prepare_ffhq(v: dict, where: str) -> tuple[dict, dict]:
    """BasicSR's FFHQDataset: GT alone, so no LQ keys; `scale` is 1 unless given."""
    for key in ("dataroot_lq", "degradation"):
        if v[key] is not None:
            raise ConfigError(f"{where}: FFHQDataset yields GT images alone; remove '{key}' (for SR pairs use "
                              f"PairedImageDataset)")
    if v["scale"] is None:
        v["scale"] = 1
    return v, {}


FFHQ = DatasetKind(TypeOptions(needs_gt_size=False, makes_lq=False, prepare=_prepare_ffhq), build_paired_index,
                   PairedSource)
