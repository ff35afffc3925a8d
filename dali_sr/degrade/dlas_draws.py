"""Per-sample draws of a `dlas` step, as DL-Art-School's `ImageCorruptor.corrupt_images` draws them for one image.

`count` names are chosen uniformly from `random` with replacement, then the `fixed` names follow. Each slot
gets a value r (uniform, or `1 - cos(r * pi / 2)` with `cosine_bias`) and the per-name values derived from it:
JPEG quality `int((1 - r) * range) + low` (nothing when `noise` / `noise-5` is among the sample's names),
Gaussian sigma `blur_scale * r * 1.5` (OpenCV's kernel for float images), a motion-blur line of
`int(blur_scale * r * 3 + 1)` taps rotated by a whole angle in [0, 360], a colour-quantization divisor
`2 ** (int(r * 10 / 3) + 2)`, noise `r * 6 / 255` (`noise-5`: 5 / 255), saturation `r * 0.3`, colour jitter
factors with setting `r * 0.2` (nothing when `setting * 255 <= 1`), and resampling by 1, 2 or 4 (r below 0.3,
below 0.7, else; `lq_resampling4x`: 4) with a mode drawn as DL-Art-School draws it (`randint(0, 4) % 4` as an
OpenCV flag: nearest 2/5, linear, cubic, area 1/5 each), undone by linear upscales after every other slot.
Every slot draws all of its values whatever its name, so one choice never shifts another's draws.
"""
from __future__ import annotations

import math

import numpy as np

from .chain import RESIZE_MODES, Corrupt
from .dlas_names import JPEG_QUALITY, NAMES, NOISE_NAMES, OPS, ops_of

Draw = dict[str, np.ndarray]
Size = tuple[int, int]

# OpenCV's interpolation flags 0..3 as DL-Art-School passes them, as chain resize modes
_CV2_MODES = tuple(RESIZE_MODES.index(m) for m in ("nearest", "bilinear", "bicubic", "area"))
_EXTRAS = {"quantize": ("amount",), "noise": ("amount",), "saturate": ("amount",), "filter": ("kernel",),
           "jpeg": ("quality",), "jitter": ("jitter", "order"),
           "resample": ("mode", "roi", "size", "back")}


def slot_columns(step: Corrupt, slot: int) -> tuple[str, ...]:
    """The graph's value names of slot `slot` (`c<slot>_<value>`): its operation and what its names need (the
    draws also hold each slot's r and motion-blur angle, `c<slot>_r` and `c<slot>_angle`, which it does not read)."""
    ops = ops_of(step.slot_names(slot), any(n in NOISE_NAMES for n in step.names))
    if ops == ("none",):
        return ()
    extras = [e for op in ops for e in _EXTRAS.get(op, ())]
    return tuple(f"c{slot}_{v}" for v in ("op", *dict.fromkeys(extras)))


def corrupt_columns(step: Corrupt) -> tuple[str, ...]:
    return tuple(c for slot in range(step.slots) for c in slot_columns(step, slot))


def gaussian_kernel(sigma: float) -> np.ndarray:
    """The taps of `cv2.GaussianBlur(float image, (0, 0), sigma)` as a (size, 1) column, size round(8 sigma + 1)
    made odd: the blur is separable, so the graph runs it as this column and then as its transpose (a (size, 1)
    kernel tells the graph so), as OpenCV does."""
    import cv2  # on first use: `dali-sr --help` imports this module and must not pay for OpenCV

    size = max(int(np.rint(sigma * 8 + 1)) | 1, 1)
    g = cv2.getGaussianKernel(size, sigma) if sigma > 0 else np.ones((1, 1))
    return g.astype(np.float32)


