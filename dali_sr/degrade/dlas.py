"""DL-Art-School's corruption keys -> the chain that makes a DL-Art-School dataset's LQ from its HQ patch:
cv2's INTER_AREA downscale by `scale` (an exact box mean at integer factors), with the corruptions before or
after it."""
from __future__ import annotations

from typing import Any, Mapping

from ..errors import ConfigError
from ..schema.fields import Field, integer
from .chain import Chain, parse_chain

CORRUPTION_KEYS: dict[str, Field] = {
    "fixed_corruptions": Field((list,), [], lambda v: all(isinstance(n, str) for n in v), "a list of names"),
    "random_corruptions": Field((list,), [], lambda v: all(isinstance(n, str) for n in v), "a list of names"),
    "num_corrupts_per_image": integer(0, 64, 0),
    "corruption_blur_scale": Field((int, float), 1, lambda v: v >= 0, "a non-negative number"),
    "corrupt_before_downsize": Field((bool,), False),
    # with corrupt_before_downsize: downscale by this factor first, corrupt, then downscale the rest of the way
    "corrupt_before_downsize_factor": integer(1, 64, None, nullable=True),
}


def corruption_chain(values: Mapping[str, Any], scale: int, where: str) -> Chain:
    """The chain from an HQ patch to its LQ patch (HQ / `scale`, INTER_AREA) with the corruptions `values`
    (keys of `CORRUPTION_KEYS`) name, before or after the downscale as `corrupt_before_downsize` says."""
    named = [n for n in [*values.get("fixed_corruptions", []), *values.get("random_corruptions", [])]
             if n != "none"]
    if named:
        raise ConfigError(f"{where}: corruption '{named[0]}' is not available; remove it from "
                          f"fixed_corruptions / random_corruptions")
    return parse_chain([{"type": "resize", "to": "lq", "modes": ["area"]}], scale, where)
