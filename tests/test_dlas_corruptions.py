"""DL-Art-School's corruption names in the DALI graph, one `dlas` step at a time on the CPU, against independent
NumPy / OpenCV / PIL re-implementations of `ImageCorruptor`'s formulas applied to the same input with the step's
own drawn values."""
from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from nvidia.dali import fn, pipeline_def
from PIL import Image

from dali_sr.degrade.chain import RESIZE_MODES, parse_chain
from dali_sr.degrade.dlas_names import OPS
from dali_sr.degrade.draws import chain_columns, draw_sample
from dali_sr.pipelines import degrade

N = 12
CV2_FLAGS = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC,
             "area": cv2.INTER_AREA}


def photos(n: int = N, side: int = 32, seed: int = 4) -> list[np.ndarray]:
    """Smooth random float32 RGB images in [0, 1] (blurred noise: edges and flats, as photographs have)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = cv2.GaussianBlur(rng.random((side, side, 3)).astype(np.float32), (0, 0), 1.2)
        out.append(((x - x.min()) / (x.max() - x.min())).astype(np.float32))
    return out


def corrupted(step: dict, imgs: list[np.ndarray], seed: int = 0) -> tuple[list[np.ndarray], list[dict]]:
    """`imgs` through one `dlas` step in a CPU DALI graph (float32 out, unrounded), and each sample's draws."""
    chain = parse_chain([{"type": "dlas", **step}], 1, "test")
    names = chain_columns(chain)
    draws = [draw_sample(chain, np.random.default_rng([seed, i]), img.shape[:2])[0] for i, img in enumerate(imgs)]

    @pipeline_def(batch_size=len(imgs), num_threads=2, device_id=None, enable_conditionals=True, seed=11)
    def pipe():
        nodes = fn.external_source(lambda: [imgs] + [[d[c] for d in draws] for c in names],
                                   num_outputs=1 + len(names), batch=True, layout=["HWC"] + [""] * len(names))
        return degrade.apply_steps(nodes[0], chain.steps, dict(zip(names, nodes[1:])), None, False)

    p = pipe()
    p.build()
    out, = p.run()
    return [np.array(t) for t in out], draws


def value(draw: dict, slot: int, name: str):
    return draw[f"d0_c{slot}_{name}"]


def op(draw: dict, slot: int) -> str:
    return OPS[int(value(draw, slot, "op"))]


