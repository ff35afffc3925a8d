"""What an option-file dialect provides: whether a mapping is written in it, its dataset section for a phase,
and the keys a dataset type reads from outside that section."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

Options = Mapping[str, Any]


@dataclass(frozen=True)
class Dialect:
    """One way of writing option files.

    `detect(opts)`: whether `opts` (a whole file or dict) is written so. `section(opts, phase, origin)`: a new
    dict of the dataset section for `phase` (None: the dialect's default), its `phase` set and the file-wide
    keys every dataset reads (such as the scale and the seed) mapped to dataset keys. `model_keys(opts,
    section, keys, origin)`: `section` with those of `keys` (the keys a type reads from elsewhere in the file,
    e.g. a model's degradation settings) that the file gives. `origin` names the file in errors.
    """

    name: str
    detect: Callable[[Options], bool]
    section: Callable[[Options, Optional[str], str], dict]
    model_keys: Callable[[Options, dict, Sequence[str], str], dict]


def phase_of(name: object) -> str:
    """The phase of a section name: `val_2` -> `val`."""
    return str(name).split("_")[0]


def section_name(datasets: Mapping[Any, Any], phase: Optional[str]) -> Optional[Any]:
    """The key of the `datasets:` section for `phase` (default `train`): the phase itself, else the first whose name
    starts with `phase_` (`val_1`); None when there is none."""
    want = phase or "train"
    return want if want in datasets else next((k for k in datasets if phase_of(k) == want), None)
