"""Which samples a rank reads in an epoch, in which order, with which random draws.

Everything is a pure function of (seed, epoch, rank, world_size): the same seed gives
the same batches on any machine and thread count, and resuming at batch k needs only k.
Training follows BasicSR's `EnlargedSampler`: the index repeated `dataset_enlarge_ratio`
times, padded to a multiple of `world_size`, permuted with one generator shared by all
ranks, and dealt out `rank::world_size`, so shards are disjoint and equally long.

An epoch's order is a list of slots; slot s holds a sample and its draws. Under DDP every rank
reads a batch per step, so after k batches a job of W ranks has read the first k x batch_size x W
slots of the order, whichever rank is asked. A job of another world size continues that epoch from
there (`Redeal`): the slots not read yet, without the padding copies of the job that saved, dealt
out over its own ranks.

With `patches_per_image` N > 1 every image slot of that order gives N windows (an epoch is N x the
images' samples). Each rank takes its image slots as above, and the windows of every `IMAGES_PER_GROUP`
consecutive images of its order are shuffled among themselves: a batch mixes windows of many images,
and an image's windows all fall within its group's stretch of batches, so a source that keeps the
decoded images of about two groups decodes each image once per slot.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np

from ..errors import ConfigError


IMAGES_PER_GROUP = 16  # patches_per_image: images whose windows are shuffled together
MAX_EPOCH_SAMPLES = 1 << 26  # 67,108,864 samples: an epoch's plan takes ~60 bytes per sample (4 GB at the limit)


def check_epoch_size(samples: int, enlarge: int, dataset: str, per_image: int = 1) -> None:
    """A `ConfigError` before any plan is made if `samples` x `enlarge` (x `per_image` windows) is more than an
    epoch may hold."""
    total = samples * enlarge * per_image
    if total > MAX_EPOCH_SAMPLES:
        windows = f" x patches_per_image {per_image}" if per_image > 1 else ""
        raise ConfigError(f"{dataset}: {samples:,} samples x dataset_enlarge_ratio {enlarge}{windows} = {total:,} "
                          f"samples per epoch, above the {MAX_EPOCH_SAMPLES:,} an epoch may hold (the loader plans "
                          f"each epoch in memory, ~60 bytes a sample); lower dataset_enlarge_ratio"
                          f"{' or patches_per_image' if windows else ''}")


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


@dataclass(frozen=True)
class EpochOrder:
    """An epoch's slots across all ranks: the permuted values (sample = value % samples; values from
    `samples` x `enlarge` up are the padding copies) and each slot's draws."""

    values: np.ndarray  # (total,) int64
    uniforms: np.ndarray  # (total, 2)
    flips: np.ndarray  # (total, 3)
    clip_draws: np.ndarray  # (total, 3)
    real: int  # samples x enlarge: values below it are the epoch's samples, the others padding copies

    def plan(self, slots: np.ndarray, samples: int, epoch: int, batch_size: int, drop_last: bool) -> EpochPlan:
        """The plan that reads `slots` of this order, in that order."""
        return EpochPlan((self.values[slots] % samples).astype(np.int64), self.uniforms[slots], self.flips[slots],
                         self.clip_draws[slots], slots.astype(np.int64), epoch, batch_size, drop_last)


def epoch_order(n: int, epoch: int, *, seed: int, shuffle: bool, enlarge: int, world_size: int,
                pad_to_equal: bool) -> EpochOrder:
    """The order of `epoch` over a dataset of `n` samples for a job of `world_size` ranks.

    `pad_to_equal` (training) pads the epoch to a multiple of `world_size` so every rank gets the same count;
    without it (validation) every sample appears exactly once across ranks.
    """
    total = order_length(n, enlarge, world_size, pad_to_equal)
    rng = np.random.default_rng([seed, epoch])
    values = rng.permutation(total) if shuffle else np.arange(total)
    uniforms = rng.random((total, 2))
    flips = rng.random((total, 3)) < 0.5
    clip_draws = rng.random((total, 3))  # drawn last: image pipelines keep their earlier draws
    return EpochOrder(values.astype(np.int64), uniforms, flips, clip_draws, n * enlarge)


def order_length(n: int, enlarge: int, world_size: int, pad_to_equal: bool) -> int:
    """Slots in an epoch's order: `n` x `enlarge`, padded to a multiple of `world_size` with `pad_to_equal`."""
    total = n * enlarge
    return math.ceil(total / world_size) * world_size if pad_to_equal else total


