"""Elastic resume through the loader: a state saved by a job of W ranks resumes in a job of W' ranks. The rest of
the epoch is read once across the new ranks (sample keys gathered from every rank), each resumed sample with the
crop, flips and degradation settings it had in the saving job's order, and later epochs are the seed's
permutation for the new job. In one process with rank= / world_size=, and under torchrun (gloo)."""
from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

import dali_sr
from conftest import make_nn_pairs, paired_cfg
from test_degraded_loader import gt_lmdb
from test_random_streams import noise_cfg

PAIRS = 22  # 11 a rank of 2; after one step of 2 ranks x 2, 18 left: 6 a rank of 3, 18 on one rank


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    return make_nn_pairs(tmp_path_factory.mktemp("elastic"), 2, [(12, 12), (13, 14), (16, 12)] * 7 + [(12, 15)])


def stems(batch: dict) -> list[str]:
    return [Path(p).stem for p in batch["gt_path"]]


def interrupted(cfg: dict, world: int, epoch: int, steps: int) -> tuple[list[dict], dict[str, torch.Tensor]]:
    """Every rank of a `world`-rank job reads `steps` batches of `epoch` and saves its state: (states, GT and LQ
    patches read, by key)."""
    states, seen = [], {}
    for rank in range(world):
        with dali_sr.build_loader(cfg, rank=rank, world_size=world) as loader:
            loader.set_epoch(epoch)
            for step, batch in enumerate(loader):
                seen.update({k: (batch["gt"][i], batch["lq"][i]) for i, k in enumerate(stems(batch))})
                if step + 1 == steps:
                    break
            states.append(loader.state_dict())
    return states, seen


