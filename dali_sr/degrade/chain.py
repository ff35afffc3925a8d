"""Degradation chains: the `degradation:` key as a validated list of steps that make LQ from a GT window.

`degradation: bicubic` is the one-step chain `[{type: resize, to: lq, modes: [matlab]}]`. A list gives
steps applied in order, each with its own probability (`prob`) and per-sample ranges:

    usm         unsharp masking (BasicSR's USMSharp: weight, radius, threshold)
    blur        a random kernel per sample: iso/aniso/generalized/plateau Gaussians or a sinc (Real-ESRGAN)
    sinc        a circular low-pass (sinc) kernel with a random cutoff
    resize      up / down / keep with a random scale (or one of fixed `scales`) and a random mode, relative to
                the input, the LQ or the GT size
    noise       Gaussian or Poisson noise, in colour or gray
    jpeg        JPEG compression at a random quality
    gray        gray image in three channels
    quantize    colour quantization (fewer levels per channel)
    brightness  a random brightness offset
    one_of      one of several sub-chains, chosen per sample
    dlas        DL-Art-School's ImageCorruptor: its named corruptions, k random ones per sample then the fixed ones

The chain must end at the LQ size (GT window / scale): its last size-changing step is a resize `to: lq`.
A chain with no resize at all gets MATLAB's bicubic to the LQ size appended.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..errors import ConfigError
from ..schema.fields import check_keys
from ..schema.suggest import closest
from ..schema.values import distribution, names, number, odd_sizes, probability, value_range
from . import dlas_names

KERNELS = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
RESIZE_MODES = ("area", "bilinear", "bicubic", "nearest", "matlab", "nearest-exact", "lanczos")
RANDOM_MODES = ("area", "bilinear", "bicubic")  # Real-ESRGAN's choice
TARGETS = ("input", "lq", "gt")  # a resize's scale multiplies the input size, the LQ size or the GT window size
UPDOWN = ("up", "down", "keep")


@dataclass(frozen=True)
class Step:
    """One step: `id` names its columns in the source's batches; `prob` is the chance it runs on a sample."""

    id: str
    prob: float


@dataclass(frozen=True)
class Usm(Step):
    weight: float = 0.5
    radius: int = 51  # BasicSR's radius 50, made odd
    threshold: float = 10.0  # on 0-255 levels


@dataclass(frozen=True)
class Blur(Step):
    kernel_sizes: tuple[int, ...] = tuple(range(7, 22, 2))
    kernel_list: tuple[str, ...] = ("iso",)
    kernel_prob: tuple[float, ...] = (1.0,)
    sigma: tuple[float, float] = (0.2, 3.0)
    betag: tuple[float, float] = (0.5, 4.0)
    betap: tuple[float, float] = (1.0, 2.0)
    sinc_prob: float = 0.0


@dataclass(frozen=True)
class Sinc(Step):
    kernel_sizes: tuple[int, ...] = tuple(range(7, 22, 2))
    cutoff: tuple[float, float] = (math.pi / 3, math.pi)


@dataclass(frozen=True)
class Resize(Step):
    updown_prob: tuple[float, float, float] = (0.0, 0.0, 1.0)  # up, down, keep
    scale_range: tuple[float, float] = (1.0, 1.0)
    modes: tuple[str, ...] = RANDOM_MODES
    to: str = "input"
    scales: tuple[float, ...] = ()  # instead of up / down / keep: one of these factors
    scale_prob: tuple[float, ...] = ()

    @property
    def changes_size(self) -> bool:
        return self.to != "input" or self.updown_prob[2] < 1 or any(s != 1 for s in self.scales)


@dataclass(frozen=True)
class Noise(Step):
    gaussian_prob: float = 1.0
    sigma: tuple[float, float] = (1.0, 30.0)  # on 0-255 levels
    poisson_scale: tuple[float, float] = (0.05, 3.0)
    gray_prob: float = 0.0


@dataclass(frozen=True)
class Jpeg(Step):
    quality: tuple[float, float] = (30.0, 95.0)


@dataclass(frozen=True)
class Gray(Step):
    weights: tuple[float, float, float] = (0.299, 0.587, 0.114)  # R, G, B


