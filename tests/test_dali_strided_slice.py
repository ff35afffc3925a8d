"""A minimal reproduction of DALI's strided-subscript bug, which `pipelines/ops.every_nth` works around.

On DALI 2.4's CPU backend, `x[::step]` on an axis that the slice kernel splits into blocks (it splits
outputs of more than about 16k elements) returns wrong rows: for a 160 x 160 x 3 image, `x[::4]` gives
source row 5 as output row 5 instead of source row 20. The test below asserts the correct result and is
expected to fail; when a DALI upgrade fixes the bug it passes, which fails the run (strict), so the
workaround gets reconsidered. (The GPU graph takes the same workaround; `test_graph_size_sweep` checks it there.)
"""
from __future__ import annotations

import numpy as np
import pytest
from nvidia.dali import fn, pipeline_def


def strided_rows(image: np.ndarray, step: int) -> np.ndarray:
    @pipeline_def(batch_size=1, num_threads=1, device_id=None)
    def pipe():
        return fn.external_source(lambda: [image], batch=True, layout="HWC")[::step]

    p = pipe()
    p.build()
    (out,) = p.run()
    return np.array(out[0])


def test_small_outputs_are_right():
    image = np.arange(128 * 128 * 3, dtype=np.float32).reshape(128, 128, 3)
    np.testing.assert_array_equal(strided_rows(image, 4), image[::4])


@pytest.mark.xfail(strict=True, reason="DALI 2.4 CPU: a strided subscript on a block-split axis returns wrong rows "
                                       "(pipelines/ops.every_nth works around it)")
def test_strided_rows_of_a_160_pixel_image():
    image = np.arange(160 * 160 * 3, dtype=np.float32).reshape(160, 160, 3)
    np.testing.assert_array_equal(strided_rows(image, 4), image[::4])