def pil_jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """DL-Art-School's JPEG: truncate to uint8, PIL encode (optimize), OpenCV decode to RGB, back to [0, 1]."""
    buffer = io.BytesIO()
    Image.fromarray((img * 255).astype(np.uint8)).save(buffer, "JPEG", quality=quality, optimize=True)
    bgr = cv2.imdecode(np.frombuffer(buffer.getvalue(), np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255


def motion_kernel(size: int, angle: int) -> np.ndarray:
    k = np.zeros((size, size), np.float32)
    k[(size - 1) // 2] = 1
    rotation = cv2.getRotationMatrix2D((size / 2 - 0.5, size / 2 - 0.5), angle, 1.0)
    k = cv2.warpAffine(k, rotation, (size, size))
    return k / k.sum()


@pytest.mark.parametrize("name", ["none", "block_noise", "color_shift", "interlacing", "chromatic_aberration"])
def test_dl_art_schools_no_op_names_leave_the_image(name):
    imgs = photos(3)
    out, _ = corrupted({"fixed_corruptions": [name]}, imgs)
    for img, got in zip(imgs, out):
        assert np.array_equal(img, got)


@pytest.mark.parametrize("blur_scale", [1, 2.5])
def test_gaussian_blur_is_opencvs_with_sigma_from_r(blur_scale):
    imgs = photos()
    out, draws = corrupted({"fixed_corruptions": ["gaussian_blur"], "corruption_blur_scale": blur_scale}, imgs)
    for img, got, d in zip(imgs, out, draws):
        ref = cv2.GaussianBlur(img, (0, 0), blur_scale * float(value(d, 0, "r")) * 1.5)
        np.testing.assert_allclose(got, ref, atol=2e-6)  # float32 sums in another order


def test_a_slot_drawing_either_blur_runs_the_drawn_one():
    """A random slot over both blur names: each sample gets the blur its draw chose (the graph picks the separable
    or the 2-D run by the kernel's shape)."""
    imgs = photos(16)
    step = {"random_corruptions": ["gaussian_blur", "motion_blur"], "num_corrupts_per_image": 1,
            "corruption_blur_scale": 2}
    out, draws = corrupted(step, imgs)
    kinds = set()
    for img, got, d in zip(imgs, out, draws):
        r, shape = float(value(d, 0, "r")), value(d, 0, "kernel").shape
        if shape == (1, 1):  # a one-tap blur of either kind (a motion line of one pixel)
            ref = img
        elif shape[1] == 1:
            kinds.add("gaussian")
            ref = cv2.GaussianBlur(img, (0, 0), 2 * r * 1.5)
        else:
            kinds.add("motion")
            ref = cv2.filter2D(img, -1, motion_kernel(int(2 * r * 3 + 1), int(value(d, 0, "angle"))))
        np.testing.assert_allclose(got, ref, atol=2e-6)
    assert kinds == {"gaussian", "motion"}


def test_motion_blur_is_a_rotated_line_of_integer_length():
    imgs = photos()
    out, draws = corrupted({"fixed_corruptions": ["motion_blur"], "corruption_blur_scale": 3}, imgs)
    sizes = set()
    for img, got, d in zip(imgs, out, draws):
        size = int(3 * float(value(d, 0, "r")) * 3 + 1)
        sizes.add(size)
        ref = cv2.filter2D(img, -1, motion_kernel(size, int(value(d, 0, "angle"))))
        np.testing.assert_allclose(got, ref, atol=2e-6)
    assert len(sizes) > 2 and any(s % 2 == 0 for s in sizes)  # even lengths keep OpenCV's anchor


def test_color_quantization_divides_levels_by_a_power_of_two_from_r():
    imgs = photos()
    out, draws = corrupted({"fixed_corruptions": ["color_quantization"]}, imgs)
    for img, got, d in zip(imgs, out, draws):
        div = 2 ** (int(float(value(d, 0, "r")) * 10 / 3) + 2)
        np.testing.assert_array_equal(got, (img * 255 // div) * div / 255)


def test_saturation_adds_r_times_0_3_and_clips():
    imgs = photos()
    out, draws = corrupted({"fixed_corruptions": ["saturation"]}, imgs)
    for img, got, d in zip(imgs, out, draws):
        np.testing.assert_allclose(got, np.clip(img + float(value(d, 0, "r")) * 0.3, 0, 1), atol=1e-7)


def test_greyscale_is_the_channel_mean():
    imgs = photos(3)
    out, _ = corrupted({"fixed_corruptions": ["greyscale"]}, imgs)
    for img, got in zip(imgs, out):
        np.testing.assert_allclose(got, np.tile(img.mean(axis=2, keepdims=True), [1, 1, 3]), atol=1e-7)


@pytest.mark.parametrize("name", ["noise", "noise-5"])
def test_noise_is_uniform_on_zero_to_its_intensity_unclamped(name):
    imgs = [np.full((48, 48, 3), 0.999, np.float32) for _ in range(6)]
    out, draws = corrupted({"fixed_corruptions": [name]}, imgs)
    fields = [got - img for img, got in zip(imgs, out)]
    assert max(got.max() for got in out) > 1  # DL-Art-School does not clamp noise
    assert len({f.tobytes() for f in fields}) == len(fields)  # a field per sample
    for field, d in zip(fields, draws):
        intensity = 5 / 255 if name == "noise-5" else float(value(d, 0, "r")) * 6 / 255
        assert np.isclose(float(value(d, 0, "amount")), intensity)
        assert field.min() >= -1e-7 and field.max() <= intensity + 1e-7
        if intensity > 1e-3:  # mean intensity / 2, sd intensity / sqrt(12 n): 6 sds
            assert abs(field.mean() - intensity / 2) < 6 * intensity / np.sqrt(12 * field.size)
            assert field.max() > 0.99 * intensity - 1e-6


@pytest.mark.parametrize("name, low, span", [("jpeg", 10, 20), ("jpeg-low", 15, 10), ("jpeg-medium", 23, 25),
                                             ("jpeg-broad", 15, 60), ("jpeg-normal", 47, 35)])
def test_jpeg_names_are_pils_jpeg_at_their_quality(name, low, span):
    """DALI's CPU JPEG distortion (OpenCV's libjpeg-turbo) gives the very levels of PIL's encoder and OpenCV's
    decoder at the same quality (PIL's `optimize` changes only the Huffman tables)."""
    imgs = photos(6, side=48)
    out, draws = corrupted({"fixed_corruptions": [name]}, imgs)
    for img, got, d in zip(imgs, out, draws):
        quality = int((1 - float(value(d, 0, "r"))) * span) + low
        assert int(value(d, 0, "quality")) == quality
        np.testing.assert_array_equal(got, pil_jpeg(img, quality))


def test_jpeg_does_nothing_when_noise_is_among_the_corruptions():
    imgs = photos(4)
    out, draws = corrupted({"fixed_corruptions": ["noise-5", "jpeg-broad"]}, imgs)
    for img, got, d in zip(imgs, out, draws):
        assert op(d, 1) == "none"
        assert (got - img).min() >= -1e-7 and (got - img).max() <= 5 / 255 + 1e-7


def _resampled(img: np.ndarray, factor: int, mode: str) -> np.ndarray:
    h, w = img.shape[:2]
    return cv2.resize(img, (w // factor, h // factor), interpolation=CV2_FLAGS[mode])


def _upscaled(img: np.ndarray, factor: int) -> np.ndarray:
    return cv2.resize(img, (img.shape[1] * factor, img.shape[0] * factor), interpolation=cv2.INTER_LINEAR)


# DALI's cubic is Keys' a = -0.5 (OpenCV: -0.75): measured up to 0.016 (4 levels), 0.003 on average
RESAMPLE_TOLERANCE = {"nearest": 2e-6, "bilinear": 2e-6, "bicubic": 0.02, "area": 2e-6}


@pytest.mark.parametrize("name", ["lq_resampling", "lq_resampling4x"])
def test_lq_resampling_goes_down_by_its_mode_and_back_up_linearly(name):
    imgs = photos(40)
    out, draws = corrupted({"fixed_corruptions": [name]}, imgs)
    seen = set()
    for img, got, d in zip(imgs, out, draws):
        r = float(value(d, 0, "r"))
        factor = 4 if name == "lq_resampling4x" else (1 if r < 0.3 else 2 if r < 0.7 else 4)
        if factor == 1:
            assert op(d, 0) == "none" and np.array_equal(got, img)
            continue
        mode = RESIZE_MODES[int(value(d, 0, "mode"))]
        seen.add(mode)
        ref = _upscaled(_resampled(img, factor, mode), factor)
        assert got.shape == img.shape
        np.testing.assert_allclose(got, ref, atol=RESAMPLE_TOLERANCE[mode], err_msg=mode)
        assert np.abs(got - ref).mean() < RESAMPLE_TOLERANCE[mode] / 4
    assert {"nearest", "bilinear", "area"} <= seen


def test_resampling_is_undone_after_every_other_corruption_in_order():
    """Two 4x resamplings then a saturation: down, down, saturation at 1/16, up, up (DL-Art-School's order)."""
    imgs = photos(16, side=64)
    step = {"fixed_corruptions": ["lq_resampling4x", "lq_resampling4x", "saturation"]}
    out, draws = corrupted(step, imgs)
    checked = 0
    for img, got, d in zip(imgs, out, draws):
        modes = [RESIZE_MODES[int(value(d, s, "mode"))] for s in (0, 1)]
        if "bicubic" in modes:
            continue
        x = _resampled(_resampled(img, 4, modes[0]), 4, modes[1])
        x = np.clip(x + float(value(d, 2, "r")) * 0.3, 0, 1)
        np.testing.assert_allclose(got, _upscaled(_upscaled(x, 4), 4), atol=3e-6)
        checked += 1
    assert checked >= 3


def _gray(x: np.ndarray) -> np.ndarray:
    return (0.2989 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2])[..., None]


def _blend(x: np.ndarray, other, f: float) -> np.ndarray:
    return np.clip(f * x + (1 - f) * other, 0, 1)


def _hue(x: np.ndarray, shift: float) -> np.ndarray:
    """Through OpenCV's float HSV (hue in degrees), the hue moved by `shift` of the circle."""
    hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = np.mod(hsv[..., 0] + shift * 360, 360)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def reference_jitter(img: np.ndarray, factors: np.ndarray, order: np.ndarray) -> np.ndarray:
    """torchvision's ColorJitter with the given factors and order (hue through OpenCV's HSV conversion)."""
    ops = [lambda x: np.clip(x * factors[0], 0, 1),
           lambda x: _blend(x, _gray(x).mean(), factors[1]),
           lambda x: _blend(x, _gray(x), factors[2]),
           lambda x: _hue(x, factors[3])]
    for k in order:
        img = ops[k](img).astype(np.float32)
    return img


def test_color_jitter_is_torchvisions_with_the_drawn_factors_and_order():
    imgs = photos(16)
    out, draws = corrupted({"fixed_corruptions": ["color_jitter"], "cosine_bias": False}, imgs)
    jittered = 0
    for img, got, d in zip(imgs, out, draws):
        r = float(value(d, 0, "r"))
        factors, order = value(d, 0, "jitter"), value(d, 0, "order")
        s = r * 0.2
        if s * 255 <= 1:
            assert op(d, 0) == "none" and np.array_equal(got, img)
            continue
        jittered += 1
        assert all(max(0, 1 - s) <= f <= 1 + s for f in factors[:3]) and -s <= factors[3] <= s
        np.testing.assert_allclose(got, reference_jitter(img, factors, order), atol=5e-6)  # float32 HSV maths
    assert jittered > 8


def test_area_at_whole_factors_is_opencvs_inter_area_and_torchs_pooling():
    """The downscale of DL-Art-School's LQ (and `area` resizes): exact bin means at whole factors, in a batch
    that mixes whole and fractional factors (those keep DALI's antialiasing filter)."""
    import torch
    import torch.nn.functional as F
    from test_degrade_ops import run_graph

    imgs = photos(4, side=48)
    sizes = [(24, 24), (12, 12), (6, 16), (20, 20)]  # factors 2, 4, 8 x 3, 2.4
    size = [np.array(s, np.float32) for s in sizes]
    roi = [np.array([48, 48], np.float32)] * 4
    mode = [np.array(RESIZE_MODES.index("area"), np.int32)] * 4
    out, = run_graph(degrade.resize, imgs, size, roi, mode)
    for img, got, (h, w) in zip(imgs[:3], out, sizes):
        ref = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        np.testing.assert_allclose(got, ref, atol=3e-7)
        pooled = F.adaptive_avg_pool2d(torch.from_numpy(img.transpose(2, 0, 1)), (h, w)).numpy().transpose(1, 2, 0)
        np.testing.assert_allclose(got, pooled, atol=3e-7)
    assert out[3].shape == (20, 20, 3)