@dataclass(frozen=True)
class Quantize(Step):
    divisors: tuple[int, ...] = (4, 8, 16, 32)
    divisor_prob: tuple[float, ...] = (0.25, 0.25, 0.25, 0.25)


@dataclass(frozen=True)
class Brightness(Step):
    offset: tuple[float, float] = (0.0, 0.3)


@dataclass(frozen=True)
class Corrupt(Step):
    """DL-Art-School's corruptions (`dlas_names.NAMES`): `count` names drawn from `random` per sample (with
    replacement), then every `fixed` name, each with its own value in [0, 1] (cosine-biased towards 0)."""

    fixed: tuple[str, ...] = ()
    random: tuple[str, ...] = ()
    count: int = 0
    blur_scale: float = 1.0
    cosine_bias: bool = True

    @property
    def slots(self) -> int:
        return self.count + len(self.fixed)

    def slot_names(self, slot: int) -> tuple[str, ...]:
        """The names slot `slot` can apply: a random slot any of `random`, a fixed slot its own name."""
        return self.random if slot < self.count else (self.fixed[slot - self.count],)

    @property
    def names(self) -> tuple[str, ...]:
        """Every name a sample's corruptions can include."""
        return self.fixed + (self.random if self.count else ())


@dataclass(frozen=True)
class OneOf(Step):
    options: tuple[tuple[Step, ...], ...] = ()
    option_prob: tuple[float, ...] = ()


@dataclass(frozen=True)
class Chain:
    """Validated steps; `scale` is the SR factor the chain ends at (LQ = GT window / scale)."""

    steps: tuple[Step, ...]
    scale: int
    source: Any = field(default=None, compare=False)  # the YAML value, for messages

    @property
    def is_bicubic(self) -> bool:
        """Just MATLAB's bicubic to the LQ size (`degradation: bicubic`)."""
        return len(self.steps) == 1 and isinstance(self.steps[0], Resize) and self.steps[0].modes == ("matlab",)

    def walk(self) -> list[Step]:
        """Every step, sub-chains of `one_of` included, in order."""
        out: list[Step] = []

        def visit(steps: tuple[Step, ...]) -> None:
            for s in steps:
                out.append(s)
                if isinstance(s, OneOf):
                    for option in s.options:
                        visit(option)
        visit(self.steps)
        return out

    def uses_dali_random(self) -> bool:
        """Whether the graph draws random fields (noise), so resuming needs DALI's random state."""
        return any(isinstance(s, Noise) or (isinstance(s, Corrupt) and dlas_names.draws_noise(s.fixed + s.random))
                   for s in self.walk())


def bicubic_chain(scale: int) -> Chain:
    """`degradation: bicubic`: MATLAB's antialiased bicubic imresize of the GT window to the LQ size."""
    return Chain((Resize("d0", 1.0, modes=("matlab",), to="lq"),), scale, "bicubic")


# -- parsing ----------------------------------------------------------------------------------------
def _sizes(v: Mapping[str, Any], w: str) -> dict[str, Any]:
    return {"kernel_sizes": odd_sizes(v["kernel_size"], "kernel_size", w)} if "kernel_size" in v else {}


