"""Which frames of a clip one sample reads: BasicSR's window rules as one small type, for clips of any length.

A `ClipWindow` is one kind of window with everything the index, the source and the graph ask of
it: its frame rule, the frames a clip needs for it, the key frame, whether there is a sample per
frame or per clip, whether GT comes for every frame, and the window used outside training.
Frame numbers are 0-based positions in the clip's sorted frame list. BasicSR assumes 100
frames per REDS clip; here every rule takes the clip's real frame count.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

PADDINGS = ("replicate", "reflection", "reflection_circle", "circle")


@dataclass(frozen=True)
class Draw:
    """One sample's place and draws: its frame, its clip's length and the window's parameters."""

    frame: int
    count: int
    num_frame: int
    interval: int
    u_redraw: float  # uniform in [0, 1): the replacement frame when the window would leave the clip
    padding: str
    u_reverse: float = 1.0  # uniform in [0, 1): the reversal draw (a window that sets its own direction)
    random_reverse: bool = False


def pick(options: Sequence[int], u: float) -> int:
    """The option a uniform draw `u` in [0, 1) selects (BasicSR's `random.choice`)."""
    return options[min(int(u * len(options)), len(options) - 1)]


def centred_frames(d: Draw) -> list[int]:
    """REDSDataset: `num_frame` frames `interval` apart around the frame.

    A centre whose window would leave the clip is replaced by one drawn uniformly among
    the centres that fit (BasicSR redraws until one fits: the same distribution).
    """
    half = d.num_frame // 2
    span = half * d.interval
    frame = d.frame
    if not span <= frame <= d.count - 1 - span:
        frame = span + min(int(d.u_redraw * (d.count - 2 * span)), d.count - 2 * span - 1)
    return [frame + k * d.interval for k in range(-half, half + 1)]


def forward_frames(d: Draw) -> list[int]:
    """REDSRecurrentDataset: `num_frame` frames `interval` apart from the frame on.

    A start whose window would leave the clip is replaced by one drawn uniformly among the
    starts that fit. (BasicSR yields fewer frames when interval > 1; here always `num_frame`.)
    """
    span = (d.num_frame - 1) * d.interval
    frame = d.frame
    if frame > d.count - 1 - span:
        frame = min(int(d.u_redraw * (d.count - span)), d.count - span - 1)
    return [frame + k * d.interval for k in range(d.num_frame)]


def from_key_frames(d: Draw) -> list[int]:
    """EDVR's `border_mode`: `num_frame` frames `interval` apart from the key frame, forward or backward.

    Forward by default; with `random_reverse`, backward with p = 1/4 (EDVR draws `random() < 0.5`, then
    `choice([0, 1])`: here `u_reverse < 1/4`). A window that would pass the clip's last frame runs backward,
    else one that would pass its first runs forward: the key frame is never moved. Clips hold at least
    `2 * (num_frame - 1) * interval` frames (`min_frames`), so one of the two directions fits.
    """
    span = (d.num_frame - 1) * d.interval
    backward = d.random_reverse and d.u_reverse < 0.25
    if d.frame + span > d.count - 1:
        backward = True
    elif d.frame - span < 0:
        backward = False
    step = -d.interval if backward else d.interval
    return [d.frame + k * step for k in range(d.num_frame)]


def middle_frames(d: Draw) -> list[int]:
    """Vimeo90K types: `num_frame` neighbours around the middle frame (im4 of a septuplet), the middle one at
    position `num_frame // 2` (BasicSR's `i + (9 - num_frame) // 2`, also for an even `num_frame`)."""
    first = d.count // 2 - d.num_frame // 2
    return list(range(first, first + d.num_frame))


def padded(frame: int, count: int, num_frame: int, padding: str) -> list[int]:
    """VideoTestDataset: `num_frame` frames around `frame`; neighbours outside the clip replaced.

    `padding` as BasicSR's `generate_frame_indices`: replicate (nearest end), reflection
    (mirror about the end frame), reflection_circle (continue from the window's far side),
    circle (wrap around by `num_frame`). Results may still fall outside a clip shorter than
    the window; the index checks every clip.
    """
    half, last = num_frame // 2, count - 1
    frames = []
    for i in range(frame - half, frame + half + 1):
        if 0 <= i <= last:
            frames.append(i)
        elif padding == "replicate":
            frames.append(0 if i < 0 else last)
        elif padding == "reflection":
            frames.append(-i if i < 0 else 2 * last - i)
        elif padding == "reflection_circle":
            frames.append(frame + half - i if i < 0 else frame - half - (i - last))
        elif padding == "circle":
            frames.append(i + num_frame if i < 0 else i - num_frame)
        else:
            raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    return frames


