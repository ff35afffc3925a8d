"""Find which of a few encoded images DALI cannot decode (used only after a decode failure)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from nvidia.dali import fn, pipeline_def, types


def _decodes(encoded: np.ndarray) -> bool:
    @pipeline_def(batch_size=1, num_threads=1, device_id=None, prefetch_queue_depth=1)
    def probe():
        return fn.decoders.image(fn.external_source(lambda: [encoded], batch=True), device="cpu",
                                 output_type=types.RGB)

    pipe = probe()
    try:
        pipe.build()
        pipe.run()
        return True
    except Exception:  # noqa: BLE001 - any decoder failure means "not decodable"
        return False
    finally:
        del pipe


def undecodable(candidates: Sequence[tuple[str, np.ndarray]]) -> list[str]:
    """Names of the (name, bytes) candidates that DALI's CPU decoder rejects."""
    return [name for name, data in candidates if not _decodes(data)]
