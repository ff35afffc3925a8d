"""Per-sample draws of a degradation chain: every random choice of every step, from one sample's generator.

The source calls `draw_sample` once per sample with a generator seeded by (seed, epoch, sample position), so
the draws never depend on the batch, the thread count or the run's history. Every step's values are drawn
whether or not the sample runs it (and for every `one_of` option), so one choice never shifts another's
draws. The values become the source's degradation columns (`chain_columns`); the DALI graph reads them.
Sizes are tracked here as the torch calls of Real-ESRGAN compute them, so the graph gets exact output sizes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import kernels
from .chain import (UPDOWN, Blur, Brightness, Chain, Corrupt, Gray, Jpeg, Noise, OneOf, Quantize, Resize,
                    RESIZE_MODES, Sinc, Step, Usm)
from .dlas_draws import corrupt_columns, corrupt_draw

Draw = dict[str, np.ndarray]
_AREA = RESIZE_MODES.index("area")
Size = tuple[int, int]  # (h, w)


_VALUES: dict[type, tuple[str, ...]] = {
    Blur: ("kernel",), Sinc: ("kernel",), Resize: ("size", "roi", "mode"), Noise: ("gaussian", "sigma", "scale", "gray"),
    Jpeg: ("quality",), Quantize: ("divisor",), Brightness: ("offset",), OneOf: ("option",), Usm: (), Gray: (),
}


def _columns_of(step: Step) -> tuple[str, ...]:
    if isinstance(step, Corrupt):
        return (("on",) if step.prob < 1 else ()) + corrupt_columns(step)
    names = () if isinstance(step, Resize) and step.modes == ("matlab",) else _VALUES[type(step)]
    return (("on",) if step.prob < 1 else ()) + names


def chain_columns(chain: Chain) -> tuple[str, ...]:
    """The source columns of `chain`'s draws, named `<step id>_<value>`, in a fixed order."""
    return tuple(f"{s.id}_{name}" for s in chain.walk() for name in _columns_of(s))


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(bounds[0], bounds[1]))


