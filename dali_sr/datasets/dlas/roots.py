"""DL-Art-School's `paths` and `weights`: the dataset folders and how many times each one's samples repeat."""
from __future__ import annotations

from typing import Any

from ...errors import ConfigError
from ...schema.fields import Field

# `paths`: one folder, or a list of them; `weights`: with a list, one integer per folder (its samples appear that
# many times in an epoch: DL-Art-School extends its sample list `weight` times).
PATHS = Field((str, list), None, lambda v: bool(v), "a folder or a non-empty list of folders")
WEIGHTS = Field((list, type(None)), None, lambda v: all(isinstance(w, int) and not isinstance(w, bool) and w >= 1
                                                        for w in v), "a list of positive integers")


def weighted_roots(paths: Any, weights: Any, where: str) -> list[tuple[str, int]]:
    """(folder, repeats) of each of `paths`. One folder repeats once; a list needs one weight per folder (all 1
    when `weights` is not given)."""
    if isinstance(paths, str):
        if weights not in (None, [1]):
            raise ConfigError(f"{where}: 'weights' {weights!r} given with a single path; give 'paths' as a list, "
                              f"one weight per folder")
        return [(paths, 1)]
    if not all(isinstance(p, str) and p for p in paths):
        raise ConfigError(f"{where}: 'paths' must be folder names, got {paths!r}")
    weights = [1] * len(paths) if weights is None else weights
    if len(weights) != len(paths):
        raise ConfigError(f"{where}: 'weights' has {len(weights)} entries for {len(paths)} 'paths'; give one integer "
                          f"per folder")
    return list(zip(paths, weights))