def make_plan(n: int, epoch: int, *, seed: int, shuffle: bool, enlarge: int, rank: int, world_size: int,
              batch_size: int, drop_last: bool, pad_to_equal: bool, per_image: int = 1) -> EpochPlan:
    """The plan of `rank` for `epoch` over a dataset of `n` samples (see `epoch_order`), `per_image` windows each."""
    if per_image > 1:
        rng = np.random.default_rng([seed, epoch])
        total = order_length(n, enlarge, world_size, pad_to_equal)
        values = rng.permutation(total) if shuffle else np.arange(total)
        return _windows_plan(n, values, rng, epoch, shuffle, per_image, rank, world_size, batch_size, drop_last,
                             np.random.default_rng([seed, epoch, world_size, rank + 1]))
    order = epoch_order(n, epoch, seed=seed, shuffle=shuffle, enlarge=enlarge, world_size=world_size,
                        pad_to_equal=pad_to_equal)
    mine = np.arange(rank, len(order.values), world_size)
    return order.plan(mine, n, epoch, batch_size, drop_last)


def redealt_slots(order: EpochOrder, start: int, world_size: int, pad_to_equal: bool) -> tuple[np.ndarray, int]:
    """(slots, unpadded) of the rest of an epoch dealt over `world_size` ranks: the slots of `order` from `start`
    that hold samples (padding copies of the order's own job are left out), in order; with `pad_to_equal`, then
    as many of the epoch's first sample slots as make the count a multiple of `world_size` (the wrap-around of
    a whole epoch). Rank r reads `slots[r::world_size]`; `unpadded` is the count before the copies."""
    rest = start + np.flatnonzero(order.values[start:] < order.real)
    short = (-len(rest)) % world_size if pad_to_equal else 0
    if short:
        rest = np.concatenate([rest, np.resize(np.flatnonzero(order.values < order.real), short)])
    return rest, len(rest) - short


@dataclass(frozen=True)
class Redeal:
    """Epoch `epoch` continued from slot `start` of the order of a job of `world_size` ranks (see `redealt_slots`)."""

    epoch: int
    world_size: int
    start: int


