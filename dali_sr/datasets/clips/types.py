"""The clip dataset types (BasicSR's `type:` names): their keys, checks, training window and clip layout."""
from __future__ import annotations

from typing import Callable

from ...config import Config, Option, TypeOptions
from ...errors import ConfigError
from ..kind import DatasetKind
from .index import build_clip_index
from .rules import PARTITIONS, ClipRules, clip_rules
from .source import ClipSource
from .windows import CENTRED, EVERY_FRAME, FORWARD, MIDDLE, PADDINGS


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
_VIMEO_FRAMES = 7


def _validator(needs_odd: bool, needs_num_frame: bool = True, train_ok: bool = True) -> Callable[[Config, str], None]:
    def validate(cfg: Config, where: str) -> None:
        n = cfg.extra.get("num_frame")
        if needs_num_frame and n is None:
            raise ConfigError(f"{where}: {cfg.type} needs 'num_frame' (frames per sample, e.g. 5)")
        if needs_num_frame and (n < 1 or (needs_odd and n % 2 == 0)):
            raise ConfigError(f"{where}: 'num_frame' must be {'an odd' if needs_odd else 'a'} positive integer, got {n}")
        if not train_ok and cfg.is_train:
            raise ConfigError(f"{where}: {cfg.type} is for validation/test (phase val or test); "
                              f"train on clip folders with VideoClipDataset")
        if cfg.degradation is not None and not cfg.degradation.is_bicubic:
            raise ConfigError(f"{where}: clip types make LQ from GT with 'degradation: bicubic'; degradation lists "
                              f"are for image types (PairedImageDataset, RealESRGANDataset)")
    return validate


def _video_clip_rules(cfg: Config) -> ClipRules:
    return clip_rules(cfg, FORWARD if cfg.extra["gt_frames"] == "all" else CENTRED)


def _kind(rules: Callable[[Config], ClipRules], options: dict, validate: Callable[[Config, str], None]) -> DatasetKind:
    return DatasetKind(TypeOptions(options, validate=validate), lambda cfg: build_clip_index(cfg, rules(cfg)),
                       ClipSource)


CLIP_TYPES: dict[str, DatasetKind] = {
    "REDSDataset": _kind(lambda cfg: clip_rules(cfg, CENTRED), _REDS_OPTIONS, _validator(True)),
    "REDSRecurrentDataset": _kind(lambda cfg: clip_rules(cfg, FORWARD), _REDS_OPTIONS, _validator(False)),
    "Vimeo90KDataset": _kind(lambda cfg: clip_rules(cfg, MIDDLE, clip_key=True, depth=2, frames_per_clip=_VIMEO_FRAMES),
                             {**_CLIP_OPTIONS, "num_frame": Option((int,), _VIMEO_FRAMES)}, _validator(True)),
    "Vimeo90KRecurrentDataset": _kind(
        lambda cfg: clip_rules(cfg, EVERY_FRAME, clip_key=True, depth=2, frames_per_clip=_VIMEO_FRAMES),
        {**_CLIP_OPTIONS, "flip_sequence": Option((bool,), False)}, _validator(False, needs_num_frame=False)),
    "VideoClipDataset": _kind(
        _video_clip_rules,
        {**_CLIP_OPTIONS, "frame_tmpl": _FRAME_TMPL,
         "gt_frames": Option((str,), "center", lambda v: v in ("center", "all"), "'center' or 'all'")},
        lambda cfg, where: _validator(cfg.extra["gt_frames"] == "center")(cfg, where)),
    "VideoTestDataset": _kind(lambda cfg: clip_rules(cfg, CENTRED), {**_CLIP_OPTIONS, "frame_tmpl": _FRAME_TMPL},
                              _validator(True, train_ok=False)),
    "VideoRecurrentTestDataset": _kind(lambda cfg: clip_rules(cfg, FORWARD), {**_CLIP_OPTIONS, "frame_tmpl": _FRAME_TMPL},
                                       _validator(False, needs_num_frame=False, train_ok=False)),
}
