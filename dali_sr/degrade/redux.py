"""traiNNer-redux's on-the-fly degradation (`high_order_degradation: true`) as a `degradation:` list.

Its `RealESRGANModel.feed_data` degrades each batch of GT windows (`gt_size + 32` square) in this order:

    [USM, radius from lq_usm_radius_range]  blur(blur_prob, kernel 1)  resize(resize_prob, resize_range,
    resize_mode_list by resize_mode_prob)  noise  JPEG(jpeg_prob)  blur(blur_prob2, kernel 2)
    resize to LQ x factor (the `2` keys)  noise2  then with p = 0.5 either [resize to LQ (the `3` mode list) +
    final sinc (final_sinc_prob)] then JPEG(jpeg_prob2), or JPEG(jpeg_prob2) then [resize to LQ + final sinc]

with the kernels its `RealESRGANDataset` draws from the dataset keys (`kernel_range`, `kernel_list`, ...;
`blur_kernel_size` is not read, the sizes are `kernel_range`'s odd numbers). The list below is that order,
every draw per sample. Keys are checked here under traiNNer-redux's names, so an error names the key of the
option file.
"""
from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction
from typing import Any, Mapping

from ..errors import ConfigError
from ..schema.values import distribution, names, odd_sizes, probability, value_range
from .chain import KERNELS

REDUX_RESIZE_MODES = ("bilinear", "bicubic", "nearest-exact", "lanczos", "area")
_MODES = ["bilinear", "bicubic", "nearest-exact", "lanczos"]
_KERNELS = ["iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso"]
_KERNEL_PROB = [0.45, 0.25, 0.12, 0.03, 0.12, 0.03]

# The model's keys (top level of the option file) with traiNNer-redux's defaults.
MODEL_DEFAULTS: dict[str, Any] = {
    "lq_usm": False, "lq_usm_radius_range": [1, 25], "blur_prob": 0.0, "thicklines_prob": 0.0,
    "resize_prob": [0.2, 0.7, 0.1], "resize_mode_list": _MODES, "resize_mode_prob": [0.25] * 4,
    "resize_range": [0.4, 1.5], "gaussian_noise_prob": 0.0, "noise_range": [0, 0], "poisson_scale_range": [0, 0],
    "gray_noise_prob": 0.0, "jpeg_prob": 1.0, "jpeg_range": [75, 95],
    "blur_prob2": 0.0, "resize_prob2": [0.3, 0.4, 0.3], "resize_mode_list2": _MODES, "resize_mode_prob2": [0.25] * 4,
    "resize_range2": [0.6, 1.2], "gaussian_noise_prob2": 0.0, "noise_range2": [0, 0], "poisson_scale_range2": [0, 0],
    "gray_noise_prob2": 0.0, "jpeg_prob2": 1.0, "jpeg_range2": [75, 95],
    "resize_mode_list3": _MODES, "resize_mode_prob3": [0.25] * 4, "queue_size": 120,
}
# The dataset's kernel keys with traiNNer-redux's defaults.
KERNEL_DEFAULTS: dict[str, Any] = {
    **{f"{key}{suffix}": value for suffix, sigma in (("", [0.2, 2]), ("2", [0.2, 1])) for key, value in (
        ("blur_kernel_size", 12), ("kernel_list", _KERNELS), ("kernel_prob", _KERNEL_PROB), ("kernel_range", [5, 17]),
        ("sinc_prob", 0.0), ("blur_sigma", sigma), ("betag_range", [0.5, 4]), ("betap_range", [1, 2]))},
    "final_sinc_prob": 0.0, "final_kernel_range": [5, 17],
}
CROP_PAD = 32  # RealESRGANDataset's window: gt_size + 32
_MAX_DENOMINATOR = 100  # mode probabilities are drawn as multiples of 1/n, n <= this


def _modes(v: Mapping[str, Any], suffix: str, where: str) -> list[str]:
    """The mode list repeated so that a uniform draw from it follows `resize_mode_prob{suffix}`."""
    list_key, prob_key = f"resize_mode_list{suffix}", f"resize_mode_prob{suffix}"
    modes = names(v[list_key], list_key, where, REDUX_RESIZE_MODES)
    probs = distribution(v[prob_key], prob_key, where, len(modes))
    weights = [Fraction(p).limit_denominator(_MAX_DENOMINATOR) for p in probs]
    if any(abs(float(w) - p) > 1e-6 for w, p in zip(weights, probs)):
        raise ConfigError(f"{where}: '{prob_key}' {list(v[prob_key])} must be multiples of 1/n for some n up to "
                          f"{_MAX_DENOMINATOR} (e.g. 0.25, 0.1, 1/3)")
    den = math.lcm(*(w.denominator for w in weights))
    return [mode for mode, w in zip(modes, weights) for _ in range(int(w * den))]