def _beta(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    """Below or above 1 with equal chance, uniform on each side (BasicSR's generalized and plateau betas)."""
    return _uniform(rng, (bounds[0], 1.0)) if rng.uniform() < 0.5 else _uniform(rng, (1.0, bounds[1]))


@dataclass(frozen=True)
class KernelDraw:
    """One sample's blur kernel: its family (a `KERNELS` name or 'sinc'), size and parameters."""

    kind: str
    size: int
    sig_x: float = 0.0
    sig_y: float = 0.0
    theta: float = 0.0
    beta: float = 1.0
    cutoff: float = 0.0

    def kernel(self) -> np.ndarray:
        if self.kind == "sinc":
            return kernels.sinc(self.size, self.cutoff)
        if self.kind.startswith("generalized"):
            return kernels.generalized_gaussian(self.size, self.sig_x, self.sig_y, self.theta, self.beta)
        if self.kind.startswith("plateau"):
            return kernels.plateau(self.size, self.sig_x, self.sig_y, self.theta, self.beta)
        return kernels.gaussian(self.size, self.sig_x, self.sig_y, self.theta)


def blur_draw(step: Blur, rng: np.random.Generator) -> KernelDraw:
    """One sample's kernel as Real-ESRGAN's dataset draws it: a size, then a sinc (with `sinc_prob`; cutoff
    from [pi/3, pi] below size 13, else [pi/5, pi]) or a kernel type by `kernel_prob` and its parameters
    (sigmas from `sigma`, an angle from [-pi, pi] for anisotropic ones, a beta for generalized / plateau)."""
    size = int(rng.choice(step.kernel_sizes))
    if rng.uniform() < step.sinc_prob:
        return KernelDraw("sinc", size, cutoff=_uniform(rng, (math.pi / 3 if size < 13 else math.pi / 5, math.pi)))
    kind = step.kernel_list[pick(rng, step.kernel_prob)]
    sig_x = _uniform(rng, step.sigma)
    if kind.endswith("aniso"):
        sig_y, theta = _uniform(rng, step.sigma), _uniform(rng, (-math.pi, math.pi))
    else:
        sig_y, theta = sig_x, 0.0
    beta = 1.0
    if kind.startswith("generalized"):
        beta = _beta(rng, step.betag)
    elif kind.startswith("plateau"):
        beta = _beta(rng, step.betap)
    return KernelDraw(kind, size, sig_x, sig_y, theta, beta)


def pick(rng: np.random.Generator, p) -> int:
    """`int(rng.choice(len(p), p=p))`: the same index from the same draw (numpy's own inverse CDF of one uniform),
    without its argument checks, which cost ten times the draw."""
    cdf = np.cumsum(np.asarray(p, np.float64))
    cdf /= cdf[-1]
    return int(cdf.searchsorted(rng.random(), side="right"))


def _resize_scale(step: Resize, rng: np.random.Generator) -> float:
    if step.scales:
        return step.scales[pick(rng, step.scale_prob)]
    updown = UPDOWN[pick(rng, step.updown_prob)]
    if updown == "up":
        return _uniform(rng, (1.0, step.scale_range[1]))
    if updown == "down":
        return _uniform(rng, (step.scale_range[0], 1.0))
    return 1.0


def resize_draw(step: Resize, rng: np.random.Generator, size: Size, window: Size, scale: int) -> tuple[Draw, Size]:
    """Output size, ROI end and mode of one resize, as Real-ESRGAN's `F.interpolate` calls size them:
    `to: input` scales the input (`scale_factor`: floor(side * s), sampled at 1 / s, but `area`, which pools
    the whole input), `to: lq` gives int(window / scale * s), `to: gt` int(window * s) (sampled at input / output)."""
    s = _resize_scale(step, rng)
    mode = RESIZE_MODES.index(step.modes[int(rng.integers(len(step.modes)))])
    if step.to == "input":
        out = (math.floor(size[0] * s), math.floor(size[1] * s))
        # `area` is adaptive average pooling, which bins the whole input whatever the factor
        roi = (float(size[0]), float(size[1])) if mode == _AREA else (out[0] / s, out[1] / s)
    else:
        base = (window[0] / scale, window[1] / scale) if step.to == "lq" else window
        out = (int(base[0] * s), int(base[1] * s))
        roi = (float(size[0]), float(size[1]))
    if min(out) < 1:
        out = (max(out[0], 1), max(out[1], 1))
    draw = {"size": np.array(out, np.float32), "roi": np.array(roi, np.float32), "mode": np.array(mode, np.int32)}
    return draw, out


def _noise(step: Noise, rng: np.random.Generator) -> Draw:
    gaussian = rng.uniform() < step.gaussian_prob
    sigma = _uniform(rng, step.sigma)
    scale = _uniform(rng, step.poisson_scale)
    gray = rng.uniform() < step.gray_prob
    return {"gaussian": np.array(gaussian), "sigma": np.array(sigma, np.float32), "scale": np.array(scale, np.float32),
            "gray": np.array(gray)}


def _jpeg(step: Jpeg, rng: np.random.Generator) -> Draw:
    quality = int(np.clip(np.rint(_uniform(rng, step.quality)), 1, 100))  # a JPEG codec takes whole qualities
    return {"quality": np.array(quality, np.int32)}


def _fixed(step: Step, rng: np.random.Generator) -> Draw:
    if isinstance(step, Sinc):
        size = int(rng.choice(step.kernel_sizes))
        return {"kernel": kernels.sinc(size, _uniform(rng, step.cutoff))}
    if isinstance(step, Blur):
        return {"kernel": blur_draw(step, rng).kernel()}
    if isinstance(step, Noise):
        return _noise(step, rng)
    if isinstance(step, Jpeg):
        return _jpeg(step, rng)
    if isinstance(step, Quantize):
        return {"divisor": np.array(step.divisors[pick(rng, step.divisor_prob)],
                                    np.float32)}
    if isinstance(step, Brightness):
        return {"offset": np.array(_uniform(rng, step.offset), np.float32)}
    return {}


def _draw_steps(steps: tuple[Step, ...], rng: np.random.Generator, size: Size, window: Size, scale: int,
                out: Draw) -> Size:
    for step in steps:
        values: Draw = {}
        if step.prob < 1:
            values["on"] = np.array(rng.uniform() < step.prob)
        runs = step.prob >= 1 or bool(values["on"])
        if isinstance(step, OneOf):
            option = pick(rng, step.option_prob)
            values["option"] = np.array(option, np.int32)
            out.update({f"{step.id}_{k}": v for k, v in values.items()})
            ends = [_draw_steps(o, rng, size, window, scale, out) for o in step.options]
            size = ends[option]
            continue
        if isinstance(step, Corrupt):
            drawn, _ = corrupt_draw(step, rng, size)
            values.update(drawn)
        elif isinstance(step, Resize):
            if step.modes == ("matlab",):
                new = (window[0] // scale, window[1] // scale)
            else:
                drawn, new = resize_draw(step, rng, size, window, scale)
                values.update(drawn)
            size = new if runs else size
        else:
            values.update(_fixed(step, rng))
        out.update({f"{step.id}_{k}": v for k, v in values.items()})
    return size


def draw_sample(chain: Chain, rng: np.random.Generator, window: Size) -> tuple[Draw, Size]:
    """All of one sample's draws for a GT window of `window` (h, w), and the size the chain ends at."""
    out: Draw = {}
    end = _draw_steps(chain.steps, rng, window, window, chain.scale, out)
    return out, end
