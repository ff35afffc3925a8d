"""The loaders `dali-sr bench` times, each an endless stream of batch sizes on the same samples.

dali_sr's loader; a BasicSR-style DataLoader (`baseline.py` for PairedImageDataset, `clip_baseline.py`
for REDSDataset); plain `cv2.imdecode` of a sample's images in a thread pool (decode only: a bound for
any PNG loader); and the DALI decoder alone on the same images (`decode_dali.py`: the decoder's
ceiling). A sample is a GT + LQ pair (GT alone for a config that makes its LQ), or a clip (its T LQ
frames + the GT centre frame).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Iterator

import cv2
import numpy as np

from .. import Config, Loader
from ..errors import ConfigError
from ..parallel import ordered_map
from .baseline import PREFETCH_FACTOR, imdecode
from .clip_baseline import CLIP_TYPE, basicsr_window, window_options
from .decode_dali import dali_decode_samples
from .dlas_baseline import CHUNK_TYPE, values_of

DALI, BASELINE, DECODE, DECODE_DALI = "dali_sr", "baseline", "decode_only", "decode_dali"
GT_ONLY = "dali_sr_gt_only"  # the same GT, LQ made by bicubic in the graph instead of read
Values = Callable[[int], list[tuple[np.ndarray, str]]]  # (i) -> the encoded images sample i reads, labelled


@dataclass
class Contender:
    """A loader under test: an endless stream of batch sizes (samples), and its timed runs."""

    name: str
    stream: Iterator[int]
    queued: int  # batches its prefetching may hold ready when a run starts
    runs: list[dict] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds between timed batches, all runs


@dataclass(frozen=True)
class Baseline:
    """A BasicSR-style loader of one dataset type: (cfg, the loader's index, workers, on_gpu) -> endless batches."""

    batches: Callable[[Config, Any, int, bool], Iterator[dict]]
    makes_lq: bool = False  # it degrades GT itself, so it needs no stored LQ


@dataclass(frozen=True)
class Workload:
    """The samples the baseline and decode-only contenders load, and what one is called."""

    unit: str  # "pairs" or "clips"
    index: Any  # the loader's own sample index
    values: Values


def _pair_values(index: Any, i: int) -> list[tuple[np.ndarray, str]]:
    """The stored images sample `i` reads: GT and LQ, or GT alone for a GT-only index."""
    sides = [(index.gt, index.gt_keys)] + ([(index.lq, index.lq_keys)] if index.lq is not None else [])
    return [(store.get(keys[i]), store.label(keys[i])) for store, keys in sides]


def _clip_values(index: Any, i: int, **window: Any) -> list[tuple[np.ndarray, str]]:
    """The frames sample `i` reads: its T LQ frames and the GT centre frame (window as the baseline draws it)."""
    clip, centre, frames = basicsr_window(index, i, **window)
    keys = [(index.lq, index.lq_keys[clip][f]) for f in frames] + [(index.gt, index.gt_keys[clip][centre])]
    return [(store.get(key), store.label(key)) for store, key in keys]


def workload(cfg: Config, loader: Loader) -> Workload:
    """Pairs, clips, tiles or images: the samples of the loader's own index."""
    arrays = (getattr(loader.index, "lq_arrays", None), getattr(loader.index, "gt_arrays", None))
    if any(a is not None and a.edvr_shape for a in arrays):
        raise ConfigError(f"{cfg.name}: raw EDVR LMDBs are not supported by bench (BasicSR's "
                          f"{cfg.type} reads encoded images)")
    if cfg.type == CLIP_TYPE:
        if not cfg.is_train:
            raise ConfigError(f"{cfg.name}: bench measures {CLIP_TYPE} training samples (BasicSR's {CLIP_TYPE} "
                              f"always crops); use phase train")
        return Workload("clips", loader.index, partial(_clip_values, loader.index, **window_options(cfg)))
    dlas_values = values_of(cfg, loader.index)
    if dlas_values is not None:
        return Workload("tiles" if cfg.type == CHUNK_TYPE else "images", loader.index, dlas_values)
    return Workload("pairs", loader.index, partial(_pair_values, loader.index))


def batch_samples(batch: dict) -> int:
    """The samples in a batch: the length of its GT (DL-Art-School's types: HQ) tensor."""
    return len(batch["gt"] if "gt" in batch else batch["hq"])


def _dali_samples(loader: Loader) -> Iterator[int]:
    while True:
        for batch in loader:
            yield batch_samples(batch)


def dali_contender(loader: Loader, name: str = DALI) -> Contender:
    """dali_sr's loader, epoch after epoch."""
    return Contender(name, _dali_samples(loader), loader.cfg.prefetch_queue_depth)


def _baseline_samples(batches: Iterator[dict]) -> Iterator[int]:
    for batch in batches:
        yield batch_samples(batch)


def baseline_contender(cfg: Config, work: Workload, workers: int, on_gpu: bool, baseline: Baseline) -> Contender:
    """The BasicSR-style DataLoader with `workers` workers (pinned memory + side-stream copy on a GPU)."""
    if getattr(work.index, "lq", True) is None and not baseline.makes_lq:
        raise ConfigError(f"{cfg.name}: the BasicSR-style baseline reads stored LQ images, and this config makes "
                          f"its LQ from GT; pass --skip-baseline (or bench the stored pairs with --compare-gt-only)")
    queued = PREFETCH_FACTOR * workers + (2 if on_gpu else 0)  # + pin-memory thread and CUDA prefetcher
    return Contender(BASELINE, _baseline_samples(baseline.batches(cfg, work.index, workers, on_gpu)), queued)


def cv2_decode(work: Workload, i: int) -> None:
    """`cv2.imdecode` every image sample `i` reads."""
    for buf, name in work.values(i):
        imdecode(buf, name)


def decode_samples(work: Workload, threads: int, batch_size: int, seed: int) -> Iterator[int]:
    """Samples decoded (no crop, no augment) by `threads` threads, two batches in flight, shuffled."""
    rng = np.random.default_rng(seed)
    order = (int(i) for _ in itertools.count() for i in rng.permutation(len(work.index)))
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    decoded = ordered_map(partial(cv2_decode, work), order, threads, ahead=2 * batch_size)
    try:
        while True:
            for _ in range(batch_size):
                next(decoded)
            yield batch_size
    finally:
        decoded.close()
        cv2.setNumThreads(previous)


def decode_contenders(cfg: Config, work: Workload, workers: int, on_gpu: bool) -> list[Contender]:
    """cv2 on `workers` threads, and DALI's decoder with the config's threads, device and decoder settings."""
    dali = dali_decode_samples(work.values, len(work.index), cfg.batch_size, cfg.num_threads, on_gpu, cfg.device_id,
                               cfg.hw_decoder_load, cfg.prefetch_queue_depth, cfg.seed)
    return [Contender(DECODE, decode_samples(work, workers, cfg.batch_size, cfg.seed), 2),
            Contender(DECODE_DALI, dali, cfg.prefetch_queue_depth)]
