"""The option keys DL-Art-School's image datasets share (besides dali_sr's own, such as `scale`), and the size
rule they all check."""
from __future__ import annotations

from typing import Optional

from ...degrade.dlas import CORRUPTION_KEYS
from ...errors import ConfigError
from ...schema.fields import Field, integer
from .roots import PATHS, WEIGHTS

SHARED_KEYS: dict[str, Field] = {
    "paths": PATHS,
    "weights": WEIGHTS,
    "target_size": integer(1, 1 << 16, None, nullable=True),  # HQ side after an INTER_AREA resize (square)
    "force_multiple": integer(1, 1 << 16, 1),  # LQ sides are cut down to a multiple of this
    "eval": Field((bool,), False),  # evaluation: LQ is the HQ image itself (scale 1, no corruption)
    **CORRUPTION_KEYS,
}


def check_target_size(target_size: Optional[int], scale: int, multiple: int, where: str) -> None:
    """`target_size / scale` must be a multiple of `force_multiple`, as DL-Art-School asserts."""
    if target_size is not None and (target_size // scale) % multiple:
        raise ConfigError(f"{where}: target_size {target_size} / scale {scale} = {target_size // scale} is not a "
                          f"multiple of force_multiple {multiple}; change target_size or force_multiple")
