"""traiNNer-redux option files: BasicSR's layout (`datasets:` by phase, top-level `scale` and `manual_seed`) with
its own dataset types (any letter case), `lq_size`, lists of dataroots, `dataset_enlarge_ratio: auto` and its
on-the-fly degradation keys at the top level.

A file is traiNNer-redux's when no dataset section has DL-Art-School's `mode:` and it has a key only
traiNNer-redux's files have: at the top level one of `redux_keys.TOP_MARKERS` or `num_gpu: auto`; in a dataset
section one of `redux_keys.SECTION_MARKERS`, a list as `dataroot_gt` / `dataroot_lq`,
`dataset_enlarge_ratio: auto`, or a `type:` written in lower case that is one of its dataset types. BasicSR and
Real-ESRGAN files have none of these, so they stay with the BasicSR dialect.

As traiNNer-redux does, every key of the file is checked: one it does not know is refused, naming the closest.
Its dataset types map onto dali_sr's list types (`PairedImageListDataset`, `ImageListDataset`), which read a
folder or a list of them.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

from ...degrade.redux import CROP_PAD, REDUX_RESIZE_MODES, redux_degradation
from ...errors import ConfigError
from ...schema.fields import check_keys
from ...schema.suggest import closest
from . import basicsr, redux_keys as keys
from .dialect import Dialect, Options

# dali_sr's own keys a traiNNer-redux dataset section may carry besides traiNNer-redux's.
DALI_SR_KEYS = ("device", "device_id", "seed", "num_threads", "prefetch_queue_depth", "hw_decoder_load",
                "source_workers", "shuffle", "drop_last")


def _sections(opts: Options) -> list[dict]:
    """The dataset sections of a whole file, or the mapping itself when it is a bare section."""
    datasets = opts.get("datasets")
    if isinstance(datasets, dict):
        return [s for s in datasets.values() if isinstance(s, dict)]
    return [dict(opts)] if "datasets" not in opts else []


def _marked(section: dict) -> bool:
    kind = section.get("type")
    return (any(k in section for k in keys.SECTION_MARKERS)
            or any(isinstance(section.get(k), list) for k in ("dataroot_gt", "dataroot_lq"))
            or section.get("dataset_enlarge_ratio") == "auto"
            or isinstance(kind, str) and kind == kind.lower() and kind in keys.DATASET_TYPES)


def _detect(opts: Options) -> bool:
    sections = _sections(opts)
    if any("mode" in s for s in sections):
        return False
    top = "datasets" in opts and (any(k in opts for k in keys.TOP_MARKERS) or opts.get("num_gpu") == "auto")
    return top or any(_marked(s) for s in sections)


def _check_file(opts: Options, origin: str) -> None:
    """Every key where traiNNer-redux's structures would look for it."""
    if "datasets" not in opts:
        return
    check_keys(opts, keys.TOP_KEYS, origin)
    for key, field in keys.TOP_FIELDS.items():
        if key in opts:
            field.read(key, opts[key], origin)
    for path, valid in keys.NESTED_KEYS.items():
        node: Any = opts
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            check_keys(node, valid, f"{origin}: {path}")
    datasets = opts["datasets"]
    if isinstance(datasets, dict):
        for name, section in datasets.items():
            if isinstance(section, dict):
                check_keys(section, keys.DATASET_KEYS + DALI_SR_KEYS, f"{origin}: datasets.{name}")


def _sizes(s: dict, train: bool, where: str) -> None:
    """`lq_size` -> `gt_size` (lq_size x scale); training takes exactly one of them, as traiNNer-redux's train.py."""
    lq = s.pop("lq_size", None)
    if not train:
        return
    if (lq is None) == (s.get("gt_size") is None):
        raise ConfigError(f"{where}: give exactly one of 'lq_size' (the LQ patch side, e.g. 64) and 'gt_size' for "
                          f"training")
    if lq is not None:
        if isinstance(lq, bool) or not isinstance(lq, int) or lq < 1:
            raise ConfigError(f"{where}: 'lq_size' must be a positive integer, got {lq!r}")
        if not isinstance(s.get("scale"), int):
            raise ConfigError(f"{where}: 'lq_size' needs 'scale' (the SR factor) to give the GT patch side")
        s["gt_size"] = lq * s["scale"]


def _otf(opts: Options, s: dict, where: str) -> None:
    """The train set of `high_order_degradation`: GT alone, degraded by the model's chain in windows of gt_size
    + 32."""
    s["degradation"] = redux_degradation(opts, s, where)
    s["crop_pad_size"] = s["gt_size"] + CROP_PAD
    s.pop("dataroot_lq", None)  # read by traiNNer-redux's paired type only


