"""Which samples a rank reads in an epoch, in which order, with which random draws.

Everything is a pure function of (seed, epoch, rank, world_size): the same seed gives
the same batches on any machine and thread count, and resuming at batch k needs only k.
Training follows BasicSR's `EnlargedSampler`: the index repeated `dataset_enlarge_ratio`
times, padded to a multiple of `world_size`, permuted with one generator shared by all
ranks, and dealt out `rank::world_size`, so shards are disjoint and equally long.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError


MAX_EPOCH_SAMPLES = 1 << 26  # 67,108,864 samples: an epoch's plan takes ~60 bytes per sample (4 GB at the limit)


def check_epoch_size(samples: int, enlarge: int, dataset: str) -> None:
    """A `ConfigError` before any plan is made if `samples` x `enlarge` is more than an epoch may hold."""
    if samples * enlarge > MAX_EPOCH_SAMPLES:
        raise ConfigError(f"{dataset}: {samples:,} samples x dataset_enlarge_ratio {enlarge} = {samples * enlarge:,} "
                          f"samples per epoch, above the {MAX_EPOCH_SAMPLES:,} an epoch may hold (the loader plans "
                          f"each epoch in memory, ~60 bytes a sample); lower dataset_enlarge_ratio")


@dataclass(frozen=True)
class EpochPlan:
    """Sample indices of one rank's epoch and, per sample, uniform draws and augment flags."""

    indices: np.ndarray  # (n,) int64 dataset indices, in reading order
    uniforms: np.ndarray  # (n, 2) float64 in [0, 1): crop position draws (y, x)
    flips: np.ndarray  # (n, 3) bool: hflip, vflip, transpose (BasicSR's augment order)
    clip_draws: np.ndarray  # (n, 3) float64 in [0, 1): clip interval, window redraw, reverse
    positions: np.ndarray  # (n,) int64 slots in the epoch's order across ranks: seeds of per-sample generators
    epoch: int
    batch_size: int
    drop_last: bool

    def __len__(self) -> int:
        """Batches in the epoch."""
        n = len(self.indices)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def batch(self, b: int) -> slice:
        return slice(b * self.batch_size, min((b + 1) * self.batch_size, len(self.indices)))


def make_plan(n: int, epoch: int, *, seed: int, shuffle: bool, enlarge: int, rank: int, world_size: int,
              batch_size: int, drop_last: bool, pad_to_equal: bool) -> EpochPlan:
    """The plan of `rank` for `epoch` over a dataset of `n` samples.

    `pad_to_equal` (training) wraps around so every rank gets the same count;
    without it (validation) every sample appears exactly once across ranks.
    """
    total = n * enlarge
    if pad_to_equal:
        total = math.ceil(total / world_size) * world_size
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(total) if shuffle else np.arange(total)
    uniforms = rng.random((total, 2))
    flips = rng.random((total, 3)) < 0.5
    clip_draws = rng.random((total, 3))  # drawn last: image pipelines keep their earlier draws
    mine = slice(rank, total, world_size)
    return EpochPlan((order[mine] % n).astype(np.int64), uniforms[mine], flips[mine], clip_draws[mine],
                     np.arange(total, dtype=np.int64)[mine], epoch, batch_size, drop_last)


@dataclass(frozen=True)
class Sampling:
    """Everything an epoch plan depends on; `plan(epoch)` is a pure function of it (cached per process)."""

    samples: int
    seed: int
    shuffle: bool
    enlarge: int
    rank: int
    world_size: int
    batch_size: int
    drop_last: bool
    pad_to_equal: bool  # training: every rank gets as many samples (wrap-around); validation: each sample once

    def plan(self, epoch: int) -> EpochPlan:
        """This rank's plan for `epoch`."""
        return _cached_plan(self, int(epoch))

    def batches(self) -> int:
        """Batches per epoch (the same in every epoch)."""
        return len(self.plan(0))


@functools.lru_cache(maxsize=4)
def _cached_plan(sampling: Sampling, epoch: int) -> EpochPlan:
    s = sampling
    return make_plan(s.samples, epoch, seed=s.seed, shuffle=s.shuffle, enlarge=s.enlarge, rank=s.rank,
                     world_size=s.world_size, batch_size=s.batch_size, drop_last=s.drop_last,
                     pad_to_equal=s.pad_to_equal)