def _padded_frames(d: Draw) -> list[int]:
    return padded(d.frame, d.count, d.num_frame, d.padding)


def _every_frame(d: Draw) -> list[int]:
    return list(range(d.count))


@dataclass(frozen=True)
class ClipWindow:
    """One kind of clip window (see the module doc)."""

    name: str
    frames: Callable[[Draw], list[int]]  # the LQ frame positions of a sample
    key_frame: Callable[[list[int], Draw], int]  # the frame `key` names (and the GT of single-GT windows)
    per_frame: bool  # a sample for every frame of every clip (else one per clip)
    every_frame_gt: bool  # GT for every frame of the window, each in its own DALI row (recurrent types)
    whole_clip: bool  # the window is the clip itself (its length varies with the clip)
    test_name: str  # the window of the same type outside training (VideoTestDataset semantics)
    min_frames: Callable[[int, Sequence[int]], int]  # (num_frame, interval_list) -> the fewest frames a clip needs
    pads: bool = False  # neighbours past a clip end are replaced, so a clip must be long enough to pad
    directed: bool = False  # the window applies `random_reverse` itself (its direction), not as a reversal after

    def gt_frames(self, lq: list[int], key: int) -> list[int]:
        """The GT frame positions of a sample whose LQ frames are `lq`."""
        return lq if self.every_frame_gt else [key]

    @property
    def test(self) -> "ClipWindow":
        return WINDOWS[self.test_name]

    def __reduce__(self):  # pickled by name (its rules are module functions): sources go to worker processes
        return window_named, (self.name,)


def window_named(name: str) -> ClipWindow:
    """The window called `name`."""
    return WINDOWS[name]


def _centre(frames: list[int], d: Draw) -> int:
    return frames[len(frames) // 2]


def _spanned(num_frame: int, intervals: Sequence[int]) -> int:
    """Frames a window of `num_frame` frames at the largest interval spans."""
    return (num_frame - 1) * max(intervals) + 1


def _both_ways(num_frame: int, intervals: Sequence[int]) -> int:
    """Frames a clip needs so that every key frame has a one-sided window that fits, forward or backward."""
    return max(1, 2 * (num_frame - 1) * max(intervals))


def _one(num_frame: int, intervals: Sequence[int]) -> int:
    return 1


CENTRED = ClipWindow("centred", centred_frames, _centre, per_frame=True, every_frame_gt=False, whole_clip=False,
                     test_name="padded", min_frames=_spanned)
FORWARD = ClipWindow("forward", forward_frames, lambda frames, d: frames[0], per_frame=True, every_frame_gt=True,
                     whole_clip=False, test_name="whole_clip", min_frames=_spanned)
FROM_KEY = ClipWindow("from_key", from_key_frames, lambda frames, d: frames[0], per_frame=True,
                      every_frame_gt=False, whole_clip=False, test_name="padded", min_frames=_both_ways, directed=True)
MIDDLE = ClipWindow("middle", middle_frames, lambda frames, d: d.count // 2, per_frame=False, every_frame_gt=False,
                    whole_clip=False, test_name="middle", min_frames=lambda num_frame, intervals: num_frame)
EVERY_FRAME = ClipWindow("every_frame", _every_frame, lambda frames, d: 0, per_frame=False, every_frame_gt=True,
                         whole_clip=True, test_name="whole_clip", min_frames=_one)
PADDED = ClipWindow("padded", _padded_frames, lambda frames, d: d.frame, per_frame=True, every_frame_gt=False,
                    whole_clip=False, test_name="padded", min_frames=_one, pads=True)
WHOLE_CLIP = ClipWindow("whole_clip", _every_frame, lambda frames, d: 0, per_frame=False, every_frame_gt=True,
                        whole_clip=True, test_name="whole_clip", min_frames=_one)
WINDOWS = {w.name: w for w in (CENTRED, FORWARD, FROM_KEY, MIDDLE, EVERY_FRAME, PADDED, WHOLE_CLIP)}
