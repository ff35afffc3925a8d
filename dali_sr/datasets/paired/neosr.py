"""neosr's dataset types, by its names: `paired` (stored LQ/GT pairs), `otf` (GT only; LQ made by its
Real-ESRGAN-style degradation, from the `[degradations]` keys) and `single` (LQ images alone, whole).

Their keys as neosr reads them: `patch_size` is the LQ patch (GT = `patch_size` x `scale`), `batch_size` the
batch per GPU, `accumulate` the trainer's gradient accumulation (kept in `Config.options`, the loader does not
read it), `augmentation` / `aug_prob` its batch augmentations (`mixing`). Outside training neosr crops nothing
and reads one image per batch, so `patch_size` and `batch_size` are not read there.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, make_dataclass
from typing import Any

import numpy as np

from ...config import Config, TypeOptions
from ...config.common import MAX_BATCH_SIZE, MAX_PATCH_SIDE
from ...degrade.realesrgan import DATASET_DEFAULTS, MODEL_DEFAULTS, realesrgan_chain
from ...errors import ConfigError
from ...schema.fields import ANY, NONE, Field, integer, text
from ..kind import DatasetKind
from ..outputs import SourceOutputs
from ..plan import EpochPlan
from ..source import Batch
from . import mixing
from .index import build_paired_index
from .source import PairedSource

DEGRADATION_KEYS = tuple(DATASET_DEFAULTS) + tuple(MODEL_DEFAULTS)  # neosr's otf reads every one of them
OTF_CROP_PAD_SIZE = 512  # neosr's otf dataset crops (or pads) every GT to 512 x 512 before degrading
OTF_KERNEL_SIZE = 21  # neosr's otf draws kernel sizes 7 to 21 whatever `blur_kernel_size` says

_KEYS = {
    "patch_size": integer(1, MAX_PATCH_SIDE, nullable=True),
    "batch_size": integer(1, MAX_BATCH_SIZE, nullable=True),
    "accumulate": integer(1, 2 ** 20, 1),
    "augmentation": Field((list, NONE)),  # checked by mixing.parse_mixing, naming the key
    "aug_prob": Field((list, NONE)),
    "aug_multi_prob": Field((int, float), mixing.MULTI_PROB),  # dali_sr's: neosr's fixed multi_prob
    "meta_info": text(),
}
_OTF_KEYS = {**_KEYS, "queue_size": Field((int, NONE), None, lambda v: v > 0, "a positive integer"),
             **{key: Field(ANY) for key in DEGRADATION_KEYS}}  # checked by the chain, naming the key


def _options(name: str, keys: dict) -> type:
    cls = make_dataclass(name, [(key, object, None) for key in keys], frozen=True)
    cls.__module__ = __name__  # where pickle finds it, under `name` (a Config travels to source worker processes)
    return cls


PairedOptions = _options("PairedOptions", _KEYS)
OtfOptions = _options("OtfOptions", _OTF_KEYS)


def _sizes(v: dict, where: str) -> dict:
    """`patch_size` (LQ) -> `gt_size`, `batch_size` -> `batch_size_per_gpu`, in training; both required there."""
    if v["phase"] not in (None, "train"):
        return v
    for key in ("patch_size", "batch_size"):
        if v[key] is None:
            raise ConfigError(f"{where}: training needs '{key}'"
                              + (" (the LQ patch side; GT patches are patch_size x scale)" if key == "patch_size"
                                 else " (samples per GPU)"))
    v["gt_size"] = v["patch_size"] * v["scale"]
    v["batch_size_per_gpu"] = v["batch_size"]
    if v["augmentation"] is not None:
        mixing.parse_mixing(v["augmentation"], v["aug_prob"], v["aug_multi_prob"], where)
        if v["batch_size"] < 2 and tuple(v["augmentation"]) != ("none",):
            raise ConfigError(f"{where}: 'augmentation' mixes the samples of a batch; it needs batch_size 2 or "
                              f"more (neosr refuses batch 1 too)")
    return v


def _need_scale(v: dict, where: str) -> None:
    if v["scale"] is None:
        raise ConfigError(f"{where}: missing 'scale' (neosr's top-level scale, the SR factor)")


def _prepare_paired(v: dict, where: str) -> dict:
    """neosr's `paired`: a list file only when `meta_info` is set, read from `meta_info_file` (neosr's own
    test of the one and read of the other); `meta_info_file` alone is not read (neosr scans the folders)."""
    _need_scale(v, where)
    if v["dataroot_lq"] is None:
        raise ConfigError(f"{where}: type paired reads stored LQ from 'dataroot_lq'; give it (or use type otf to "
                          f"make LQ from GT)")
    if v["degradation"] is not None:
        raise ConfigError(f"{where}: type paired trains on stored LQ; remove 'degradation'")
    if v["meta_info"] is not None and v["meta_info_file"] is None:
        raise ConfigError(f"{where}: with 'meta_info' set, neosr's paired reads the list from 'meta_info_file'; "
                          f"give meta_info_file (the list of GT names)")
    if v["meta_info"] is None:
        v["meta_info_file"] = None
    return _sizes(v, where)


def _prepare_otf(v: dict, where: str) -> dict:
    """neosr's `otf`: GT only, the list from `meta_info` (not `meta_info_file`), 512 x 512 windows degraded by
    the `[degradations]` keys (all required, as neosr reads each), no sharpening."""
    _need_scale(v, where)
    for key, why in (("dataroot_lq", "makes its LQ from GT (neosr refuses dataroot_lq too); use type paired"),
                     ("degradation", "builds its degradation from the [degradations] keys")):
        if v[key] is not None:
            raise ConfigError(f"{where}: type otf {why}; remove '{key}'")
    if v["phase"] not in (None, "train"):
        raise ConfigError(f"{where}: type otf is for training; validate with type paired")
    missing = [key for key in DEGRADATION_KEYS if v[key] is None]
    if missing:
        raise ConfigError(f"{where}: type otf needs '{missing[0]}' under [degradations]"
                          + (f" ({len(missing)} degradation keys are missing)" if len(missing) > 1 else ""))
    v["meta_info_file"] = v["meta_info"]
    values = {key: v[key] for key in DEGRADATION_KEYS}
    values["blur_kernel_size"] = values["blur_kernel_size2"] = OTF_KERNEL_SIZE
    v["degradation"] = realesrgan_chain(values, v["scale"], False, where)
    v = _sizes(v, where)
    v["crop_pad_size"] = max(OTF_CROP_PAD_SIZE, v["gt_size"])
    return v


def _prepare_single(v: dict, where: str) -> dict:
    """neosr's `single`: LQ images alone, whole; the list from `meta_info_file`, relative to `dataroot_lq`."""
    for key in ("dataroot_gt", "degradation", "augmentation"):
        if v[key] is not None:
            raise ConfigError(f"{where}: type single reads LQ images alone; remove '{key}'")
    if v["dataroot_lq"] is None:
        raise ConfigError(f"{where}: type single needs 'dataroot_lq' (the folder of LQ images)")
    if v["phase"] in (None, "train") and v["batch_size"] is not None:
        v["batch_size_per_gpu"] = v["batch_size"]
    # read as a GT-only dataset of the LQ folder at scale 1, the images yielded whole; renamed back in `collate`
    v["dataroot_gt"], v["dataroot_lq"], v["scale"], v["patch_size"] = v["dataroot_lq"], None, 1, None
    return v


