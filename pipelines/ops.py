"""DALI graph pieces shared by the pipelines: the source, decode, integer-window crop, sync flips, output."""
from __future__ import annotations

from fractions import Fraction
from typing import Any, Optional, Sequence

import numpy as np
from nvidia.dali import fn, types
from nvidia.dali import math as dmath

from dali_sr.degrade import bicubic
from dali_sr.datasets.outputs import ImageSide, SourceOutputs, Window
from dali_sr.datasets.source import PlanSource

# BasicSR's rgb2ycbcr(y_only=True) on [0, 1] BGR: (24.966 B + 128.553 G + 65.481 R + 16) / 255, in float64.
_Y_COEFFICIENTS = {"r": 65.481, "g": 128.553, "b": 24.966}


def source_columns(source: PlanSource, workers: int) -> dict[str, Any]:
    """The external source's columns by name. With `workers`, DALI runs the source in that many worker
    processes (its parallel external source), each computing whole batches ahead."""
    names = source.outputs.columns
    parallel = dict(parallel=True, prefetch_queue_depth=max(2, workers)) if workers else dict(no_copy=True)
    nodes = fn.external_source(source, num_outputs=len(names), batch=True, batch_info=True, **parallel)
    return dict(zip(names, nodes))


def decode(encoded, on_gpu: bool, hw_decoder_load: float):
    """Encoded PNG/JPEG/JPEG 2000/PPM bytes -> HWC uint8 RGB (gray and RGBA converted, as cv2.IMREAD_COLOR).

    On GPU, JPEG decodes with nvJPEG (hardware engines for `hw_decoder_load` of it), JPEG 2000 with
    nvJPEG2000, and PNG on DALI's CPU threads.
    """
    if on_gpu:
        return fn.decoders.image(encoded, device="mixed", output_type=types.RGB,
                                 hw_decoder_load=hw_decoder_load, jpeg_fancy_upsampling=True)
    return fn.decoders.image(encoded, device="cpu", output_type=types.RGB)


def roi_decode(on_gpu: bool) -> bool:
    """Whether training decodes only the crop window. On the CPU it does. On the GPU the whole image is
    decoded and then sliced: nvImageCodec 0.9's ROI decode crashes on H100-class GPUs (an nvImageCodec bug)."""
    return not on_gpu


def decode_crop(encoded, shape, anchor):
    """CPU decode of only the window (`shape` (w, h) at `anchor` (x, y)) -> HWC uint8 RGB."""
    return fn.decoders.image_slice(encoded, anchor, shape, device="cpu", output_type=types.RGB, axis_names="WH",
                                   normalized_anchor=False, normalized_shape=False)


def crop(image, shape, anchor=None):
    """Cut the window of size `shape` (w, h) at integer pixel `anchor` (x, y), default (0, 0)."""
    if anchor is None:
        return fn.slice(image, shape=shape, axis_names="WH", out_of_bounds_policy="error")
    return fn.slice(image, start=anchor, shape=shape, axis_names="WH", out_of_bounds_policy="error")


def stack_frames(frames: list):
    """HWC frames of equal size -> one FHWC sequence per sample."""
    return fn.stack(*frames, axis=0, axis_name="F")


def side_images(columns: dict[str, Any], side: ImageSide, frames: bool, on_gpu: bool, hw_decoder_load: float):
    """One side's values -> HWC uint8 RGB (FHWC with `frames`, the side's columns stacked), cut to its window.

    Pixel windows the source cut need only the move to the GPU. Encoded values are decoded: in
    training only the window where `roi_decode` allows it (frame by frame), else whole, then the
    (stacked) images are sliced once.
    """
    values = [columns[c] for c in side.columns]
    join = stack_frames if frames else (lambda images: images[0])
    if side.pixels:
        images = [fn.reshape(v, layout="HWC") for v in values]
        return join([x.gpu() for x in images] if on_gpu else images)
    if side.window is Window.CROP and roi_decode(on_gpu):
        return join([decode_crop(v, columns[side.shape], columns[side.anchor]) for v in values])
    image = join([decode(v, on_gpu, hw_decoder_load) for v in values])
    if side.window is Window.CROP:
        return crop(image, columns[side.shape], columns[side.anchor])
    if side.window is Window.CUT:
        return crop(image, columns[side.shape])
    return image