def whole_epoch(cfg: dict, world: int, epoch: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """(GT, LQ) of every key an uninterrupted `world`-rank job reads in `epoch` (each key once: no copies)."""
    out = {}
    for rank in range(world):
        with dali_sr.build_loader(cfg, rank=rank, world_size=world) as loader:
            loader.set_epoch(epoch)
            for batch in loader:
                out.update({k: (batch["gt"][i], batch["lq"][i]) for i, k in enumerate(stems(batch))})
    return out


def resumed(cfg: dict, state: dict, world: int, epoch: int) -> tuple[list[list[dict]], list[list[str]]]:
    """Every rank of a `world`-rank job loads `state` and reads the rest of `epoch`, then the next epoch's keys."""
    rest, later = [], []
    for rank in range(world):
        with dali_sr.build_loader(cfg, rank=rank, world_size=world) as loader:
            loader.load_state_dict(state)
            loader.set_epoch(epoch)
            rest.append([b for b in loader])
            pipeline = loader._live.pipe if loader._live is not None else None
            loader.set_epoch(epoch + 1)
            later.append([k for b in loader for k in stems(b)])
            assert pipeline is None or loader._live.pipe is pipeline  # it ran on into the next epoch
    return rest, later


def seed_order(n: int, seed: int, epoch: int, world: int) -> list[list[str]]:
    """The keys each of `world` ranks reads in `epoch`: BasicSR's EnlargedSampler order from numpy's generator."""
    total = -(-n // world) * world
    values = np.random.default_rng([seed, epoch]).permutation(total) % n
    return [[f"img{v:03d}" for v in values[r::world]] for r in range(world)]


@pytest.mark.parametrize("new_world", [1, 3])
def test_two_ranks_resume_on_another_world_size_each_sample_once_with_its_own_crop(roots, new_world):
    cfg = paired_cfg(roots, 2, batch_size_per_gpu=2, seed=5, drop_last=False)
    states, before = interrupted(cfg, 2, 1, 1)
    assert states[0]["epoch_slot"] == states[1]["epoch_slot"] == 4 and states[1]["order_world_size"] == 2
    rest, later = resumed(cfg, states[1], new_world, 1)  # rank 1's state: any rank's will do
    assert len({len(r) for r in rest}) == 1  # the new ranks run in lockstep
    keys = list(before) + [k for r in rest for b in r for k in stems(b)]
    assert Counter(keys) == Counter(f"img{i:03d}" for i in range(PAIRS))
    whole = whole_epoch(cfg, 2, 1)
    for batches in rest:  # a resumed sample: the crop and flips it had in the uninterrupted job
        for b in batches:
            for i, k in enumerate(stems(b)):
                assert torch.equal(b["gt"][i], whole[k][0]) and torch.equal(b["lq"][i], whole[k][1]), k
    assert later == seed_order(PAIRS, 5, 2, new_world)


def test_a_resumed_job_saves_and_resumes_again_on_other_ranks(roots):
    """2 ranks -> 3 ranks, saved mid-rest -> 1 rank and the same 3 ranks: still each sample once; the same
    3-rank job on the same rank reads the very batches it would have read."""
    cfg = paired_cfg(roots, 2, batch_size_per_gpu=2, seed=5, drop_last=False)
    states, before = interrupted(cfg, 2, 1, 1)
    middle, saved = [], []
    for rank in range(3):
        with dali_sr.build_loader(cfg, rank=rank, world_size=3) as loader:
            loader.load_state_dict(states[0])
            it = iter(loader)
            middle += stems(next(it))
            saved.append(loader.state_dict())
            if rank == 2:
                want = [stems(b) for b in it]
    assert saved[0]["dealt_from"] == 4 and len({s["epoch_slot"] for s in saved}) == 1
    with dali_sr.build_loader(cfg, rank=0, world_size=1) as loader:
        loader.load_state_dict(saved[1])
        loader.set_epoch(1)
        after = [k for b in loader for k in stems(b)]
        loader.set_epoch(1)  # the resumed epoch begun again is read whole
        assert [k for b in loader for k in stems(b)] == seed_order(PAIRS, 5, 1, 1)[0]
    assert Counter(list(before) + middle + after) == Counter(f"img{i:03d}" for i in range(PAIRS))
    with dali_sr.build_loader(cfg, rank=2, world_size=3) as loader:
        loader.load_state_dict(saved[2])
        assert [stems(b) for b in loader] == want


def test_a_state_saved_before_positions_were_recorded_resumes_from_its_batch(roots):
    """A state without `epoch_slot` / `order_world_size` / `dealt_from`: its batch, rank and world size place it."""
    cfg = paired_cfg(roots, 2, batch_size_per_gpu=2, seed=5, drop_last=False)
    states, before = interrupted(cfg, 2, 1, 2)
    old = {k: v for k, v in states[0].items() if k not in ("epoch_slot", "order_world_size", "dealt_from")}
    rest, _ = resumed(cfg, old, 1, 1)
    keys = list(before) + [k for b in rest[0] for k in stems(b)]
    assert Counter(keys) == Counter(f"img{i:03d}" for i in range(PAIRS))


def test_degradation_settings_stay_with_the_sample(tmp_path):
    """A blur chain (kernel drawn per sample from its slot): a resumed sample is degraded as in the uninterrupted
    job, on another world size too."""
    cfg = {"type": "PairedImageDataset", "scale": 2, "dataroot_gt": gt_lmdb(tmp_path, [(40, 40)] * 10),
           "io_backend": {"type": "lmdb"}, "gt_size": 16, "batch_size_per_gpu": 2, "device": "cpu",
           "num_threads": 2, "drop_last": False,
           "degradation": [{"type": "blur", "prob": 1.0}, {"type": "resize", "to": "lq"}]}
    states, before = interrupted(cfg, 2, 0, 1)
    whole = whole_epoch(cfg, 2, 0)
    rest, _ = resumed(cfg, states[0], 3, 0)  # 10 - 4 = 6: 2 a rank
    keys = list(before) + [k for r in rest for b in r for k in stems(b)]
    assert Counter(keys) == Counter(f"img{i:03d}" for i in range(10))
    for b in (b for r in rest for b in r):
        for i, k in enumerate(stems(b)):
            assert torch.equal(b["lq"][i], whole[k][1]), k


def test_noise_fields_resume_on_another_world_size_from_fresh_streams(tmp_path):
    """DALI's noise streams belong to a rank: on another world size the state's DALI checkpoint is not used, the
    samples still are each read once, with noise."""
    cfg = noise_cfg(gt_lmdb(tmp_path, [(48, 48)] * 10, flat=True), batch_size_per_gpu=2, drop_last=False)
    states, before = interrupted(cfg, 2, 0, 1)
    assert "dali_checkpoint" in states[0]
    rest, _ = resumed(cfg, states[0], 1, 0)
    keys = list(before) + [k for b in rest[0] for k in stems(b)]
    assert Counter(keys) == Counter(f"img{i:03d}" for i in range(10))
    assert all((b["lq"] - b["gt"]).abs().mean() * 255 > 10 for b in rest[0])


def test_a_rest_with_no_full_batch_is_an_empty_epoch_then_the_next(roots):
    cfg = paired_cfg(roots, 2, batch_size_per_gpu=2, drop_last=True)
    states, _ = interrupted(cfg, 2, 0, 4)  # 11 a rank: 5 full batches; after 4 steps 16 read, 6 left
    with dali_sr.build_loader(cfg, rank=0, world_size=7) as loader:  # 6 + 1 copy over 7 ranks: 1 each, no batch
        loader.load_state_dict(states[0])
        assert loader.state_dict()["epoch"] == 1
        loader.set_epoch(0)
        assert list(loader) == []
        assert [k for b in loader for k in stems(b)] == seed_order(PAIRS, 0, 1, 7)[0]  # on to the next epoch
        assert loader.epoch == 1 and len(loader) == 2  # 28 slots over 7 ranks: 4 a rank
    with dali_sr.build_loader(cfg, rank=0, world_size=3) as loader:  # 6 over 3 ranks: 2 each, one batch
        loader.load_state_dict(states[1])
        loader.set_epoch(0)
        assert len(list(loader)) == 1
        loader.set_epoch(1)
        assert [k for b in loader for k in stems(b)] == seed_order(PAIRS, 0, 1, 3)[0]


def torchrun(worker_env: dict, world: int, tmp_path: Path) -> None:
    env = {**os.environ, "DALI_SR_TEST_OUT": str(tmp_path), **worker_env}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={world}", "--standalone",
                           str(Path(__file__).with_name("elastic_worker.py"))], env=env, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]