def _kernel(d: Mapping[str, Any], suffix: str, prob: float, where: str) -> dict[str, Any]:
    key = lambda name: f"{name}{suffix}"  # noqa: E731 - 'kernel_list' or 'kernel_list2'
    kinds = names(d[key("kernel_list")], key("kernel_list"), where, KERNELS)
    distribution(d[key("kernel_prob")], key("kernel_prob"), where, len(kinds))
    sizes = odd_sizes(d[key("kernel_range")], key("kernel_range"), where)
    lo, _ = value_range(d[key("blur_sigma")], key("blur_sigma"), where, 0.0)
    if lo <= 0:
        raise ConfigError(f"{where}: '{key('blur_sigma')}' {list(d[key('blur_sigma')])} must be above 0")
    for name in ("betag_range", "betap_range"):
        low, high = value_range(d[key(name)], key(name), where, 0.0)
        if low <= 0 or not low <= 1 <= high:
            raise ConfigError(f"{where}: '{key(name)}' {list(d[key(name)])} must hold 1 and be above 0 (beta is "
                              f"drawn below or above 1 with equal chance)")
    return {"type": "blur", "prob": prob, "kernel_size": [sizes[0], sizes[-1]], "kernel_list": list(kinds),
            "kernel_prob": list(d[key("kernel_prob")]), "blur_sigma": list(d[key("blur_sigma")]),
            "betag_range": list(d[key("betag_range")]), "betap_range": list(d[key("betap_range")]),
            "sinc_prob": probability(d[key("sinc_prob")], key("sinc_prob"), where)}


def _resize(v: Mapping[str, Any], suffix: str, to: str, where: str) -> dict[str, Any]:
    probs = distribution(v[f"resize_prob{suffix}"], f"resize_prob{suffix}", where, 3)
    lo, hi = value_range(v[f"resize_range{suffix}"], f"resize_range{suffix}", where, 1e-3, 16)
    if not lo <= 1 <= hi:
        raise ConfigError(f"{where}: 'resize_range{suffix}' {list(v[f'resize_range{suffix}'])} must hold 1: up draws "
                          f"from [1, high] and down from [low, 1]")
    return {"type": "resize", "resize_prob": list(probs), "resize_range": [lo, hi], "modes": _modes(v, suffix, where),
            "to": to}


def _noise(v: Mapping[str, Any], suffix: str, where: str) -> dict[str, Any]:
    keys = ("gaussian_noise_prob", "gray_noise_prob")
    out = {key: probability(v[f"{key}{suffix}"], f"{key}{suffix}", where) for key in keys}
    out["noise_range"] = list(value_range(v[f"noise_range{suffix}"], f"noise_range{suffix}", where, 0, 255))
    out["poisson_scale_range"] = list(value_range(v[f"poisson_scale_range{suffix}"], f"poisson_scale_range{suffix}",
                                                  where, 0))
    return {"type": "noise", **out}


def _jpeg(v: Mapping[str, Any], suffix: str, where: str) -> dict[str, Any]:
    return {"type": "jpeg", "prob": probability(v[f"jpeg_prob{suffix}"], f"jpeg_prob{suffix}", where),
            "jpeg_range": list(value_range(v[f"jpeg_range{suffix}"], f"jpeg_range{suffix}", where, 1, 100))}


def _usm(v: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    """USMSharp with a radius drawn from the inclusive integer range (even radii grow by one, as USMSharp's)."""
    lo, hi = value_range(v["lq_usm_radius_range"], "lq_usm_radius_range", where, 1, 201, integers=True)
    radii = Counter(r + 1 - r % 2 for r in range(int(lo), int(hi) + 1))
    if len(radii) == 1:
        return [{"type": "usm", "radius": next(iter(radii))}]
    total = sum(radii.values())
    return [{"type": "one_of", "options": [[{"type": "usm", "radius": r}] for r in radii],
             "prob": [n / total for n in radii.values()]}]


def redux_degradation(model: Mapping[str, Any], dataset: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    """The `degradation:` list of traiNNer-redux's top-level keys `model` and dataset keys `dataset` (each
    defaulting to traiNNer-redux's values)."""
    v = {**MODEL_DEFAULTS, **{k: x for k, x in model.items() if k in MODEL_DEFAULTS}}
    d = {**KERNEL_DEFAULTS, **{k: x for k, x in dataset.items() if k in KERNEL_DEFAULTS}}
    if probability(v["thicklines_prob"], "thicklines_prob", where) > 0:
        raise ConfigError(f"{where}: 'thicklines_prob' {v['thicklines_prob']} is not available (dali_sr has no "
                          f"thick-lines step); set it to 0")
    queue = v["queue_size"]
    if isinstance(queue, bool) or not isinstance(queue, int) or queue < 1:
        raise ConfigError(f"{where}: 'queue_size' must be a positive integer, got {queue!r}")
    if not isinstance(v["lq_usm"], bool):
        raise ConfigError(f"{where}: 'lq_usm' must be true or false, got {v['lq_usm']!r}")
    sinc_sizes = odd_sizes(d["final_kernel_range"], "final_kernel_range", where)
    final = [{"type": "resize", "to": "lq", "modes": _modes(v, "3", where)},
             {"type": "sinc", "prob": probability(d["final_sinc_prob"], "final_sinc_prob", where),
              "kernel_size": [sinc_sizes[0], sinc_sizes[-1]]}]
    jpeg2 = _jpeg(v, "2", where)
    steps = _usm(v, where) if v["lq_usm"] else []
    steps += [
        _kernel(d, "", probability(v["blur_prob"], "blur_prob", where), where),
        _resize(v, "", "input", where),
        _noise(v, "", where),
        _jpeg(v, "", where),
        _kernel(d, "2", probability(v["blur_prob2"], "blur_prob2", where), where),
        _resize(v, "2", "lq", where),
        _noise(v, "2", where),
        {"type": "one_of", "options": [final + [jpeg2], [jpeg2] + final]},
    ]
    return steps