def _windows_plan(n: int, order: np.ndarray, rng: np.random.Generator, epoch: int, shuffle: bool, per_image: int,
                  rank: int, world_size: int, batch_size: int, drop_last: bool,
                  group_rng: np.random.Generator) -> EpochPlan:
    """`make_plan` with `per_image` windows per image slot: slot j's windows are the positions j x per_image + k,
    whose draws are the k-th of slot j (the same on every rank); a rank's windows are shuffled within groups of
    `IMAGES_PER_GROUP` of its image slots (by `group_rng`), or kept in slot order without `shuffle`."""
    windows = len(order) * per_image
    uniforms = rng.random((windows, 2))
    flips = rng.random((windows, 3)) < 0.5
    clip_draws = rng.random((windows, 3))
    slots = np.arange(len(order), dtype=np.int64)[rank::world_size]
    positions = (slots[:, None] * per_image + np.arange(per_image)).ravel()
    images = np.repeat(order[slots] % n, per_image).astype(np.int64)
    if shuffle:
        group = np.arange(len(positions)) // (per_image * IMAGES_PER_GROUP)
        mixed = np.lexsort((group_rng.random(len(positions)), group))
        positions, images = positions[mixed], images[mixed]
    return EpochPlan(images, uniforms[positions], flips[positions], clip_draws[positions], positions, epoch,
                     batch_size, drop_last)


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
    redeal: Optional[Redeal] = None  # an epoch resumed from a job of another world size (or another position)
    per_image: int = 1  # windows per sample slot (patches_per_image)

    def plan(self, epoch: int) -> EpochPlan:
        """This rank's plan for `epoch`."""
        return _cached_plan(self, int(epoch))

    def batches(self, epoch: Optional[int] = None) -> int:
        """Batches of `epoch` on this rank; without an epoch, of every epoch that is not a `redeal`."""
        if epoch is None or not self._redealt(epoch):
            return len(_cached_plan(replace(self, redeal=None), 0))
        return len(self.plan(epoch))

    def locate(self, start: tuple[int, int], steps: int) -> tuple[int, int]:
        """(epoch, batch) `steps` batches after (epoch, batch) `start`, running from epoch to epoch."""
        epoch, batch = start[0], start[1] + steps
        while self.redeal is not None and epoch <= self.redeal.epoch:  # epochs up to a redeal may differ in length
            per = self.batches(epoch)
            if batch < per:
                return epoch, batch
            epoch, batch = epoch + 1, batch - per
        more, batch = divmod(batch, self.batches())
        return epoch + more, batch

    # -- positions across ranks ---------------------------------------------------------------
    def order_world_size(self, epoch: int) -> int:
        """The world size whose order `epoch` follows (its slots number the epoch's position)."""
        return self.redeal.world_size if self._redealt(epoch) else self.world_size

    def next_slot(self, epoch: int, batch: int) -> int:
        """The first slot of `epoch`'s order (see `order_world_size`) not read once every rank has read `batch`
        batches (ranks run in lockstep, as under DDP); the order's length once the epoch is read."""
        read = batch * self.batch_size * self.world_size
        if batch >= self.batches(epoch):
            return self.slots_in_order(epoch)
        if not self._redealt(epoch):
            return min(read, self.slots_in_order(epoch))
        slots, unpadded = _cached_dealt(self, epoch)
        return int(slots[read]) if read < unpadded else self.slots_in_order(epoch)

    def continuing(self, saver: "Sampling", epoch: int, batch: int) -> tuple["Sampling", int]:
        """(sampling, batch) with which this rank continues `epoch` where the ranks of `saver` (the sampling of the
        rank that saved the state) stood after `batch` batches: the saver's own plan on the same rank and world
        size; else the next slot of the epoch's order, read on as this job's plan of the epoch where that is one
        (same world size, a whole number of steps read), otherwise dealt anew (`Redeal`)."""
        if (saver.rank, saver.world_size) == (self.rank, self.world_size):
            return replace(self, redeal=saver.redeal), batch
        if self.per_image > 1:
            raise ConfigError(f"load_state_dict: a state saved by rank {saver.rank} of {saver.world_size} resumes on "
                              f"rank {self.rank} of {self.world_size}, which patches_per_image {self.per_image} does "
                              f"not support (each rank keeps its own images); resume on the rank and world size it "
                              f"was saved with")
        slot, world = saver.next_slot(epoch, batch), saver.order_world_size(epoch)
        step = self.batch_size * world
        if world == self.world_size and slot % step == 0:
            return replace(self, redeal=None), slot // step
        return replace(self, redeal=Redeal(epoch, world, slot)), 0

    def slots_in_order(self, epoch: int) -> int:
        """The length of `epoch`'s order (see `order_world_size`)."""
        return order_length(self.samples, self.enlarge, self.order_world_size(epoch), self.pad_to_equal)

    def _redealt(self, epoch: int) -> bool:
        return self.redeal is not None and self.redeal.epoch == epoch

    def _order(self, epoch: int) -> EpochOrder:
        """The order `epoch` follows (see `order_world_size`)."""
        return epoch_order(self.samples, epoch, seed=self.seed, shuffle=self.shuffle, enlarge=self.enlarge,
                           world_size=self.order_world_size(epoch), pad_to_equal=self.pad_to_equal)


@functools.lru_cache(maxsize=2)
def _cached_dealt(sampling: Sampling, epoch: int) -> tuple[np.ndarray, int]:
    """`redealt_slots` of the `redeal` epoch of `sampling` (`state_dict` asks for them at every batch)."""
    return redealt_slots(sampling._order(epoch), sampling.redeal.start, sampling.world_size, sampling.pad_to_equal)


@functools.lru_cache(maxsize=4)
def _cached_plan(sampling: Sampling, epoch: int) -> EpochPlan:
    s = sampling
    if s._redealt(epoch):
        slots, _ = _cached_dealt(s, epoch)
        return s._order(epoch).plan(slots[s.rank::s.world_size], s.samples, epoch, s.batch_size, s.drop_last)
    return make_plan(s.samples, epoch, seed=s.seed, shuffle=s.shuffle, enlarge=s.enlarge, rank=s.rank,
                     world_size=s.world_size, batch_size=s.batch_size, drop_last=s.drop_last,
                     pad_to_equal=s.pad_to_equal, per_image=s.per_image)