def motion_kernel(size: int, angle: int) -> np.ndarray:
    """A horizontal line of `size` taps rotated by `angle` degrees about the kernel's centre (bilinear), summing to 1."""
    import cv2  # on first use, as above

    k = np.zeros((size, size), np.float32)
    k[(size - 1) // 2, :] = 1.0
    centre = size / 2 - 0.5
    k = cv2.warpAffine(k, cv2.getRotationMatrix2D((centre, centre), angle, 1.0), (size, size))
    return (k / np.sum(k)).astype(np.float32)


def _jitter_factors(rng: np.random.Generator, setting: float) -> np.ndarray:
    """Brightness, contrast, saturation factors from [max(0, 1 - s), 1 + s] and a hue shift from [-s, s]."""
    u = rng.random(4)
    low = max(0.0, 1.0 - setting)
    factors = low + u[:3] * (1.0 + setting - low)
    return np.array([*factors, -setting + u[3] * 2 * setting], np.float32)


def corrupt_draw(step: Corrupt, rng: np.random.Generator, size: Size) -> tuple[Draw, Size]:
    """One sample's draws of `step` applied to an image of `size` (h, w), and the size it ends at (`size`)."""
    chosen = [step.random[int(i)] for i in rng.integers(len(step.random), size=step.count)] if step.count else []
    names = chosen + list(step.fixed)
    skip_jpeg = any(n in NOISE_NAMES for n in names)
    values: list[Draw] = []
    current = size
    undo: list[tuple[int, int]] = []  # (slot, factor) of each resampling, in order
    for slot, name in enumerate(names):
        u = float(rng.random())
        r = 1 - math.cos(u * math.pi / 2) if step.cosine_bias else u
        angle = int(rng.integers(0, 361))
        mode = _CV2_MODES[int(rng.integers(0, 5)) % 4]
        setting = r * 0.2
        jitter = _jitter_factors(rng, setting)
        order = rng.permutation(4).astype(np.int32)
        op = NAMES[name]
        v: Draw = {"r": np.array(r, np.float32), "angle": np.array(angle, np.int32), "amount": np.array(0.0, np.float32),
                   "kernel": np.ones((1, 1), np.float32), "quality": np.array(100, np.int32),
                   "jitter": jitter, "order": order, "mode": np.array(mode, np.int32)}
        if op == "quantize":
            v["amount"] = np.array(2 ** (int(r * 10 / 3) + 2), np.float32)
        elif op == "noise":
            v["amount"] = np.array(5 / 255.0 if name == "noise-5" else r * 6 / 255.0, np.float32)
        elif op == "saturate":
            v["amount"] = np.array(r * 0.3, np.float32)
        elif op == "filter":
            v["kernel"] = (gaussian_kernel(step.blur_scale * r * 1.5) if name == "gaussian_blur"
                           else motion_kernel(int(step.blur_scale * r * 3 + 1), angle))
        elif op == "jpeg":
            low, span = JPEG_QUALITY[name]
            v["quality"] = np.array(int((1 - r) * span) + low, np.int32)
            op = "none" if skip_jpeg else op
        elif op == "jitter" and setting * 255 <= 1:
            op = "none"
        elif op == "resample":
            factor = 4 if name == "lq_resampling4x" else (1 if r < 0.3 else 2 if r < 0.7 else 4)
            if factor == 1:
                op = "none"
            else:
                v["roi"] = np.array(current, np.float32)
                current = (current[0] // factor, current[1] // factor)
                v["size"] = np.array(current, np.float32)
                undo.append((slot, factor))
        v["op"] = np.array(OPS.index(op), np.int32)
        values.append(v)
    for i, (slot, factor) in enumerate(undo):  # DL-Art-School multiplies the size back, in the same order
        target = size if i == len(undo) - 1 else (current[0] * factor, current[1] * factor)
        values[slot]["back"] = np.array(target, np.float32)
        current = target
    out: Draw = {}
    for slot, v in enumerate(values):
        v.setdefault("roi", np.array(size, np.float32))
        v.setdefault("size", np.array(size, np.float32))
        v.setdefault("back", np.array(size, np.float32))
        for column in (f"c{slot}_r", f"c{slot}_angle") + slot_columns(step, slot):
            out[column] = v[column.split("_", 1)[1]]
    return out, size
