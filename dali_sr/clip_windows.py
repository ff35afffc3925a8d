"""Which frames of a clip one sample reads: BasicSR's window rules, for clips of any length.

Frame numbers are 0-based positions in the clip's sorted frame list. BasicSR assumes 100
frames per REDS clip; here every rule takes the clip's real frame count.
"""
from __future__ import annotations

from typing import Sequence

PADDINGS = ("replicate", "reflection", "reflection_circle", "circle")


def pick(options: Sequence[int], u: float) -> int:
    """The option a uniform draw `u` in [0, 1) selects (BasicSR's `random.choice`)."""
    return options[min(int(u * len(options)), len(options) - 1)]


def centered(frame: int, count: int, num_frame: int, interval: int, u_redraw: float) -> list[int]:
    """REDSDataset: `num_frame` frames `interval` apart around `frame`.

    A centre whose window would leave the clip is replaced by one drawn uniformly among
    the centres that fit (BasicSR redraws until one fits: the same distribution).
    """
    half = num_frame // 2
    span = half * interval
    if not span <= frame <= count - 1 - span:
        frame = span + min(int(u_redraw * (count - 2 * span)), count - 2 * span - 1)
    return [frame + k * interval for k in range(-half, half + 1)]


def forward(frame: int, count: int, num_frame: int, interval: int, u_redraw: float) -> list[int]:
    """REDSRecurrentDataset: `num_frame` frames `interval` apart from `frame` on.

    A start whose window would leave the clip is replaced by one drawn uniformly among the
    starts that fit. (BasicSR yields fewer frames when interval > 1; here always `num_frame`.)
    """
    span = (num_frame - 1) * interval
    if frame > count - 1 - span:
        frame = min(int(u_redraw * (count - span)), count - span - 1)
    return [frame + k * interval for k in range(num_frame)]


def middle(count: int, num_frame: int) -> list[int]:
    """Vimeo90KDataset: `num_frame` neighbours around the middle frame (im4 of a septuplet)."""
    centre = count // 2
    return list(range(centre - num_frame // 2, centre + num_frame // 2 + 1))


def padded(frame: int, count: int, num_frame: int, padding: str) -> list[int]:
    """VideoTestDataset: `num_frame` frames around `frame`; neighbours outside the clip replaced.

    `padding` as BasicSR's `generate_frame_indices`: replicate (nearest end), reflection
    (mirror about the end frame), reflection_circle (continue from the window's far side),
    circle (wrap around by `num_frame`). Results may still fall outside a clip shorter than
    the window; callers check.
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
