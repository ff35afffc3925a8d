"""DALI graph pieces shared by the pipelines: decode, integer-window crop, sync flips, output."""
from __future__ import annotations

from typing import Optional, Sequence

from nvidia.dali import fn, types

# BT.601 luma of [0, 1] RGB, as BasicSR's rgb2ycbcr(y_only=True), applied to uint8 input.
_Y_ROW = [c / (255.0 * 255.0) for c in (65.481, 128.553, 24.966)]
_Y_OFFSET = 16.0 / 255.0


def decode(encoded, on_gpu: bool, hw_decoder_load: float):
    """Encoded PNG/JPEG bytes -> HWC uint8 RGB (gray and RGBA converted, as cv2.IMREAD_COLOR).

    On GPU, JPEG decodes with nvJPEG (hardware engines for `hw_decoder_load` of it) and PNG
    on DALI's CPU threads; the whole image is decoded and cropped afterwards, because ROI
    decode crashes nvImageCodec 0.9 on H100 (see DESIGN.md).
    """
    if on_gpu:
        return fn.decoders.image(encoded, device="mixed", output_type=types.RGB,
                                 hw_decoder_load=hw_decoder_load, jpeg_fancy_upsampling=True)
    return fn.decoders.image(encoded, device="cpu", output_type=types.RGB)


def roi_decode(on_gpu: bool) -> bool:
    """Whether training decodes only the crop window. On the CPU it does; on the GPU the whole image
    is decoded and sliced, because ROI decode crashes nvImageCodec 0.9 on H100 (see DESIGN.md)."""
    return not on_gpu


def decode_crop(encoded, shape, anchor):
    """CPU decode of only the window (`shape` (w, h) at `anchor` (x, y)) -> HWC uint8 RGB."""
    return fn.decoders.image_slice(encoded, anchor, shape, device="cpu", output_type=types.RGB, axis_names="WH",
                                   normalized_anchor=False, normalized_shape=False)


def image(value, arrays: bool, window, on_gpu: bool, hw_decoder_load: float):
    """One stored image -> HWC uint8 RGB, cut to `window` ((w, h) shape, (x, y) anchor or None) if given.

    `arrays`: the source already cut the window out of stored pixels; only the move to the GPU
    remains. Otherwise the bytes are decoded: only the window when the anchor is given (training)
    and `roi_decode` allows it, else the whole image, then sliced.
    """
    if arrays:
        value = fn.reshape(value, layout="HWC")
        return value.gpu() if on_gpu else value
    if window is None:
        return decode(value, on_gpu, hw_decoder_load)
    shape, anchor = window
    if anchor is not None and roi_decode(on_gpu):
        return decode_crop(value, shape, anchor)
    return crop(decode(value, on_gpu, hw_decoder_load), shape, anchor)


def crop(image, shape, anchor=None):
    """Cut the window of size `shape` (w, h) at integer pixel `anchor` (x, y), default (0, 0)."""
    if anchor is None:
        return fn.slice(image, shape=shape, axis_names="WH", out_of_bounds_policy="error")
    return fn.slice(image, start=anchor, shape=shape, axis_names="WH", out_of_bounds_policy="error")


def flip(image, horizontal, vertical):
    """Per-sample flips; the same flag nodes on every image of a sample keep them in sync."""
    return fn.flip(image, horizontal=horizontal, vertical=vertical)


def transpose_hw(image, frames: bool = False):
    """Swap H and W of an HWC image or FHWC frames (BasicSR's rot90 = `img.transpose(1, 0, 2)`)."""
    return fn.transpose(image, perm=[0, 2, 1, 3] if frames else [1, 0, 2], transpose_layout=False)


def augment(images: list, nodes: dict, frames: bool = False) -> list:
    """Apply one sample's flags (source outputs `hflip`, `vflip`, `transpose`) to all its images alike."""
    if "hflip" not in nodes:
        return images
    vflip = nodes.get("vflip", 0)
    images = [flip(x, nodes["hflip"], vflip) for x in images]
    if "transpose" in nodes:
        if nodes["transpose"]:
            images = [transpose_hw(x, frames) for x in images]
    return images


def stack_frames(frames: list):
    """HWC frames of equal size -> one FHWC sequence per sample."""
    return fn.stack(*frames, axis=0, axis_name="F")


def to_output(image, mean: Optional[Sequence[float]], std: Optional[Sequence[float]], color_y: bool,
              frames: bool = False):
    """HWC (FHWC) uint8 -> CHW (FCHW) float32 in [0, 1], BT.601 Y if `color_y`, then (x - mean) / std."""
    scale = 1.0
    if color_y:
        image = fn.coord_transform(image, M=_Y_ROW, T=[_Y_OFFSET], dtype=types.FLOAT)
    else:
        scale = 255.0
    m = [scale * x for x in (mean or [0.0])]
    s = [scale * x for x in (std or [1.0])]
    return fn.crop_mirror_normalize(image, dtype=types.FLOAT, output_layout="FCHW" if frames else "CHW", mean=m, std=s)