def _type(opts: Options, s: dict, kind: str, train: bool, where: str) -> str:
    """The dali_sr type of traiNNer-redux's `kind`, with the section's keys set for it."""
    otf = train and bool(opts.get("high_order_degradation", False))
    if kind == "singlevideodataset":
        s["num_frame"] = s.pop("clip_size", None)
        s.pop("dataroot_gt", None)  # traiNNer-redux's type reads LQ alone
        return "SceneLQClipDataset"
    if kind == "pairedvideodataset":
        if otf:
            raise ConfigError(f"{where}: high_order_degradation: true degrades GT from realesrgandataset; the "
                              f"train dataset is pairedvideodataset; use type realesrgandataset")
        s["num_frame"] = s.pop("clip_size", None)
        return "SceneClipDataset"
    if kind == "basedataset":
        raise ConfigError(f"{where}: type basedataset is traiNNer-redux's abstract base; name a dataset type")
    if kind == "realesrganpaireddataset":
        prob = opts.get("dataroot_lq_prob", 0)
        if not otf or prob != 1:
            raise ConfigError(f"{where}: realesrganpaireddataset mixes stored and degraded LQ per batch by "
                              f"'dataroot_lq_prob' ({prob}); dali_sr reads it with dataroot_lq_prob 1 (stored LQ) "
                              f"only; use realesrgandataset for degraded LQ")
        kind = "pairedimagedataset"
        otf = False
    if kind in ("singleimagedataset", "singlelqdataset"):
        s["dataroot_gt"] = s.pop("dataroot_lq", None)  # LQ images alone, yielded as `gt`
        return "ImageListDataset"
    if kind == "singlegtdataset":
        mode = s.get("lq_resize_mode")
        if mode is None:
            return "ImageListDataset"
        if mode not in REDUX_RESIZE_MODES:
            raise ConfigError(f"{where}: 'lq_resize_mode' {mode!r} is not one of {', '.join(REDUX_RESIZE_MODES)}"
                              f"{closest(str(mode), REDUX_RESIZE_MODES)}")
        s["degradation"] = [{"type": "resize", "to": "lq", "modes": [mode]}]
        return "PairedImageListDataset"
    if kind == "realesrgandataset":
        if not otf:
            raise ConfigError(f"{where}: realesrgandataset yields GT for the model to degrade, which it does with "
                              f"high_order_degradation: true in training; set it, or use pairedimagedataset")
        _otf(opts, s, where)
        return "PairedImageListDataset"
    if otf:
        raise ConfigError(f"{where}: high_order_degradation: true degrades GT from realesrgandataset; the train "
                          f"dataset is {kind}; use type realesrgandataset")
    if not s.get("dataroot_lq"):
        raise ConfigError(f"{where}: {kind} needs dataroot_lq (a folder or a list of folders)")
    return "PairedImageListDataset"


def translate(opts: Options, section: dict, where: str) -> dict:
    """One traiNNer-redux dataset section (phase and scale set) as the keys of a dali_sr list type."""
    s = dict(section)
    given = s.get("type")
    if not isinstance(given, str) or given.lower() not in keys.DATASET_TYPES:
        hint = closest(str(given).lower(), keys.DATASET_TYPES) or f" (types: {', '.join(keys.DATASET_TYPES)})"
        raise ConfigError(f"{where}: unknown traiNNer-redux dataset type {given!r}{hint}")
    train = s.get("phase", "train") == "train"
    kind = given.lower()
    if train and kind == "singlevideodataset":
        raise ConfigError(f"{where}: singlevideodataset yields LQ clips without GT, to run a model on; use it under "
                          f"datasets: val (train on pairedvideodataset)")
    for key in keys.DATASET_UNUSED:
        if key != "clip_size" or kind not in ("pairedvideodataset", "singlevideodataset"):
            s.pop(key, None)
    _sizes(s, train, where)
    s["type"] = _type(opts, s, kind, train, where)
    for key in keys.DATASET_KERNEL + ("lq_resize_mode",):
        s.pop(key, None)
    if train:  # traiNNer-redux's defaults: flips and rotations, and the `auto` enlarge ratio
        s.setdefault("use_hflip", True)
        s.setdefault("use_rot", True)
        s.setdefault("dataset_enlarge_ratio", "auto")
    if "meta_info" in s:
        s["meta_info_file"] = s.pop("meta_info")
    return s


def _section(opts: Options, phase: Optional[str], origin: str) -> dict:
    _check_file(opts, origin)
    if "datasets" in opts:
        section = basicsr.DIALECT.section(opts, phase, origin)
        name = section.get("name") or section["phase"]
    else:
        check_keys(opts, keys.DATASET_KEYS + DALI_SR_KEYS, origin)
        section = dict(opts)
        if phase is not None:
            section["phase"] = phase
        name = section.get("name") or section.get("type")
    return translate(opts if "datasets" in opts else {}, section, f"{origin} [{name}]")


def _model_keys(opts: Options, section: dict, wanted: Sequence[str], origin: str) -> dict:
    """The list types read nothing from outside their section (the degradation keys were read into it)."""
    return section


DIALECT = Dialect("traiNNer-redux option file", detect=_detect, section=_section, model_keys=_model_keys)
