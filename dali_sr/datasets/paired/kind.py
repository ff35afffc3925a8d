"""`PairedImageDataset` (BasicSR's paired images, with only the common keys), `RealESRGANDataset`
(GT only; LQ made by Real-ESRGAN's degradation model, read from an option file's keys) and `FFHQDataset`
(GT alone, as BasicSR's for StyleGAN2: whole images, `use_hflip`, mean/std)."""
from __future__ import annotations

from dataclasses import make_dataclass, replace

from ...config import Config, TypeOptions
from ...degrade.realesrgan import (CROP_PAD_SIZE, DATASET_DEFAULTS, MODEL_DEFAULTS, MODELS, USM_KEYS,
                                   realesrgan_chain, usm_semantics)
from ...errors import ConfigError
from ...schema.fields import ANY, NONE, Field, flag, text
from ..kind import DatasetKind
from .index import build_paired_index
from .source import PairedSource

PAIRED = DatasetKind(TypeOptions(many_windows=True), build_paired_index, PairedSource)

_REALESRGAN_KEYS = {
    "meta_info": text(),  # RealESRGANDataset's name of meta_info_file
    **{key: Field(ANY) for key in (*DATASET_DEFAULTS, *MODEL_DEFAULTS)},  # checked by the chain, naming the key
    **{key: Field((bool, NONE)) for key in USM_KEYS},
    "model_type": text(),
    "queue_size": Field((int, NONE), None, lambda v: v > 0, "a positive integer"),
    "high_order_degradation": flag(True),
}
# RealESRGANDataset's keys as given (None: Real-ESRGAN x4plus's value): `Config.options` of the type.
RealESRGANOptions = make_dataclass("RealESRGANOptions", [(key, object, None) for key in _REALESRGAN_KEYS],
                                   frozen=True)
RealESRGANOptions.__module__ = __name__  # where pickle finds it (a Config travels to source worker processes)
_MODEL_KEYS = tuple(MODEL_DEFAULTS) + USM_KEYS + ("model_type", "queue_size", "high_order_degradation", "gt_size")


def _prepare_realesrgan(v: dict, where: str) -> dict:
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
    sharpen_input = usm_semantics(v)[0]
    v["degradation"] = realesrgan_chain({k: v[k] for k in (*DATASET_DEFAULTS, *MODEL_DEFAULTS)}, v["scale"],
                                        sharpen_input, where)
    v["crop_pad_size"] = v["crop_pad_size"] or CROP_PAD_SIZE
    return v


def _finish_realesrgan(cfg: Config, where: str) -> Config:
    """The model's GT outputs: GT sharpened itself (RealESRNetModel with gt_usm) or a sharpened GT patch beside
    the plain GT (RealESRGANModel's losses)."""
    _, sharpen_gt, gt_usm = usm_semantics(vars(cfg.options))
    if cfg.color == "y" and (sharpen_gt or gt_usm):
        raise ConfigError(f"{where}: color: y is not available with sharpened GT outputs; remove 'color'")
    return replace(cfg, sharpen_gt=sharpen_gt, gt_usm=gt_usm)


REALESRGAN = DatasetKind(TypeOptions(_REALESRGAN_KEYS, RealESRGANOptions, model_keys=_MODEL_KEYS,
                                     prepare=_prepare_realesrgan, finish=_finish_realesrgan),
                         build_paired_index, PairedSource)


def _prepare_ffhq(v: dict, where: str) -> dict:
    """BasicSR's FFHQDataset: GT alone, so no LQ keys; `scale` is 1 unless given."""
    for key in ("dataroot_lq", "degradation"):
        if v[key] is not None:
            raise ConfigError(f"{where}: FFHQDataset yields GT images alone; remove '{key}' (for SR pairs use "
                              f"PairedImageDataset)")
    if v["scale"] is None:
        v["scale"] = 1
    return v


FFHQ = DatasetKind(TypeOptions(needs_gt_size=False, makes_lq=False, prepare=_prepare_ffhq), build_paired_index,
                   PairedSource)
