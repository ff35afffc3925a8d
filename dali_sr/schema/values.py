"""Checks of single option values: numbers, [low, high] ranges, probability lists, names from a list and odd
kernel sizes, each returning the value in its checked form or failing with a one-line `ConfigError` that names
the key (`where` says which step or section it belongs to)."""
from __future__ import annotations

import math
from typing import Any, Sequence

from ..errors import ConfigError
from .suggest import closest


def number(value: Any, key: str, where: str, low: float = -math.inf, high: float = math.inf) -> float:
    """A real number in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where}: '{key}' must be a number, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{where}: '{key}' must be in [{low:g}, {high:g}], got {value!r}")
    return float(value)


def probability(value: Any, key: str, where: str) -> float:
    """A number in [0, 1]."""
    return number(value, key, where, 0.0, 1.0)


def value_range(value: Any, key: str, where: str, low: float = -math.inf, high: float = math.inf,
                integers: bool = False) -> tuple[float, float]:
    """A [lo, hi] pair within [low, high] with lo <= hi."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigError(f"{where}: '{key}' must be a [low, high] pair, got {value!r}")
    lo, hi = (number(v, key, where, low, high) for v in value)
    if integers and not (lo.is_integer() and hi.is_integer()):
        raise ConfigError(f"{where}: '{key}' must hold integers, got {list(value)}")
    if lo > hi:
        raise ConfigError(f"{where}: '{key}' {list(value)} has its low end above its high end; write [{value[1]}, "
                          f"{value[0]}]")
    return lo, hi


def distribution(value: Any, key: str, where: str, length: int) -> tuple[float, ...]:
    """`length` probabilities summing to 1."""
    if not isinstance(value, (list, tuple)) or len(value) != length:
        raise ConfigError(f"{where}: '{key}' must be a list of {length} probabilities, got {value!r}")
    probs = tuple(probability(v, key, where) for v in value)
    if abs(sum(probs) - 1.0) > 1e-6:
        raise ConfigError(f"{where}: '{key}' {list(value)} sums to {sum(probs):g}; its probabilities must sum to 1")
    return probs


def names(value: Any, key: str, where: str, valid: Sequence[str]) -> tuple[str, ...]:
    """A non-empty list of names from `valid`."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(f"{where}: '{key}' must be a non-empty list of names from {list(valid)}, got {value!r}")
    for name in value:
        if name not in valid:
            raise ConfigError(f"{where}: '{key}' has unknown '{name}'{closest(str(name), valid)} (valid: "
                              f"{', '.join(valid)})")
    return tuple(value)


def odd_sizes(value: Any, key: str, where: str) -> tuple[int, ...]:
    """The odd kernel sizes of an inclusive [low, high] range of odd integers >= 1 (or one odd size)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    lo, hi = value_range(value, key, where, 1, 101, integers=True)
    if int(lo) % 2 == 0 or int(hi) % 2 == 0:
        raise ConfigError(f"{where}: '{key}' {list(value)} must be odd sizes (kernels have a centre)")
    return tuple(range(int(lo), int(hi) + 1, 2))