def _finish(cfg: Config, where: str) -> Config:
    """The otf model's check: with augmentations, patch_size must be a multiple of 4."""
    if isinstance(cfg.options, OtfOptions) and cfg.is_train and cfg.options.augmentation is not None and \
            cfg.options.patch_size % 4:
        raise ConfigError(f"{where}: neosr's otf needs 'patch_size' a multiple of 4 with 'augmentation', got "
                          f"{cfg.options.patch_size}")
    return cfg


@dataclass(frozen=True)
class MixedOutputs(SourceOutputs):
    """A paired source's columns and the augmentation columns (`mixing.COLUMNS`) before `idx`."""

    mixing: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return super().columns[:-1] + self.mixing + ("idx",)


class NeosrSource(PairedSource):
    """The paired source, plus each batch's augmentation columns when the config has augmentations."""

    always_mix = False  # otf: the LQ round trip runs even for augmentation = ["none"]

    def __init__(self, cfg: Config, index: Any, sampling: Any, start: tuple[int, int] = (0, 0)):
        super().__init__(cfg, index, sampling, start)
        self.mixing = mixing.mixing_of(cfg.options, cfg.scale, cfg.gt_size, cfg.is_train, self.always_mix)
        if self.mixing is not None:
            base = {f.name: getattr(self.outputs, f.name) for f in fields(SourceOutputs)}
            self.outputs = MixedOutputs(**base, mixing=mixing.columns_of(self.mixing))

    def _assemble(self, plan: EpochPlan, rows: slice) -> Batch:
        batch = super()._assemble(plan, rows)
        if self.mixing is not None:
            batch.columns.update(mixing.batch_columns(self.mixing, self.cfg.seed, plan.epoch, plan.positions[rows]))
        return batch

    def placeholder_columns(self) -> dict[str, Any]:
        columns = super().placeholder_columns()
        if self.mixing is not None:
            columns.update(mixing.placeholder_columns())
        return columns


class OtfSource(NeosrSource):
    always_mix = True


class SingleSource(PairedSource):
    """LQ images alone: read as GT alone, and yielded as `lq` / `lq_path`, as neosr's `single`."""

    def collate(self, out: dict[str, Any]) -> dict[str, Any]:
        idx = out.pop("idx").numpy().astype(np.int64).tolist()
        return {"lq": out.pop("gt"), "lq_path": self.index.paths(idx)["gt_path"], **out}


NEOSR_PAIRED = DatasetKind(TypeOptions(_KEYS, PairedOptions, prepare=_prepare_paired, finish=_finish),
                           build_paired_index, NeosrSource)
NEOSR_OTF = DatasetKind(TypeOptions(_OTF_KEYS, OtfOptions, prepare=_prepare_otf, finish=_finish),
                        build_paired_index, OtfSource)
NEOSR_SINGLE = DatasetKind(TypeOptions(_KEYS, PairedOptions, needs_gt_size=False, makes_lq=False,
                                       prepare=_prepare_single),
                           build_paired_index, SingleSource)
