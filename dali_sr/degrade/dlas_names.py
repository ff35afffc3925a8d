"""DL-Art-School's corruption names (its `ImageCorruptor`) and the operation each one is in a chain's graph.

Each name maps to one graph operation; DL-Art-School's names that do nothing (`none`, `block_noise`,
`color_shift`, `interlacing`, `chromatic_aberration`) map to `none`. Only the names as written are accepted
(DL-Art-School matches names by substring, so a misspelt name may silently run another corruption there).
"""
from __future__ import annotations

from typing import Any, Iterable

from ..errors import ConfigError
from ..schema.suggest import closest

OPS = ("none", "quantize", "jitter", "filter", "resample", "noise", "jpeg", "saturate", "greyscale")

# JPEG quality int((1 - r) * range) + low, by name: (low, range)
JPEG_QUALITY = {"jpeg": (10, 20), "jpeg-low": (15, 10), "jpeg-medium": (23, 25), "jpeg-broad": (15, 60),
                "jpeg-normal": (47, 35)}

NAMES: dict[str, str] = {
    "color_quantization": "quantize", "color_jitter": "jitter", "gaussian_blur": "filter", "motion_blur": "filter",
    "lq_resampling": "resample", "lq_resampling4x": "resample", "noise": "noise", "noise-5": "noise",
    **{name: "jpeg" for name in JPEG_QUALITY}, "saturation": "saturate", "greyscale": "greyscale",
    **{name: "none" for name in ("none", "block_noise", "color_shift", "interlacing", "chromatic_aberration")},
}

# The names whose presence among a sample's corruptions makes its JPEG corruptions do nothing.
NOISE_NAMES = ("noise", "noise-5")


def checked(value: Any, key: str, where: str) -> tuple[str, ...]:
    """`value` (a list of corruption names under `key`) as a tuple; an unknown name is refused naming it."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(n, str) for n in value):
        raise ConfigError(f"{where}: '{key}' must be a list of corruption names, got {value!r}")
    for name in value:
        if name not in NAMES:
            raise ConfigError(f"{where}: unknown corruption '{name}' in '{key}'{closest(name, NAMES)} (names: "
                              f"{', '.join(NAMES)})")
    return tuple(value)


def draws_noise(names: Iterable[str]) -> bool:
    """Whether any of `names` adds a noise field (drawn by DALI's random generator in the graph)."""
    return any(NAMES[n] == "noise" for n in names)


def ops_of(names: Iterable[str], noise: bool = True) -> tuple[str, ...]:
    """The graph operations `names` can run, in `OPS` order (`none` included when one can do nothing); `noise`:
    whether the sample's corruptions can include a noise name, which makes JPEG do nothing."""
    wanted = {NAMES[n] for n in names}
    if wanted & {"jitter", "resample"} or ("jpeg" in wanted and noise):  # a weak jitter, a resampling by 1, JPEG
        wanted.add("none")
    return tuple(op for op in OPS if op in wanted)
