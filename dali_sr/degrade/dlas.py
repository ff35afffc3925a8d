"""DL-Art-School's corruption keys -> the chain that makes a DL-Art-School dataset's LQ from its HQ patch:
cv2's INTER_AREA downscale by `scale` (an exact box mean at integer factors), with DL-Art-School's named
corruptions (a `dlas` step) after it, or before it with `corrupt_before_downsize` (after a first downscale
by `corrupt_before_downsize_factor` when given)."""
from __future__ import annotations

from typing import Any, Mapping

from ..errors import ConfigError
from ..schema.fields import Field, integer
from .chain import Chain, corrupt_settings, parse_chain
from .dlas_names import checked

CORRUPTION_KEYS: dict[str, Field] = {
    "fixed_corruptions": Field((list,), [], lambda v: all(isinstance(n, str) for n in v), "a list of names"),
    "random_corruptions": Field((list,), [], lambda v: all(isinstance(n, str) for n in v), "a list of names"),
    "num_corrupts_per_image": integer(0, 64, 0),
    "corruption_blur_scale": Field((int, float), 1, lambda v: v >= 0, "a non-negative number"),
    "cosine_bias": Field((bool,), True),
    "corrupt_before_downsize": Field((bool,), False),
    # with corrupt_before_downsize: downscale by this factor first, corrupt, then downscale the rest of the way
    "corrupt_before_downsize_factor": integer(1, 64, None, nullable=True),
}
_STEP_KEYS = ("fixed_corruptions", "random_corruptions", "num_corrupts_per_image", "corruption_blur_scale",
              "cosine_bias")
_TO_LQ = {"type": "resize", "to": "lq", "modes": ["area"]}


def corruption_chain(values: Mapping[str, Any], scale: int, where: str) -> Chain:
    """The chain from an HQ patch to its LQ patch (HQ / `scale`, INTER_AREA) with the corruptions `values`
    (keys of `CORRUPTION_KEYS`) name, before or after the downscale as `corrupt_before_downsize` says."""
    corrupt = {"type": "dlas", **{k: values[k] for k in _STEP_KEYS if values.get(k) is not None}}
    checked(values.get("random_corruptions", []), "random_corruptions", where)
    if not values.get("num_corrupts_per_image"):
        corrupt.pop("random_corruptions", None)  # DL-Art-School reads them only to draw from
    settings = corrupt_settings(corrupt, where)  # errors name the dataset's own keys
    before = values.get("corrupt_before_downsize", False)
    factor = values.get("corrupt_before_downsize_factor") or 1
    if before and scale % factor:
        raise ConfigError(f"{where}: 'corrupt_before_downsize_factor' {factor} must divide 'scale' {scale} (the "
                          f"rest of the downscale is scale / factor)")
    if not settings["fixed"] and not settings["count"]:
        return parse_chain([_TO_LQ], scale, where)
    if not before:
        return parse_chain([_TO_LQ, corrupt], scale, where)
    if factor == 1:
        return parse_chain([corrupt, _TO_LQ], scale, where)
    first = {"type": "resize", "to": "gt", "scales": [1 / factor], "modes": ["area"]}
    return parse_chain([first, corrupt, _TO_LQ], scale, where)
