"""Clip pipelines: REDS, Vimeo90K (plain and recurrent), generic clip folders, video test sets.

Every frame of a sample and its GT share one crop window (GT = scale x LQ) and the same
flips and transpose; which frames a sample reads comes from the index and `clip_windows`.
"""
from __future__ import annotations

from typing import Callable

from nvidia.dali import fn

from dali_sr.clip_index import ClipIndex, build_clip_index
from dali_sr.clip_rules import PARTITIONS, ClipRules, clip_rules
from dali_sr.clip_source import ClipSource
from dali_sr.clip_windows import PADDINGS
from dali_sr.config import Config, Option
from dali_sr.errors import ConfigError

from . import ops
from .registry import PipelineSpec, register


def _frames(inputs: list, arrays: bool, window, cfg: Config, on_gpu: bool):
    """A sample's stored frames -> one FHWC sequence cut to `window` (shape, anchor) if given.

    Frames are cut one by one where that saves work (windows the source already cut, CPU
    window decode); whole decoded frames are stacked first and sliced once.
    """
    if arrays or (window is not None and window[1] is not None and ops.roi_decode(on_gpu)):
        return ops.stack_frames([ops.image(x, arrays, window, on_gpu, cfg.hw_decoder_load) for x in inputs])
    seq = ops.stack_frames([ops.decode(x, on_gpu, cfg.hw_decoder_load) for x in inputs])
    return ops.crop(seq, *window) if window is not None else seq


def define(cfg: Config, index: ClipIndex, source: ClipSource, on_gpu: bool):
    """Graph: frames -> decode -> one window for all frames -> same flips -> float FCHW.

    Runs under `pipeline_def(enable_conditionals=True)`; returns (lq, gt, idx) per DALI row.
    """
    nodes = dict(zip(source.names, fn.external_source(source, num_outputs=len(source.names), batch=True,
                                                     no_copy=True)))
    lq_window = (nodes["lq_shape"], nodes["lq_anchor"]) if "lq_shape" in nodes else None
    gt_window = (nodes["gt_shape"], nodes.get("gt_anchor")) if "gt_shape" in nodes else None
    lq = _frames([nodes[f"lq_{k}"] for k in range(source.groups)], index.lq_arrays is not None, lq_window, cfg, on_gpu)
    gt = _frames([nodes["gt_0"]], index.gt_arrays is not None, gt_window, cfg, on_gpu)
    lq, gt = ops.augment([lq, gt], nodes, frames=True)
    y = cfg.color == "y"
    return ops.to_output(lq, cfg.mean, cfg.std, y, frames=True), ops.to_output(gt, cfg.mean, cfg.std, y, frames=True), \
        nodes["idx"]


def _positive_ints(v) -> bool:
    return len(v) > 0 and all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in v)


_CLIP_OPTIONS = {
    "num_frame": Option((int, type(None)), None),
    "interval_list": Option((list, tuple), [1], _positive_ints, "a non-empty list of positive integers"),
    "random_reverse": Option((bool,), False),
    "padding": Option((str,), "reflection_circle", lambda v: v in PADDINGS, f"one of {PADDINGS}"),
    "cache_data": Option((bool,), False),  # accepted: frames are read on demand
    "dataroot_flow": Option((str, type(None)), None, lambda v: v is None, "null (optical flow inputs are not supported)"),
}
_REDS_OPTIONS = {**_CLIP_OPTIONS,
                 "val_partition": Option((str,), "REDS4", lambda v: v in PARTITIONS, f"one of {tuple(PARTITIONS)}"),
                 "test_mode": Option((bool,), False)}
_FRAME_TMPL = Option((str, type(None)), None, lambda v: v is None or v.count("{") == 1,
                     "a file name template with one '{}' field, e.g. '{:08d}.png'")


def _validator(needs_odd: bool, needs_num_frame: bool = True, train_ok: bool = True) -> Callable:
    def validate(cfg: Config, where: str) -> None:
        n = cfg.extra.get("num_frame")
        if needs_num_frame and n is None:
            raise ConfigError(f"{where}: {cfg.type} needs 'num_frame' (frames per sample, e.g. 5)")
        if needs_num_frame and (n < 1 or (needs_odd and n % 2 == 0)):
            raise ConfigError(f"{where}: 'num_frame' must be {'an odd' if needs_odd else 'a'} positive integer, got {n}")
        if not train_ok and cfg.is_train:
            raise ConfigError(f"{where}: {cfg.type} is for validation/test (phase val or test); "
                              f"train on clip folders with VideoClipDataset")
    return validate


def _register(name: str, rules: Callable[[Config], ClipRules], options: dict, validate: Callable) -> None:
    register(PipelineSpec(name=name, build_index=lambda cfg: build_clip_index(cfg, rules(cfg)), make_source=ClipSource,
                          define=define, outputs=("lq", "gt", "idx"), options=options, validate=validate))


_register("REDSDataset", lambda cfg: clip_rules(cfg, "centered", gt_all=False), _REDS_OPTIONS, _validator(True))
_register("REDSRecurrentDataset", lambda cfg: clip_rules(cfg, "forward", gt_all=True), _REDS_OPTIONS,
          _validator(False))
_register("Vimeo90KDataset", lambda cfg: clip_rules(cfg, "middle", gt_all=False, clip_key=True, depth=2,
                                                                    frames_per_clip=7),
          {**_CLIP_OPTIONS, "num_frame": Option((int,), 7)}, _validator(True))
_register("Vimeo90KRecurrentDataset", lambda cfg: clip_rules(cfg, "all", gt_all=True, clip_key=True, depth=2,
                                                                              frames_per_clip=7),
          {**_CLIP_OPTIONS, "flip_sequence": Option((bool,), False)}, _validator(False, needs_num_frame=False))
_register("VideoClipDataset",
          lambda cfg: clip_rules(cfg, "forward" if cfg.extra["gt_frames"] == "all" else "centered",
                                 gt_all=cfg.extra["gt_frames"] == "all"),
          {**_CLIP_OPTIONS, "frame_tmpl": _FRAME_TMPL,
           "gt_frames": Option((str,), "center", lambda v: v in ("center", "all"), "'center' or 'all'")},
          lambda cfg, where: _validator(cfg.extra["gt_frames"] == "center")(cfg, where))
_register("VideoTestDataset", lambda cfg: clip_rules(cfg, "centered", gt_all=False),
          {**_CLIP_OPTIONS, "frame_tmpl": _FRAME_TMPL}, _validator(True, train_ok=False))
_register("VideoRecurrentTestDataset", lambda cfg: clip_rules(cfg, "forward", gt_all=True),
          {**_CLIP_OPTIONS, "frame_tmpl": _FRAME_TMPL}, _validator(False, needs_num_frame=False, train_ok=False))
