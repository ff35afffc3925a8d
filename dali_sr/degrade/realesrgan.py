"""Real-ESRGAN's degradation model as a chain, from the keys of a Real-ESRGAN / BasicSR option file.

BasicSR splits the work: `RealESRGANDataset` draws three kernels per sample (first blur, second blur,
final sinc), and `RealESRGANModel.feed_data` / `RealESRNetModel.feed_data` apply, per batch:

    [sharpen]  blur(kernel1)  resize(resize_prob, resize_range)  noise(gaussian/poisson, gray)  JPEG(jpeg_range)
    blur(kernel2, second_blur_prob)  resize to LQ x scale2 (resize_prob2, resize_range2)  noise2
    with p = 0.5: [resize to LQ + final sinc] then JPEG(jpeg_range2), else JPEG then [resize to LQ + sinc]
    clamp and round; random crop of gt_size

Here that is one chain whose every draw is per sample. Keys left out take the values of Real-ESRGAN's
`train_realesrgan_x4plus.yml`. `RealESRGANModel` degrades the sharpened GT and yields the plain GT and,
for its losses, the sharpened GT patch (`gt_usm`); `RealESRNetModel` with `gt_usm: true` sharpens the GT
itself, degrades it and yields it sharpened.
"""
from __future__ import annotations

from typing import Any, Mapping

from ..errors import ConfigError
from .chain import KERNELS, RANDOM_MODES, Blur, Chain, Jpeg, Noise, OneOf, Resize, Sinc, Usm, finish_chain
from ..schema.values import distribution, names, odd_sizes, probability, value_range

_KERNEL_LIST = ["iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso"]
_KERNEL_PROB = [0.45, 0.25, 0.12, 0.03, 0.12, 0.03]

# RealESRGANDataset's keys (under datasets.train), with Real-ESRGAN x4plus's values.
DATASET_DEFAULTS: dict[str, Any] = {
    "blur_kernel_size": 21, "kernel_list": _KERNEL_LIST, "kernel_prob": _KERNEL_PROB, "blur_sigma": [0.2, 3],
    "betag_range": [0.5, 4], "betap_range": [1, 2], "sinc_prob": 0.1,
    "blur_kernel_size2": 21, "kernel_list2": _KERNEL_LIST, "kernel_prob2": _KERNEL_PROB, "blur_sigma2": [0.2, 1.5],
    "betag_range2": [0.5, 4], "betap_range2": [1, 2], "sinc_prob2": 0.1,
    "final_sinc_prob": 0.8,
}
# The model's keys (top level of the option file), with Real-ESRGAN x4plus's values.
MODEL_DEFAULTS: dict[str, Any] = {
    "resize_prob": [0.2, 0.7, 0.1], "resize_range": [0.15, 1.5], "gaussian_noise_prob": 0.5, "noise_range": [1, 30],
    "poisson_scale_range": [0.05, 3], "gray_noise_prob": 0.4, "jpeg_range": [30, 95],
    "second_blur_prob": 0.8, "resize_prob2": [0.3, 0.4, 0.3], "resize_range2": [0.3, 1.2],
    "gaussian_noise_prob2": 0.5, "noise_range2": [1, 25], "poisson_scale_range2": [0.05, 2.5],
    "gray_noise_prob2": 0.4, "jpeg_range2": [30, 95],
}
USM_KEYS = ("gt_usm", "l1_gt_usm", "percep_gt_usm", "gan_gt_usm")
_LOSS_USM_DEFAULTS = {"l1_gt_usm": True, "percep_gt_usm": True, "gan_gt_usm": False}  # Real-ESRGAN x4plus
MODELS = ("RealESRGANModel", "RealESRNetModel")
CROP_PAD_SIZE = 400  # RealESRGANDataset's window


def _blur(v: Mapping[str, Any], suffix: str, step_id: str, prob: float, where: str) -> Blur:
    key = lambda name: f"{name}{suffix}"  # noqa: E731 - 'kernel_list' or 'kernel_list2'
    kinds = names(v[key("kernel_list")], key("kernel_list"), where, KERNELS)
    sigma = value_range(v[key("blur_sigma")], key("blur_sigma"), where, 1e-6)
    betas = {}
    for name in ("betag_range", "betap_range"):
        lo, hi = value_range(v[key(name)], key(name), where, 1e-6)
        if not lo <= 1 <= hi:
            raise ConfigError(f"{where}: '{key(name)}' {list(v[key(name)])} must hold 1 (beta is drawn below or "
                              f"above 1 with equal chance, as BasicSR draws it)")
        betas[name] = (lo, hi)
    size = odd_sizes([7, v[key("blur_kernel_size")]], key("blur_kernel_size"), where)
    return Blur(step_id, prob, kernel_sizes=size, kernel_list=kinds,
                kernel_prob=distribution(v[key("kernel_prob")], key("kernel_prob"), where, len(kinds)), sigma=sigma,
                betag=betas["betag_range"], betap=betas["betap_range"],
                sinc_prob=probability(v[key("sinc_prob")], key("sinc_prob"), where))


