"""The graph's INTER_AREA (`pipelines/area.py`, ImageFolderDataset's resizes) against cv2's, per sample of one
batch: halvings (one or two linear resizes), other integer factors (block means) and non-integer ones (prefix sums), odd and
even sides, one side kept, wide and tall images, large ones; float images in [0, 1] and 8-bit ones."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from nvidia.dali import fn, pipeline_def

from dali_sr.pipelines.area import area_resize

CASES = [((32, 32), (16, 16)), ((48, 40), (16, 13)), ((37, 37), (16, 16)), ((100, 90), (64, 45)),
         ((64, 64), (48, 48)), ((17, 17), (5, 5)), ((33, 33), (33, 33)), ((7, 300), (3, 299)), ((9, 9), (1, 1)),
         ((1080, 1077), (256, 255)), ((1080, 1440), (270, 360)), ((30, 42), (10, 21)), ((30, 42), (15, 21)),
         ((2048, 2048), (1024, 1024)), ((2048, 1536), (512, 384)), ((44, 36), (11, 9)), ((48, 40), (24, 10))]


@pytest.mark.parametrize("eight_bit, mirrored", [(False, False), (True, False), (True, True)])
def test_area_resize_is_cv2_inter_area(eight_bit, mirrored):
    """With `hflip` (every other sample here) the image is mirrored first: inside the halvings' resizes, by a
    flip in the other branches."""
    rng = np.random.default_rng(0)
    images = [rng.random((h, w, 3)).astype(np.float32) for (h, w), _ in CASES]
    if eight_bit:
        images = [np.round(x * 255).astype(np.uint8) for x in images]
    flips = [int(mirrored and k % 2 == 1) for k in range(len(CASES))]

    @pipeline_def(batch_size=len(CASES), num_threads=1, device_id=None, enable_conditionals=True)
    def pipe():
        x = fn.external_source(lambda: images, batch=True, layout="HWC")
        ins = fn.external_source(lambda: [np.array(c[0], np.float32) for c in CASES], batch=True)
        outs = fn.external_source(lambda: [np.array(c[1], np.float32) for c in CASES], batch=True)
        hflip = fn.external_source(lambda: [np.array(f, np.int32) for f in flips], batch=True)
        return area_resize(x, ins, outs, on_gpu=False, hflip=hflip if mirrored else None)

    p = pipe()
    p.build()
    (out,) = p.run()
    for k, (_, (h, w)) in enumerate(CASES):
        image = images[k][:, ::-1] if flips[k] else images[k]
        want = cv2.resize(np.ascontiguousarray(image, np.float32), (w, h), interpolation=cv2.INTER_AREA)
        got = np.array(out[k])
        assert got.shape == want.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, want, atol=255e-4 if eight_bit else 1e-4, err_msg=str(CASES[k]))
