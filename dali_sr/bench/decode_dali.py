"""The DALI decoder alone: the stored images of shuffled samples decoded whole, nothing else.

This is the ceiling for any DALI loader of the same files: the same decoder and settings
as the pipelines (`pipelines.ops.decode`: nvJPEG / nvJPEG2000 / hardware JPEG engines on
the GPU for `hw_decoder_load` of the JPEGs, CPU threads otherwise), no crop, no augment, no
copy to PyTorch. One DALI batch holds every image of `batch_size` samples.
"""
from __future__ import annotations

import itertools
from typing import Callable, Iterator

import numpy as np
from nvidia.dali import fn, pipeline_def, types

from ..pipelines.ops import decode

# (sample number) -> the encoded images that sample reads, with their labels
Values = Callable[[int], list[tuple[np.ndarray, str]]]


def _flat_batches(values: Values, samples: int, batch_size: int, seed: int) -> Iterator[list[np.ndarray]]:
    """Endless lists of the encoded images of `batch_size` samples, in shuffled epochs."""
    rng = np.random.default_rng(seed)
    order = (int(i) for _ in itertools.count() for i in rng.permutation(samples))
    while True:
        yield [buf for _ in range(batch_size) for buf, _ in values(next(order))]


def decode_pipeline(batches: Iterator[list[np.ndarray]], images: int, num_threads: int, on_gpu: bool,
                    device_id: int, hw_decoder_load: float, prefetch_queue_depth: int, seed: int):
    """A built DALI pipeline whose one output is the decoded RGB images of each list of `images` encoded ones."""

    @pipeline_def
    def graph():
        encoded = fn.external_source(source=batches, dtype=types.UINT8, batch=True)
        return decode(encoded, on_gpu, hw_decoder_load)

    pipe = graph(batch_size=images, num_threads=num_threads, device_id=device_id if on_gpu else None,
                 prefetch_queue_depth=prefetch_queue_depth, seed=seed)
    pipe.build()
    return pipe


def dali_decode_samples(values: Values, samples: int, batch_size: int, num_threads: int, on_gpu: bool,
                        device_id: int, hw_decoder_load: float, prefetch_queue_depth: int,
                        seed: int) -> Iterator[int]:
    """Endless batch sizes (`batch_size` samples each) decoded by a DALI pipeline; closing it frees the pipeline."""
    images = batch_size * len(values(0))
    pipe = decode_pipeline(_flat_batches(values, samples, batch_size, seed), images, num_threads, on_gpu, device_id,
                           hw_decoder_load, prefetch_queue_depth, seed)
    while True:
        pipe.run()
        yield batch_size