def _resize(v: Mapping[str, Any], suffix: str, step_id: str, to: str, where: str) -> Resize:
    probs = distribution(v[f"resize_prob{suffix}"], f"resize_prob{suffix}", where, 3)
    lo, hi = value_range(v[f"resize_range{suffix}"], f"resize_range{suffix}", where, 1e-3, 16)
    if not lo <= 1 <= hi:
        raise ConfigError(f"{where}: 'resize_range{suffix}' {list(v[f'resize_range{suffix}'])} must hold 1: up draws "
                          f"from [1, high] and down from [low, 1]")
    return Resize(step_id, 1.0, updown_prob=probs, scale_range=(lo, hi), modes=RANDOM_MODES, to=to)


def _noise(v: Mapping[str, Any], suffix: str, step_id: str, where: str) -> Noise:
    return Noise(step_id, 1.0,
                 gaussian_prob=probability(v[f"gaussian_noise_prob{suffix}"], f"gaussian_noise_prob{suffix}", where),
                 sigma=value_range(v[f"noise_range{suffix}"], f"noise_range{suffix}", where, 0, 255),
                 poisson_scale=value_range(v[f"poisson_scale_range{suffix}"], f"poisson_scale_range{suffix}", where, 0),
                 gray_prob=probability(v[f"gray_noise_prob{suffix}"], f"gray_noise_prob{suffix}", where))


def _jpeg(v: Mapping[str, Any], key: str, step_id: str, where: str) -> Jpeg:
    return Jpeg(step_id, 1.0, quality=value_range(v[key], key, where, 1, 100))


def realesrgan_chain(values: Mapping[str, Any], scale: int, sharpen_input: bool, where: str) -> Chain:
    """The chain of Real-ESRGAN's keys in `values` (defaults filled in); it starts by sharpening with
    `sharpen_input` (RealESRGANModel degrades its sharpened GT)."""
    v = {**DATASET_DEFAULTS, **MODEL_DEFAULTS, **{k: x for k, x in values.items() if x is not None}}
    final_sinc = probability(v["final_sinc_prob"], "final_sinc_prob", where)
    sinc = lambda step_id: Sinc(step_id, final_sinc)  # noqa: E731 - Real-ESRGAN's final sinc: 7-21, [pi/3, pi]
    to_lq = lambda step_id: Resize(step_id, 1.0, modes=RANDOM_MODES, to="lq")  # noqa: E731
    steps = (
        _blur(v, "", "d1", 1.0, where),
        _resize(v, "", "d2", "input", where),
        _noise(v, "", "d3", where),
        _jpeg(v, "jpeg_range", "d4", where),
        _blur(v, "2", "d5", probability(v["second_blur_prob"], "second_blur_prob", where), where),
        _resize(v, "2", "d6", "lq", where),
        _noise(v, "2", "d7", where),
        OneOf("d8", 1.0, options=(
            (to_lq("d8o0s0"), sinc("d8o0s1"), _jpeg(v, "jpeg_range2", "d8o0s2", where)),
            (_jpeg(v, "jpeg_range2", "d8o1s0", where), to_lq("d8o1s1"), sinc("d8o1s2")),
        ), option_prob=(0.5, 0.5)),
    )
    if sharpen_input:
        steps = (Usm("d0", 1.0),) + steps
    return finish_chain(steps, scale, where, "RealESRGANDataset")


def usm_semantics(values: Mapping[str, Any]) -> tuple[bool, bool, bool]:
    """(sharpen the chain's input, sharpen the GT itself, yield a sharpened GT patch) for the option file's model:
    `model_type`, else RealESRGANModel when any of its loss keys (`l1_gt_usm`, ...) is given."""
    model = values.get("model_type")
    if model is None:
        model = "RealESRGANModel" if any(values.get(k) is not None for k in _LOSS_USM_DEFAULTS) else "RealESRNetModel"
    if model == "RealESRGANModel":
        flags = [values.get(k) if values.get(k) is not None else default for k, default in _LOSS_USM_DEFAULTS.items()]
        return True, False, any(flags)
    return False, bool(values.get("gt_usm")), False
