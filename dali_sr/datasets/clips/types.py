"""The clip dataset types (BasicSR's `type:` names): their keys, checks, training window and clip layout."""
from __future__ import annotations

from typing import Callable

from ...config import Config, TypeOptions
from ...errors import ConfigError
from ...schema.fields import NONE, Field, choice, flag
from ..kind import DatasetKind
from .index import build_clip_index
from .options import clip_options
from .rules import PARTITIONS, ClipRules, clip_rules
from .source import ClipSource
from .windows import CENTRED, EVERY_FRAME, FORWARD, FROM_KEY, MIDDLE, PADDINGS


def _positive_ints(v) -> bool:
    return len(v) > 0 and all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in v)


_CLIP_KEYS = {
    "num_frame": Field((int, NONE)),
    "interval_list": Field((list, tuple), (1,), _positive_ints, "a non-empty list of positive integers"),
    "random_reverse": flag(False),
    "padding": choice(PADDINGS, "reflection_circle"),
    "cache_data": flag(False),  # accepted: frames are read on demand
    "dataroot_flow": Field((str, NONE), None, lambda v: v is None, "null (optical flow inputs are not supported)"),
}
_REDS_KEYS = {**_CLIP_KEYS, "val_partition": choice(tuple(PARTITIONS), "REDS4"), "test_mode": flag(False)}
_FRAME_TMPL = Field((str, NONE), None, lambda v: v.count("{") == 1,
                    "a file name template with one '{}' field, e.g. '{:08d}.png'")
_VIMEO_FRAMES = 7


def _checks(needs_odd: bool, needs_num_frame: bool = True, train_ok: bool = True) -> Callable[[Config, str], Config]:
    """The last step of a clip type's config: its frame count, phase and LQ checked."""
    def finish(cfg: Config, where: str) -> Config:
        n = cfg.options.num_frame
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
        return cfg
    return finish


def _reds_rules(cfg: Config) -> ClipRules:
    return clip_rules(cfg, FROM_KEY if cfg.options.border_mode else CENTRED)


def _video_clip_rules(cfg: Config) -> ClipRules:
    return clip_rules(cfg, FORWARD if cfg.options.gt_frames == "all" else CENTRED)


def _kind(rules: Callable[[Config], ClipRules], keys: dict, finish: Callable[[Config, str], Config]) -> DatasetKind:
    return DatasetKind(TypeOptions(keys, clip_options, finish=finish), lambda cfg: build_clip_index(cfg, rules(cfg)),
                       ClipSource)


CLIP_TYPES: dict[str, DatasetKind] = {
    "REDSDataset": _kind(_reds_rules, {**_REDS_KEYS, "border_mode": flag(False)}, _checks(True)),
    "REDSRecurrentDataset": _kind(lambda cfg: clip_rules(cfg, FORWARD), _REDS_KEYS, _checks(False)),
    "Vimeo90KDataset": _kind(lambda cfg: clip_rules(cfg, MIDDLE, clip_key=True, depth=2, frames_per_clip=_VIMEO_FRAMES),
                             {**_CLIP_KEYS, "num_frame": Field((int,), _VIMEO_FRAMES)}, _checks(True)),
    "Vimeo90KRecurrentDataset": _kind(
        lambda cfg: clip_rules(cfg, EVERY_FRAME, clip_key=True, depth=2, frames_per_clip=_VIMEO_FRAMES),
        {**_CLIP_KEYS, "flip_sequence": flag(False)}, _checks(False, needs_num_frame=False)),
    "VideoClipDataset": _kind(
        _video_clip_rules,
        {**_CLIP_KEYS, "frame_tmpl": _FRAME_TMPL,
         "gt_frames": choice(("center", "all"), "center", "'center' or 'all'")},
        lambda cfg, where: _checks(cfg.options.gt_frames == "center")(cfg, where)),
    "VideoTestDataset": _kind(lambda cfg: clip_rules(cfg, CENTRED), {**_CLIP_KEYS, "frame_tmpl": _FRAME_TMPL},
                              _checks(True, train_ok=False)),
    # BasicSR's Vimeo90K test set: the middle frame's GT and its neighbours, one sample per clip
    "VideoTestVimeo90KDataset": _kind(
        lambda cfg: clip_rules(cfg, MIDDLE, clip_key=True, depth=2, frames_per_clip=_VIMEO_FRAMES),
        _CLIP_KEYS, _checks(False, train_ok=False)),
    "VideoRecurrentTestDataset": _kind(lambda cfg: clip_rules(cfg, FORWARD), {**_CLIP_KEYS, "frame_tmpl": _FRAME_TMPL},
                                       _checks(False, needs_num_frame=False, train_ok=False)),
}
