"""One case of `python -m benchmarks.roi_probe`, run in this process: a DALI ROI decode operator on a batch of
synthetic images of one codec, against the whole-image decode cut by NumPy.

    python -m benchmarks.roi_case CODEC OPERATOR cpu|gpu ITERATIONS

prints the case's result as one JSON line (the probe starts this in a child process, so a crash of the
decoder ends only the case).
"""
from __future__ import annotations

import json
import sys
from typing import Any

import cv2
import numpy as np
from nvidia.dali import fn, pipeline_def, types

from dali_sr.storage.codecs import encode
from dali_sr.synthetic.images import natural_image

CODECS = ("jpeg", "png", "jpeg2000", "htj2k")
OPERATORS = ("image_slice", "image_crop", "image_random_crop")
SIZE, WINDOW, ANCHOR = 480, 96, (37, 200)  # image side, window side, window (x, y) for slice / crop
BATCH = 8


def run_case(codec: str, operator: str, on_gpu: bool, iterations: int) -> dict[str, Any]:
    """Run one case in this process; the largest difference to whole decode + NumPy cut, over all iterations."""
    rng = np.random.default_rng(0)
    images = [np.frombuffer(encode(natural_image(rng, SIZE, SIZE), codec, f"probe{k}"), np.uint8)
              for k in range(BATCH)]
    device = "mixed" if on_gpu else "cpu"
    x, y = ANCHOR

    @pipeline_def(batch_size=BATCH, num_threads=2, device_id=0 if on_gpu else None, prefetch_queue_depth=1)
    def graph():
        encoded = fn.external_source(source=lambda: images, batch=True, dtype=types.UINT8)
        whole = fn.decoders.image(encoded, device=device, output_type=types.RGB)
        if operator == "image_slice":
            roi = fn.decoders.image_slice(encoded, [x, y], [WINDOW, WINDOW], device=device, output_type=types.RGB,
                                          axis_names="WH", normalized_anchor=False, normalized_shape=False)
        elif operator == "image_crop":
            roi = fn.decoders.image_crop(encoded, device=device, output_type=types.RGB, crop=(WINDOW, WINDOW),
                                         crop_pos_x=x / (SIZE - WINDOW), crop_pos_y=y / (SIZE - WINDOW))
        elif operator == "image_random_crop":
            roi = fn.decoders.image_random_crop(encoded, device=device, output_type=types.RGB, seed=1)
        else:
            raise ValueError(f"unknown ROI operator {operator!r}; one of {', '.join(OPERATORS)}")
        return whole, roi

    pipe = graph()
    pipe.build()
    worst = 0
    for _ in range(iterations):
        whole, roi = (out.as_cpu() if on_gpu else out for out in pipe.run())
        for k in range(BATCH):
            full, cut = np.asarray(whole[k]), np.asarray(roi[k])
            # a random crop's window is unknown: take the best-matching position of the whole image
            top, left = _best_match(full, cut) if operator == "image_random_crop" else (y, x)
            want = full[top:top + cut.shape[0], left:left + cut.shape[1]]
            if operator != "image_random_crop" and cut.shape != (WINDOW, WINDOW, 3):
                return {"status": "wrong", "detail": f"window shape {cut.shape}, expected {(WINDOW, WINDOW, 3)}"}
            worst = max(worst, int(np.abs(cut.astype(np.int16) - want.astype(np.int16)).max()))
    return {"status": "ok" if worst <= 1 else "wrong", "max_abs_diff": worst}


def _best_match(full: np.ndarray, cut: np.ndarray) -> tuple[int, int]:
    """(top, left) where `cut` matches `full` best (least squared difference)."""
    scores = cv2.matchTemplate(full.astype(np.float32), cut.astype(np.float32), cv2.TM_SQDIFF)
    _, _, (left, top), _ = cv2.minMaxLoc(scores)
    return top, left


if __name__ == "__main__":
    print(json.dumps(run_case(sys.argv[1], sys.argv[2], sys.argv[3] == "gpu", int(sys.argv[4]))))
