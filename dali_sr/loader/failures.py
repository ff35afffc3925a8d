"""Naming what failed when DALI cannot decode a batch: which of its stored images is bad, and why."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
from nvidia.dali import fn, pipeline_def, types

from ..errors import DatasetError
from ..storage.headers import read_header
from .dali_internals import quiet_native_stderr


def _decoded_shape(encoded: np.ndarray) -> Optional[tuple[int, int]]:
    """(h, w) that DALI's CPU decoder gives `encoded`, None if it cannot decode it."""
    @pipeline_def(batch_size=1, num_threads=1, device_id=None, prefetch_queue_depth=1)
    def probe():
        return fn.decoders.image(fn.external_source(lambda: [encoded], batch=True), device="cpu",
                                 output_type=types.RGB)

    pipe = probe()
    try:
        pipe.build()
        (out,) = pipe.run()
        return tuple(np.array(out[0]).shape[:2])
    except Exception:  # noqa: BLE001 - any decoder failure means "not decodable"
        return None
    finally:
        del pipe


def _problem(name: str, encoded: np.ndarray) -> Optional[str]:
    """Why DALI cannot use this image (it does not decode, or not to its header's size); None if it can."""
    with quiet_native_stderr():
        shape = _decoded_shape(encoded)
    if shape is None:
        return f"cannot decode {name}: corrupt or truncated image data; re-create the file"
    header = read_header(encoded, name)
    if shape != (header.height, header.width):
        return (f"{name}: its header says {header.height}x{header.width} but it decodes to {shape[0]}x{shape[1]}; "
                f"the file is corrupt, re-create it")
    return None


def decode_failure(dataset: str, suspects: Sequence[tuple[str, np.ndarray]]) -> Optional[DatasetError]:
    """A one-line `DatasetError` naming the first of the (name, bytes) `suspects` DALI cannot use; None if all are
    fine (then the failure was not the data's)."""
    for name, encoded in suspects:
        problem = _problem(name, encoded)
        if problem is not None:
            return DatasetError(f"{dataset}: {problem}")
    return None