def flip(image, horizontal, vertical):
    """Per-sample flips; the same flag nodes on every image of a sample keep them in sync."""
    return fn.flip(image, horizontal=horizontal, vertical=vertical)


def transpose_hw(image, frames: bool = False):
    """Swap H and W of an HWC image or FHWC frames (BasicSR's rot90 = `img.transpose(1, 0, 2)`)."""
    return fn.transpose(image, perm=[0, 2, 1, 3] if frames else [1, 0, 2], transpose_layout=False)


def augment(images: list, columns: dict[str, Any], outputs: SourceOutputs, frames: bool = False) -> list:
    """Apply one sample's flags (columns `hflip`, `vflip`, `transpose`) to all its images alike."""
    if not outputs.flips:
        return images
    vflip = columns["vflip"] if "vflip" in outputs.flips else 0
    images = [flip(x, columns["hflip"], vflip) for x in images]
    if "transpose" in outputs.flips:
        if columns["transpose"]:
            images = [transpose_hw(x, frames) for x in images]
    return images


def _constant(value: np.ndarray, device: str):
    """A tensor constant on `device` (arithmetic needs its operands on one device)."""
    return types.Constant(value, device=device)


def _exact_float64(value: float, device: str):
    """A float64 constant node equal to `value`: DALI stores scalar constants as float32, so the value is
    built from an integer ratio divided in float64 (correctly rounded, as NumPy's literal is)."""
    ratio = Fraction(value).limit_denominator(10 ** 6)
    if float(ratio) != value:
        raise ValueError(f"{value} is not a ratio of small integers")
    parts = [fn.cast(fn.constant(idata=[n], shape=[1], device=device), dtype=types.FLOAT64)
             for n in (ratio.numerator, ratio.denominator)]
    return parts[0] / parts[1]


def _channels(image, frames: bool) -> dict[str, Any]:
    """The R, G, B planes of CHW (FCHW) float64 images, keeping the channel axis."""
    pick = (lambda c: image[:, c:c + 1]) if frames else (lambda c: image[c:c + 1])
    return {"r": pick(0), "g": pick(1), "b": pick(2)}


def normalize(x, mean: Optional[Sequence[float]], std: Optional[Sequence[float]], frames: bool, on_gpu: bool):
    """`(x - mean) / std` of CHW (FCHW) float32, in float32 as torchvision's `normalize` (nothing without mean)."""
    if mean is None:
        return x
    device = "gpu" if on_gpu else "cpu"
    shape = (1, -1, 1, 1) if frames else (-1, 1, 1)
    m = _constant(np.asarray(mean, np.float32).reshape(shape), device)
    s = _constant(np.asarray(std, np.float32).reshape(shape), device)
    return (x - m) / s


def float_output(image, mean: Optional[Sequence[float]], std: Optional[Sequence[float]], on_gpu: bool,
                 frames: bool = False):
    """HWC (FHWC) float32 in [0, 1] (a sharpened GT, a Y plane) -> CHW (FCHW) float32, normalized as `to_output`
    normalizes."""
    return normalize(fn.transpose(image, perm=[0, 3, 1, 2] if frames else [2, 0, 1]), mean, std, frames, on_gpu)


def _bt601_y(planes: dict[str, Any], device: str):
    """BasicSR's Y in [0, 1] of float64 R, G, B planes in [0, 1], cast to float32."""
    c = {name: _exact_float64(v, device) for name, v in _Y_COEFFICIENTS.items()}
    y = planes["b"] * c["b"] + planes["g"] * c["g"] + planes["r"] * c["r"] + _exact_float64(16.0, device)
    return fn.cast(y / _exact_float64(255.0, device), dtype=types.FLOAT)