def parts(folder: Path, part: str, world: int) -> list[list[str]]:
    return [(folder / f"{part}_rank{r}.txt").read_text().split() for r in range(world)]


@pytest.mark.slow
def test_torchrun_two_ranks_saved_mid_epoch_resume_on_one_and_three(roots, tmp_path):
    cfg = paired_cfg(roots, 2, batch_size_per_gpu=2, seed=3, drop_last=False)
    saved = tmp_path / "saved"
    saved.mkdir()
    torchrun({"DALI_SR_TEST_CFG": repr(cfg), "DALI_SR_TEST_EPOCH": "1", "DALI_SR_TEST_STEPS": "1"}, 2, saved)
    before = [k for p in parts(saved, "before", 2) for k in p]
    assert len(before) == 4
    states = [torch.load(saved / f"state_rank{r}.pt", weights_only=False) for r in range(2)]
    assert [(s["epoch"], s["batch"], s["epoch_slot"], s["rank"]) for s in states] == [(1, 1, 4, 0), (1, 1, 4, 1)]
    for new_world in (1, 3):
        out = tmp_path / f"on{new_world}"
        out.mkdir()
        torchrun({"DALI_SR_TEST_CFG": repr(cfg), "DALI_SR_TEST_EPOCH": "1",
                  "DALI_SR_TEST_STATE": str(saved / "state_rank1.pt")}, new_world, out)
        rest = parts(out, "rest", new_world)
        assert {len(r) for r in rest} == {18 // new_world}
        assert Counter(before + [k for r in rest for k in r]) == Counter(f"img{i:03d}" for i in range(PAIRS))
        assert parts(out, "next", new_world) == seed_order(PAIRS, 3, 2, new_world)
    assert seed_order(PAIRS, 3, 2, 1)[0] == [k for ks in zip(*seed_order(PAIRS, 3, 2, 2)) for k in ks]
