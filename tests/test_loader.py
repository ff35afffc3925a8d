"""Loader behaviour: determinism, epochs, len, sharding, resume, close."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import dali_sr
from conftest import make_nn_pairs, paired_cfg
from dali_sr.storage.backends import SHARED_ENVS

SIZES = [(10 + k % 4, 10 + k % 3) for k in range(10)]


@pytest.fixture
def roots(tmp_path):
    return make_nn_pairs(tmp_path, 2, SIZES, lmdb=True)


def epoch_batches(loader) -> list[dict]:
    return [{"lq": b["lq"].clone(), "gt": b["gt"].clone(), "gt_path": list(b["gt_path"])} for b in loader]


def same(a: list[dict], b: list[dict]) -> bool:
    return len(a) == len(b) and all(
        x["gt_path"] == y["gt_path"] and torch.equal(x["lq"], y["lq"]) and torch.equal(x["gt"], y["gt"])
        for x, y in zip(a, b))


def test_same_seed_same_batches_other_seed_other_batches(roots):
    cfg = paired_cfg(roots, 2, lmdb=True)
    with dali_sr.build_loader(cfg, seed=7) as a, dali_sr.build_loader(cfg, seed=7, num_threads=1,
                                                                     prefetch_queue_depth=1) as b:
        assert same(epoch_batches(a), epoch_batches(b))
    with dali_sr.build_loader(cfg, seed=7) as a, dali_sr.build_loader(cfg, seed=8) as b:
        assert not same(epoch_batches(a), epoch_batches(b))


def test_set_epoch_reshuffles_deterministically(roots):
    cfg = paired_cfg(roots, 2, lmdb=True)
    with dali_sr.build_loader(cfg) as loader:
        e0 = epoch_batches(loader)
        e1 = epoch_batches(loader)  # a finished epoch advances to the next one by itself
        assert loader.epoch == 1
        loader.set_epoch(0)
        again0 = epoch_batches(loader)
        loader.set_epoch(1)
        again1 = epoch_batches(loader)
    assert same(e0, again0) and same(e1, again1)
    assert [b["gt_path"] for b in e0] != [b["gt_path"] for b in e1]


def test_len_drop_last_and_enlarge_ratio(roots):
    cfg = paired_cfg(roots, 2, lmdb=True)
    with dali_sr.build_loader(cfg) as loader:  # 10 samples, batch 4, drop last
        assert len(loader) == 2 == len(epoch_batches(loader))
    with dali_sr.build_loader(cfg, dataset_enlarge_ratio=3) as loader:
        batches = epoch_batches(loader)
        assert len(loader) == 7 == len(batches)
        paths = [p for b in batches for p in b["gt_path"]]
        assert len(set(paths)) == 10 and all(paths.count(p) <= 3 for p in paths)
    with dali_sr.build_loader(cfg, drop_last=False) as loader:
        sizes = [b["lq"].shape[0] for b in epoch_batches(loader)]
        assert len(loader) == 3 and sizes == [4, 4, 2]


def test_training_without_a_full_batch_is_refused_before_any_batch(roots):
    cfg = paired_cfg(roots, 2, lmdb=True)
    for batch, world in ((11, 1), (5, 3)):  # 10 samples: 10 < 11, and 4 per rank < 5
        with pytest.raises(dali_sr.DatasetError) as err:
            dali_sr.build_loader(cfg, rank=0, world_size=world, batch_size_per_gpu=batch)
        assert "10 sample(s)" in str(err.value) and f"no full batch of {batch}" in str(err.value)
        assert "\n" not in str(err.value)
    with dali_sr.build_loader(cfg, rank=0, world_size=3, batch_size_per_gpu=5, drop_last=False) as loader:
        assert len(loader) == 1  # partial batches asked for


def test_validation_reads_every_sample_once_in_order(roots):
    cfg = paired_cfg(roots, 2, lmdb=True, phase="val")
    with dali_sr.build_loader(cfg) as loader:
        paths = [p for b in epoch_batches(loader) for p in b["gt_path"]]
        assert len(loader) == 10
    assert paths == sorted(paths) and len(set(paths)) == 10


def test_shards_are_disjoint_equal_and_cover_the_epoch(roots):
    cfg = paired_cfg(roots, 2, lmdb=True, batch_size_per_gpu=1)
    with dali_sr.build_loader(cfg) as whole:
        everything = [p for b in epoch_batches(whole) for p in b["gt_path"]]
    shards = []
    for rank in range(3):
        with dali_sr.build_loader(cfg, rank=rank, world_size=3) as loader:
            shards.append([p for b in epoch_batches(loader) for p in b["gt_path"]])
            assert len(loader) == 4  # ceil(10 / 3): padded like BasicSR's EnlargedSampler
    combined = shards[0] + shards[1] + shards[2]
    assert len(combined) == 12 and sorted(set(combined)) == sorted(everything)  # 2 wrap-around repeats


def test_validation_shards_read_every_sample_exactly_once(roots):
    cfg = paired_cfg(roots, 2, lmdb=True, phase="val")
    got = []
    for rank in range(3):
        with dali_sr.build_loader(cfg, rank=rank, world_size=3) as loader:
            got += [p for b in epoch_batches(loader) for p in b["gt_path"]]
    assert sorted(got) == sorted(set(got)) and len(got) == 10


def test_resume_mid_epoch_gives_the_same_next_batches(roots):
    cfg = paired_cfg(roots, 2, lmdb=True, batch_size_per_gpu=2, dataset_enlarge_ratio=2)
    with dali_sr.build_loader(cfg) as loader:
        loader.set_epoch(3)
        reference = epoch_batches(loader)
    with dali_sr.build_loader(cfg) as loader:
        loader.set_epoch(3)
        it = iter(loader)
        for _ in range(4):
            next(it)
        state = loader.state_dict()
    assert state["epoch"] == 3 and state["batch"] == 4
    with dali_sr.build_loader(cfg) as resumed:
        resumed.load_state_dict(state)
        assert same(epoch_batches(resumed), reference[4:])


def test_resume_survives_the_readme_loops_set_epoch(roots):
    cfg = paired_cfg(roots, 2, lmdb=True, batch_size_per_gpu=2)
    with dali_sr.build_loader(cfg) as loader:
        loader.set_epoch(2)
        reference = epoch_batches(loader)
        loader.set_epoch(2)  # a finished epoch is replayed from its start
        assert same(epoch_batches(loader), reference)
    with dali_sr.build_loader(cfg) as resumed:
        resumed.load_state_dict({"epoch": 2, "batch": 2})
        for epoch in range(2, 3):  # README: load_state_dict, then set_epoch at each epoch start
            resumed.set_epoch(epoch)
            assert same(epoch_batches(resumed), reference[2:])


def test_resume_refuses_a_different_seed(roots):
    cfg = paired_cfg(roots, 2, lmdb=True)
    with dali_sr.build_loader(cfg, seed=1) as loader:
        state = loader.state_dict()
    with dali_sr.build_loader(cfg, seed=2) as loader, pytest.raises(dali_sr.ConfigError, match="seed"):
        loader.load_state_dict(state)


def test_break_then_new_epoch_restarts_cleanly(roots):
    cfg = paired_cfg(roots, 2, lmdb=True, batch_size_per_gpu=2)
    with dali_sr.build_loader(cfg) as loader:
        loader.set_epoch(1)
        full1 = epoch_batches(loader)
        loader.set_epoch(0)
        next(iter(loader))  # leave epoch 0 after one batch
        loader.set_epoch(1)
        assert same(epoch_batches(loader), full1)


def test_close_releases_lmdb_environments(roots):
    before = SHARED_ENVS.open_count()
    loader = dali_sr.build_loader(paired_cfg(roots, 2, lmdb=True))
    epoch_batches(loader)
    assert SHARED_ENVS.open_count() == before + 2
    loader.close()
    assert SHARED_ENVS.open_count() == before


@pytest.mark.slow
def test_torchrun_two_ranks_get_disjoint_equal_shards(roots, tmp_path):
    script = Path(__file__).with_name("dist_worker.py")
    cfg = paired_cfg(roots, 2, lmdb=True, batch_size_per_gpu=1)
    env = {**os.environ, "DALI_SR_TEST_OUT": str(tmp_path), "DALI_SR_TEST_CFG": repr(cfg)}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
                           str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    shards = [(tmp_path / f"rank{r}.txt").read_text().split() for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 5
    assert not set(shards[0]) & set(shards[1])


def test_next_epoch_reuses_the_pipeline(roots):
    """The pipeline runs on from one epoch into the next (nothing drained or re-armed); only a jump to another
    epoch builds a new one."""
    with dali_sr.build_loader(paired_cfg(roots, 2, lmdb=True)) as loader:
        epoch_batches(loader)
        pipeline = loader._live.pipe
        epoch_batches(loader)
        loader.set_epoch(2)
        epoch_batches(loader)
        assert loader._live.pipe is pipeline
        loader.set_epoch(5)
        epoch_batches(loader)
        assert loader._live.pipe is not pipeline