def y_plane(image, frames: bool, on_gpu: bool, stored_y: bool = False):
    """HWC (FHWC) uint8 RGB -> float32 HW1 (FHW1) Y in [0, 1], not rounded: the values `to_output` yields with
    `color_y` (`stored_y`: the images hold Y in every channel, taken as it is)."""
    x = image / types.Constant(255.0, dtype=types.FLOAT)
    channel = (lambda t, c: t[:, :, :, c:c + 1]) if frames else (lambda t, c: t[:, :, c:c + 1])
    if stored_y:
        return channel(x, 0)
    x64 = fn.cast(x, dtype=types.FLOAT64)
    return _bt601_y({name: channel(x64, c) for c, name in enumerate("rgb")}, "gpu" if on_gpu else "cpu")


def to_output(image, mean: Optional[Sequence[float]], std: Optional[Sequence[float]], color_y: bool,
              frames: bool, on_gpu: bool, stored_y: bool = False):
    """HWC (FHWC) uint8 -> CHW (FCHW) float32 as BasicSR computes it, bit for bit.

    `x.astype(float32) / 255`; with `color_y`, BT.601 Y in float64 as `bgr2ycbcr(y_only=True)`'s
    `np.dot` computes it, then float32 (`stored_y`: the images already hold Y in every channel, kept as
    is); then `(x - mean) / std` in float32 as torchvision's `normalize`.
    """
    device = "gpu" if on_gpu else "cpu"
    image = fn.transpose(image, perm=[0, 3, 1, 2] if frames else [2, 0, 1])  # move 1-byte pixels, not floats
    x = image / types.Constant(255.0, dtype=types.FLOAT)
    if stored_y:
        x = x[:, 0:1] if frames else x[0:1]
    elif color_y:
        x = _bt601_y(_channels(fn.cast(x, dtype=types.FLOAT64), frames), device)
    return normalize(x, mean, std, frames, on_gpu)


def every_nth(x, axis: int, step: int, rank: int):
    """`x[..., ::step, ...]` on `axis` (not the last) of `rank`-D tensors (HWC, FHWC) whose extent on that axis is
    a multiple of `step`, without a strided subscript.

    DALI 2.4's CPU slice kernel returns wrong rows for a step on an axis it splits into blocks, which it
    does once the output holds more than about 16k elements (`x[::4]` of a 160 x 160 x 3 image: output row
    5 holds source row 5, not 20; `tests/test_dali_strided_slice.py` keeps the reproduction). Instead, the
    axis and the next one, (n x step, m), are viewed as (n, step x m) by a reshape (the same bytes), and a
    plain slice keeps the first m of each group. The relative shapes come out exact for every multiple of 2,
    3 and 4 up to 16384 (checked in the tests).
    """
    grouped = fn.reshape(x, rel_shape=[1.0] * axis + [1.0 / step, float(step)] + [1.0] * (rank - axis - 2))
    return fn.slice(grouped, rel_start=[0.0], rel_shape=[1.0 / step], axes=[axis + 1])


def bicubic_float(image, scale: int, frames: bool, on_gpu: bool):
    """HWC (FHWC) images with sides that are multiples of `scale` -> float32 MATLAB `imresize(image, 1/scale)`
    (bicubic, antialiased), not rounded: two 1-D correlations with mirrored borders, each keeping every
    scale-th value (`dali_sr.degrade.bicubic`)."""
    weights, anchor = bicubic.taps(scale)
    device, k = "gpu" if on_gpu else "cpu", len(weights)
    rank, rows = (4, 1) if frames else (3, 0)
    x = fn.cast(image, dtype=types.FLOAT)
    x = fn.filter(x, _constant(weights.reshape(k, 1), device), anchor=[anchor, 0], border="reflect_1001")
    x = every_nth(x, rows, scale, rank)
    x = fn.filter(x, _constant(weights.reshape(1, k), device), anchor=[0, anchor], border="reflect_1001")
    return every_nth(x, rows + 1, scale, rank)


def bicubic_downscale(image, scale: int, frames: bool, on_gpu: bool):
    """HWC (FHWC) uint8 -> `bicubic_float`, rounded to uint8 levels as a stored LQ image would be (half up)."""
    x = bicubic_float(image, scale, frames, on_gpu)
    return fn.cast(dmath.clamp(dmath.floor(x + 0.5), 0.0, 255.0), dtype=types.UINT8)
