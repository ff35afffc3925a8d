"""The plan math of elastic resume: an epoch saved by a job of W ranks after k steps goes on in a job of W' ranks
with the slots of the epoch's order not read yet, each once, dealt over the new ranks in lockstep; the draws of a
slot stay its own; later epochs are the new job's own. Checked against a re-statement of the rule from BasicSR's
`EnlargedSampler` order (numpy's generator seeded with [seed, epoch]), over many sizes, world sizes, positions,
batch sizes, with and without drop_last and padding."""
from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import pytest

from dali_sr.datasets.plan import Sampling

SEED = 7


def sampling(n: int, enlarge: int, rank: int, world: int, batch: int, drop_last: bool, pad: bool) -> Sampling:
    return Sampling(n, SEED, True, enlarge, rank, world, batch, drop_last, pad)


def reference_order(n: int, enlarge: int, world: int, epoch: int, pad: bool) -> tuple[np.ndarray, np.ndarray,
                                                                                       np.ndarray]:
    """(values, uniforms, flips) of every slot: the permutation of the (padded) epoch and its draws."""
    total = n * enlarge
    if pad:
        total = -(-total // world) * world
    rng = np.random.default_rng([SEED, epoch])
    values = rng.permutation(total)
    return values, rng.random((total, 2)), rng.random((total, 3)) < 0.5


def reference_rest(n: int, enlarge: int, world: int, epoch: int, pad: bool, start: int, new_world: int) -> list[int]:
    """The slots a job of `new_world` ranks reads after slot `start` of the order of `world` ranks: the sample slots
    (copies left out), then the epoch's first sample slots again until the count divides `new_world` (training)."""
    values = reference_order(n, enlarge, world, epoch, pad)[0]
    real = [s for s in range(len(values)) if values[s] < n * enlarge]
    rest = [s for s in real if s >= start]
    while pad and len(rest) % new_world:
        rest.append(real[(len(rest) - len([s for s in real if s >= start])) % len(real)])
    return rest


def read(s: Sampling, epoch: int, first: int = 0) -> list[list[int]]:
    """The slots of each batch rank `s.rank` reads in `epoch` from batch `first` to the epoch's end."""
    plan = s.plan(epoch)
    return [plan.positions[plan.batch(b)].tolist() for b in range(first, s.batches(epoch))]


def resumed(n, enlarge, world, steps, new_world, batch, drop_last, pad, epoch=1, saver_rank=0):
    """(slots read by the saving job in its `steps` steps, per new rank the batches it reads of the epoch's rest,
    the saver's next slot)."""
    old = [sampling(n, enlarge, r, world, batch, drop_last, pad) for r in range(world)]
    before = [slot for s in old for b in read(s, epoch)[:steps] for slot in b]
    saver = old[saver_rank]
    after = []
    for r in range(new_world):
        mine, at = sampling(n, enlarge, r, new_world, batch, drop_last, pad).continuing(saver, epoch, steps)
        after.append(read(mine, epoch, at))
    return before, after, saver.next_slot(epoch, steps)


GRID = list(itertools.product([1, 7, 22, 23], [1, 3], [1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 4]))


@pytest.mark.parametrize("drop_last, pad", [(False, True), pytest.param(True, True, marks=pytest.mark.slow),
                                           pytest.param(False, False, marks=pytest.mark.slow)])
def test_the_rest_of_an_epoch_is_dealt_over_the_new_ranks_each_slot_once(drop_last, pad):
    checked = 0
    for n, enlarge, world, new_world, batch in GRID:
        full = sampling(n, enlarge, 0, world, batch, drop_last, pad)
        if drop_last and full.batches() == 0:
            continue
        values = reference_order(n, enlarge, world, 1, pad)[0]
        for steps in range(full.batches()):
            before, after, start = resumed(n, enlarge, world, steps, new_world, batch, drop_last, pad)
            assert start == min(steps * batch * world, len(values))
            assert sorted(before) == list(range(start))  # k steps of W ranks read the order's first k*B*W slots
            lengths = {len(b) for b in after}
            if pad:
                assert len(lengths) == 1, (n, enlarge, world, new_world, batch, steps)  # lockstep: as many batches
            for batches in after:  # full batches but the last
                assert all(len(b) == batch for b in batches[:-1])
                assert not drop_last or all(len(b) == batch for b in batches)
            if new_world == world and start % (batch * world) == 0:  # the saver's own plan goes on, copies too
                rest = list(range(start, len(values)))
            else:
                rest = reference_rest(n, enlarge, world, 1, pad, start, new_world)
            per_rank = [rest[r::new_world] for r in range(new_world)]
            got = [[s for b in batches for s in b] for batches in after]
            if drop_last:  # each new rank drops its last partial batch: at most W' x B - 1 slots of the rest
                per_rank = [p[:len(p) // batch * batch] for p in per_rank]
                assert sum(map(len, per_rank)) > len(rest) - new_world * batch
            assert got == per_rank, (n, enlarge, world, new_world, batch, steps)
            seen = Counter(before) + Counter(s for g in got for s in g)
            real = {s for s in range(len(values)) if values[s] < n * enlarge}
            if not drop_last:
                assert real <= set(seen)  # nothing skipped
            copies = sum(seen.values()) - len(set(seen))
            assert copies < max(new_world, 1) + (len(values) - len(real))  # repeats: only padding copies
            checked += 1
    assert checked > 800


def test_without_padding_or_drop_last_every_sample_is_read_exactly_once():
    """W = 2 -> W' = 1 and 3 over a dataset whose rest divides: each sample once across both jobs."""
    for n, steps in [(22, 1), (22, 3), (14, 2), (10, 1)]:
        for new_world in (1, 3):
            rest = n - steps * 2 * 2
            if rest % new_world:
                continue
            before, after, _ = resumed(n, 1, 2, steps, new_world, 2, False, True)
            values = reference_order(n, 1, 2, 1, True)[0]
            samples = Counter(int(values[s]) % n for s in before + [s for a in after for b in a for s in b])
            assert samples == Counter(range(n))


def test_any_rank_of_the_saving_job_gives_the_same_continuation():
    for n, world, new_world, steps in [(23, 3, 2, 2), (7, 2, 5, 1), (22, 4, 3, 1), (22, 2, 2, 3)]:
        runs = {tuple(map(str, resumed(n, 1, world, steps, new_world, 2, False, True, saver_rank=r)[1:]))
                for r in range(world)}
        assert len(runs) == 1


def test_the_same_world_size_on_another_rank_is_the_uninterrupted_job():
    for n, world, steps in [(23, 3, 2), (22, 2, 3), (9, 4, 1)]:
        _, after, _ = resumed(n, 2, world, steps, world, 2, False, True, saver_rank=world - 1)
        for r in range(world):
            assert after[r] == read(sampling(n, 2, r, world, 2, False, True), 1)[steps:]


def test_draws_stay_with_their_slot():
    """A resumed sample is the same sample with the same crop draws and flips as in the saving job's order."""
    n, enlarge, world, new_world, batch, steps = 23, 2, 2, 3, 4, 2
    values, uniforms, flips = reference_order(n, enlarge, world, 1, True)
    old = sampling(n, enlarge, 1, world, batch, False, True)
    for r in range(new_world):
        mine, at = sampling(n, enlarge, r, new_world, batch, False, True).continuing(old, 1, steps)
        plan = mine.plan(1)
        assert at == 0 and len(plan.indices) > 0
        np.testing.assert_array_equal(plan.indices, values[plan.positions] % n)
        np.testing.assert_array_equal(plan.uniforms, uniforms[plan.positions])
        np.testing.assert_array_equal(plan.flips, flips[plan.positions])


def test_a_resumed_job_resumed_again_still_reads_each_slot_once():
    """2 ranks -> 3 ranks (saved mid-rest) -> 1 rank, and -> 3 ranks again on another rank; later epochs are
    the last job's own permutation."""
    n, batch = 23, 2
    first = [sampling(n, 1, r, 2, batch, False, True) for r in range(2)]
    before = [s for f in first for b in read(f, 1)[:2] for s in b]
    second = [sampling(n, 1, r, 3, batch, False, True).continuing(first[1], 1, 2) for r in range(3)]
    middle = [s for mine, at in second for b in read(mine, 1, at)[:1] for s in b]
    saver = second[2][0]
    for new_world in (1, 3):
        last = [sampling(n, 1, r, new_world, batch, False, True).continuing(saver, 1, 1) for r in range(new_world)]
        after = [s for mine, at in last for b in read(mine, 1, at) for s in b]
        slots = Counter(before + middle + after)
        values = reference_order(n, 1, 2, 1, True)[0]
        real = [s for s in range(len(values)) if values[s] < n]
        assert set(slots) >= set(real) and len(slots) <= len(real) + 1  # the 2-rank job's one copy may be read
        assert all(c == 1 for s, c in slots.items() if s not in real[:new_world])  # copies: the first slots only
        for mine, _ in last:  # the next epoch: the new job's own order
            assert read(mine, 2) == read(sampling(n, 1, mine.rank, new_world, batch, False, True), 2)
    # the same 3-rank job resumed from its own state on the same rank goes on with the same batches
    mine, at = sampling(n, 1, 2, 3, batch, False, True).continuing(saver, 1, 1)
    assert (mine, at) == (saver, 1)


@pytest.mark.parametrize("steps", [0, 1, 2, 3, 4, 5])
def test_next_slot_counts_whole_steps_of_every_rank(steps):
    s = sampling(21, 1, 0, 2, 2, False, True)  # 22 slots (one copy), 11 a rank, 6 batches
    assert s.next_slot(1, steps) == steps * 4
    assert s.next_slot(1, 6) == 22
    assert s.slots_in_order(1) == 22 and s.order_world_size(1) == 2


def test_an_epoch_whose_rest_holds_no_full_batch_has_no_batches():
    old = sampling(10, 1, 0, 2, 2, True, True)  # 5 a rank: 2 batches, drop_last
    mine, at = sampling(10, 1, 0, 3, 2, True, True).continuing(old, 1, 1)  # 6 left: 2 a rank, 1 batch
    assert (mine.batches(1), at) == (1, 0)
    mine, at = sampling(10, 1, 0, 4, 2, True, True).continuing(old, 1, 1)  # 6 left + 2 copies: 2 a rank
    assert mine.batches(1) == 1
    mine, at = sampling(10, 1, 0, 5, 2, True, True).continuing(old, 1, 1)  # 6 + 4 copies over 5: 2 a rank
    assert mine.batches(1) == 1 and mine.batches(2) == mine.batches() == math.ceil(10 / 5) // 2
    mine, _ = sampling(10, 1, 0, 7, 2, True, True).continuing(old, 1, 1)  # 6 + 1 copy over 7: 1 a rank
    assert mine.batches(1) == 0
    assert mine.locate((1, 0), 0) == (2, 0) and mine.locate((1, 0), 1) == (3, 0)
