"""The graph's INTER_AREA (`pipelines/area.py`, ImageFolderDataset's resizes) against cv2's, per sample of one
batch: halvings (one or two linear resizes), other integer factors (block means), fractional factors up to 8 (4, 6
or 10 gathered taps) and beyond (prefix sums); odd and even sides, one side kept, wide and tall images, sides up to
2048, footprints whose ends fall on whole pixels (where a rounding slip would skip one), a footprint's end cut by
less than OpenCV's 1e-3; float images in [0, 1] and 8-bit ones, on the CPU and on the GPU."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from nvidia.dali import fn, pipeline_def

from dali_sr.pipelines.area import area_resize

CASES = [((32, 32), (16, 16)), ((48, 40), (16, 13)), ((37, 37), (16, 16)), ((100, 90), (64, 45)),
         ((64, 64), (48, 48)), ((17, 17), (5, 5)), ((33, 33), (33, 33)), ((7, 300), (3, 299)), ((9, 9), (1, 1)),
         ((1080, 1077), (256, 255)), ((1080, 1440), (270, 360)), ((30, 42), (10, 21)), ((30, 42), (15, 21)),
         ((2048, 2048), (1024, 1024)), ((2048, 1536), (512, 384)), ((44, 36), (11, 9)), ((48, 40), (24, 10)),
         ((480, 480), (256, 256)), ((158, 1699), (24, 197)), ((158, 1699), (24, 400)), ((1999, 1999), (1000, 1000)),
         ((2048, 2047), (1023, 1024)), ((2047, 2048), (600, 300)), ((513, 257), (511, 200)), ((301, 299), (77, 150)),
         ((1000, 999), (130, 121)), ((2, 2048), (1, 257)), ((2048, 3), (255, 2))]


def _random_cases(seed: int, count: int) -> list:
    """`count` (in, out) pairs of random sides up to 2048 reduced by random factors up to 12."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        h, w = (int(v) for v in rng.integers(1, 2049, 2))
        cases.append(((h, w), (max(1, int(h / rng.uniform(1, 12))), max(1, int(w / rng.uniform(1, 12))))))
    return cases


def _resized(cases: list, images: list, device: str) -> list:
    @pipeline_def(batch_size=len(cases), num_threads=2, device_id=0 if device == "gpu" else None,
                  enable_conditionals=True)
    def pipe():
        x = fn.external_source(lambda: images, batch=True, layout="HWC", device=device)
        ins = fn.external_source(lambda: [np.array(c[0], np.float32) for c in cases], batch=True)
        outs = fn.external_source(lambda: [np.array(c[1], np.float32) for c in cases], batch=True)
        return area_resize(x, ins, outs, on_gpu=device == "gpu")

    p = pipe()
    p.build()
    (out,) = p.run()
    out = out.as_cpu() if device == "gpu" else out
    return [np.array(out[k]) for k in range(len(cases))]


def _check(cases: list, eight_bit: bool, device: str, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    images = [rng.random((h, w, 3)).astype(np.float32) for (h, w), _ in cases]
    if eight_bit:
        images = [np.round(x * 255).astype(np.uint8) for x in images]
    for k, got in enumerate(_resized(cases, images, device)):
        h, w = cases[k][1]
        want = cv2.resize(images[k].astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
        assert got.shape == want.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, want, atol=255e-4 if eight_bit else 1e-4, err_msg=str(cases[k]))


@pytest.mark.parametrize("eight_bit", [pytest.param(False, marks=pytest.mark.slow), True])
def test_area_resize_is_cv2_inter_area(eight_bit):
    _check(CASES, eight_bit, "cpu")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_area_resize_random_sizes_and_factors(seed):
    _check(_random_cases(seed, 24), True, "cpu", seed)


@pytest.mark.gpu
@pytest.mark.parametrize("eight_bit", [False, True])
def test_area_resize_on_the_gpu_is_cv2_inter_area(eight_bit):
    _check(CASES + _random_cases(3, 12), eight_bit, "gpu")