def _usm(v: Mapping[str, Any], w: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "weight" in v:
        out["weight"] = number(v["weight"], "weight", w, 0.0)
    if "radius" in v:
        radius = number(v["radius"], "radius", w, 1, 201)
        if not radius.is_integer():
            raise ConfigError(f"{w}: 'radius' must be an integer, got {v['radius']!r}")
        out["radius"] = int(radius) + (1 - int(radius) % 2)  # even radii grow by one, as BasicSR's
    if "threshold" in v:
        out["threshold"] = number(v["threshold"], "threshold", w, 0.0, 255.0)
    return out


def _blur(v: Mapping[str, Any], w: str) -> dict[str, Any]:
    out = _sizes(v, w)
    if "kernel_list" in v or "kernel_prob" in v:
        kinds = names(v.get("kernel_list", ["iso"]), "kernel_list", w, KERNELS)
        out["kernel_list"] = kinds
        out["kernel_prob"] = distribution(v.get("kernel_prob", [1.0 / len(kinds)] * len(kinds)), "kernel_prob", w,
                                          len(kinds))
    if "blur_sigma" in v:
        lo, hi = value_range(v["blur_sigma"], "blur_sigma", w, 0.0)
        if lo <= 0:
            raise ConfigError(f"{w}: 'blur_sigma' {list(v['blur_sigma'])} must be above 0 (a Gaussian of sigma 0 "
                              f"is no blur; lower the step's prob instead)")
        out["sigma"] = (lo, hi)
    for key, name in (("betag_range", "betag"), ("betap_range", "betap")):
        if key in v:
            lo, hi = value_range(v[key], key, w, 0.0)
            if lo <= 0 or not lo <= 1 <= hi:
                raise ConfigError(f"{w}: '{key}' {list(v[key])} must hold 1 and be above 0 (beta is drawn below "
                                  f"or above 1 with equal chance, as BasicSR draws it)")
            out[name] = (lo, hi)
    if "sinc_prob" in v:
        out["sinc_prob"] = probability(v["sinc_prob"], "sinc_prob", w)
    return out


def _sinc(v: Mapping[str, Any], w: str) -> dict[str, Any]:
    out = _sizes(v, w)
    if "cutoff_range" in v:
        out["cutoff"] = value_range(v["cutoff_range"], "cutoff_range", w, 1e-3, math.pi)
    return out


def _resize(v: Mapping[str, Any], w: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "to" in v:
        out["to"] = names([v["to"]], "to", w, TARGETS)[0]
    if "modes" in v:
        out["modes"] = names(v["modes"], "modes", w, RESIZE_MODES)
    if "scales" in v:
        if "resize_prob" in v or "resize_range" in v:
            raise ConfigError(f"{w}: give 'scales' (fixed factors) or 'resize_prob' with 'resize_range', not both")
        factors = v["scales"]
        if not isinstance(factors, (list, tuple)) or not factors:
            raise ConfigError(f"{w}: 'scales' must be a non-empty list of factors, got {factors!r}")
        out["scales"] = tuple(number(f, "scales", w, 1e-3, 16.0) for f in factors)
        out["scale_prob"] = distribution(v.get("scale_prob", [1.0 / len(factors)] * len(factors)), "scale_prob", w,
                                         len(factors))
        return out
    if "scale_prob" in v:
        raise ConfigError(f"{w}: 'scale_prob' needs 'scales'")
    updown = distribution(v["resize_prob"], "resize_prob", w, 3) if "resize_prob" in v else (0.0, 0.0, 1.0)
    out["updown_prob"] = updown
    if "resize_range" in v:
        lo, hi = value_range(v["resize_range"], "resize_range", w, 1e-3, 16.0)
        if (updown[0] > 0 and hi < 1) or (updown[1] > 0 and lo > 1):
            raise ConfigError(f"{w}: 'resize_range' {list(v['resize_range'])} must hold 1: up draws from [1, high] "
                              f"and down from [low, 1], as Real-ESRGAN draws them")
        out["scale_range"] = (lo, hi)
    elif updown[2] < 1:
        raise ConfigError(f"{w}: a resize that goes up or down needs 'resize_range' [low, high]")
    return out


def _noise(v: Mapping[str, Any], w: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "gaussian_noise_prob" in v:
        out["gaussian_prob"] = probability(v["gaussian_noise_prob"], "gaussian_noise_prob", w)
    if "noise_range" in v:
        out["sigma"] = value_range(v["noise_range"], "noise_range", w, 0.0, 255.0)
    if "poisson_scale_range" in v:
        out["poisson_scale"] = value_range(v["poisson_scale_range"], "poisson_scale_range", w, 0.0)
    if "gray_noise_prob" in v:
        out["gray_prob"] = probability(v["gray_noise_prob"], "gray_noise_prob", w)
    return out


def _jpeg(v: Mapping[str, Any], w: str) -> dict[str, Any]:
    return {"quality": value_range(v["jpeg_range"], "jpeg_range", w, 1.0, 100.0)} if "jpeg_range" in v else {}


def _gray(v: Mapping[str, Any], w: str) -> dict[str, Any]:
    if "weights" not in v:
        return {}
    weights = v["weights"]
    if not isinstance(weights, (list, tuple)) or len(weights) != 3:
        raise ConfigError(f"{w}: 'weights' must be 3 numbers (R, G, B), got {weights!r}")
    return {"weights": tuple(number(x, "weights", w, 0.0, 1.0) for x in weights)}


def _quantize(v: Mapping[str, Any], w: str) -> dict[str, Any]:
    if "divisors" not in v:
        if "divisor_prob" in v:
            raise ConfigError(f"{w}: 'divisor_prob' needs 'divisors'")
        return {}
    divisors = v["divisors"]
    if not isinstance(divisors, (list, tuple)) or not divisors or not all(
            isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 128 for d in divisors):
        raise ConfigError(f"{w}: 'divisors' must be a list of integers in [1, 128], got {divisors!r}")
    probs = v.get("divisor_prob", [1.0 / len(divisors)] * len(divisors))
    return {"divisors": tuple(divisors), "divisor_prob": distribution(probs, "divisor_prob", w, len(divisors))}


def _brightness(v: Mapping[str, Any], w: str) -> dict[str, Any]:
    return {"offset": value_range(v["range"], "range", w, -1.0, 1.0)} if "range" in v else {}


def corrupt_settings(v: Mapping[str, Any], w: str) -> dict[str, Any]:
    """The fields of a `Corrupt` step from DL-Art-School's keys in `v`, checked (errors name `w`)."""
    fixed = dlas_names.checked(v.get("fixed_corruptions", []), "fixed_corruptions", w)
    count = v.get("num_corrupts_per_image", 0)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 64:
        raise ConfigError(f"{w}: 'num_corrupts_per_image' must be an integer in [0, 64], got {count!r}")
    random = dlas_names.checked(v.get("random_corruptions", []), "random_corruptions", w) if count else ()
    if count and not random:
        raise ConfigError(f"{w}: 'num_corrupts_per_image' {count} needs 'random_corruptions' to draw from")
    blur_scale = number(v.get("corruption_blur_scale", 1), "corruption_blur_scale", w, 0.0)
    bias = v.get("cosine_bias", True)
    if not isinstance(bias, bool):
        raise ConfigError(f"{w}: 'cosine_bias' must be true or false, got {bias!r}")
    return {"fixed": fixed, "random": random, "count": count, "blur_scale": blur_scale, "cosine_bias": bias}


_STEPS: dict[str, tuple[type, tuple[str, ...], Callable[[Mapping[str, Any], str], dict[str, Any]]]] = {
    "usm": (Usm, ("weight", "radius", "threshold"), _usm),
    "blur": (Blur, ("kernel_size", "kernel_list", "kernel_prob", "blur_sigma", "betag_range", "betap_range",
                    "sinc_prob"), _blur),
    "sinc": (Sinc, ("kernel_size", "cutoff_range"), _sinc),
    "resize": (Resize, ("resize_prob", "resize_range", "scales", "scale_prob", "modes", "to"), _resize),
    "noise": (Noise, ("gaussian_noise_prob", "noise_range", "poisson_scale_range", "gray_noise_prob"), _noise),
    "jpeg": (Jpeg, ("jpeg_range",), _jpeg),
    "gray": (Gray, ("weights",), _gray),
    "quantize": (Quantize, ("divisors", "divisor_prob"), _quantize),
    "brightness": (Brightness, ("range",), _brightness),
    "dlas": (Corrupt, ("fixed_corruptions", "random_corruptions", "num_corrupts_per_image", "corruption_blur_scale",
                       "cosine_bias"), corrupt_settings),
    "one_of": (OneOf, ("options",), lambda v, w: {}),
}
STEP_TYPES = tuple(_STEPS)


def _step(value: Any, where: str, step_id: str) -> Step:
    if not isinstance(value, Mapping) or "type" not in value:
        raise ConfigError(f"{where}: each step is a mapping with a 'type' ({', '.join(STEP_TYPES)}), got {value!r}")
    kind = str(value["type"])
    if kind not in _STEPS:
        raise ConfigError(f"{where}: unknown degradation step '{kind}'{closest(kind, STEP_TYPES)} (steps: "
                          f"{', '.join(STEP_TYPES)})")
    cls, keys, parse = _STEPS[kind]
    where = f"{where} ({kind})"
    check_keys(value, ("type", "prob") + keys, where)
    if kind == "one_of":
        return _one_of(value, where, step_id)
    prob = probability(value.get("prob", 1.0), "prob", where)
    return cls(step_id, prob, **parse(value, where))


def _one_of(value: Mapping[str, Any], where: str, step_id: str) -> OneOf:
    options = value.get("options")
    if not isinstance(options, (list, tuple)) or len(options) < 2:
        raise ConfigError(f"{where}: 'options' must be a list of at least 2 step lists, got {options!r}")
    parsed = []
    for i, option in enumerate(options):
        if not isinstance(option, (list, tuple)):
            raise ConfigError(f"{where}: options[{i}] must be a list of steps, got {option!r}")
        parsed.append(tuple(_step(s, f"{where} options[{i}][{j}]", f"{step_id}o{i}s{j}") for j, s in enumerate(option)))
    probs = distribution(value.get("prob", [1.0 / len(options)] * len(options)), "prob", where, len(options))
    return OneOf(step_id, 1.0, tuple(parsed), probs)


def _end_size(steps: tuple[Step, ...], start: str, where: str) -> str:
    """What size the steps end at, from `start`: 'gt' (the window), 'lq', or 'other'; refuse what cannot run."""
    size = start
    for s in steps:
        if isinstance(s, OneOf):
            ends = {_end_size(option, size, where) for option in s.options}
            if len(ends) > 1:
                raise ConfigError(f"{where}: the options of one_of step {s.id} end at different sizes; end each at "
                                  f"the same size (e.g. with a resize to: lq)")
            size = ends.pop()
        elif isinstance(s, Resize):
            changes = s.changes_size
            if "matlab" in s.modes and (s.modes != ("matlab",) or s.to != "lq" or s.updown_prob[2] < 1 or s.scales
                                        or size != "gt"):
                raise ConfigError(f"{where}: resize mode 'matlab' (MATLAB's bicubic by the integer scale) is alone "
                                  f"in its step, goes to: lq, keeps the scale and starts from the GT window size")
            if changes and s.prob < 1:
                raise ConfigError(f"{where}: resize step {s.id} changes the size, so it must run on every sample "
                                  f"(prob 1); a size would otherwise depend on the draw")
            if changes:
                keeps = s.updown_prob[2] == 1 and all(f == 1 for f in s.scales)
                size = s.to if s.to != "input" and keeps else "other"
    return size


def parse_chain(value: Any, scale: int, where: str) -> Chain:
    """`degradation:` (the word `bicubic` or a list of steps) -> a validated `Chain` ending at the LQ size."""
    if value == "bicubic":
        return bicubic_chain(scale)
    if isinstance(value, str):
        raise ConfigError(f"{where}: 'degradation' must be 'bicubic' or a list of steps, got {value!r}"
                          f"{closest(value, ['bicubic'])}")
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(f"{where}: 'degradation' must be 'bicubic' or a non-empty list of steps, got {value!r}")
    steps = tuple(_step(s, f"{where}: degradation[{i}]", f"d{i}") for i, s in enumerate(value))
    return finish_chain(steps, scale, where, value)


def finish_chain(steps: tuple[Step, ...], scale: int, where: str, source: Any = None) -> Chain:
    """Check that `steps` end at the LQ size (appending MATLAB's bicubic when nothing resizes); the `Chain`."""
    end = _end_size(steps, "gt", where)
    if end == "other":
        raise ConfigError(f"{where}: the degradation ends at another size than the LQ (GT / scale {scale}); end it "
                          f"with a step {{type: resize, to: lq}}")
    if end == "gt" and scale > 1:
        steps += (Resize(f"d{len(steps)}", 1.0, modes=("matlab",), to="lq"),)
    return Chain(steps, scale, source)
