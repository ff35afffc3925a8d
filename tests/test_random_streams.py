"""The random fields DALI draws in the graph (noise of a degradation chain): different on every rank and for every
sample, the same for the same seed on any thread count, and continued exactly by a resume on every rank."""
from __future__ import annotations

import torch

import dali_sr
from dali_sr.loader.loader import pipeline_seed
from test_degraded_loader import gt_lmdb

NOISE = [{"type": "noise", "gaussian_noise_prob": 1.0, "noise_range": [20, 20]}]


def noise_cfg(dataroot: str, **extra) -> dict:
    """GT-only x1 training whose LQ is the GT plus Gaussian noise of sigma 20 levels: LQ - GT is the noise field."""
    cfg = {"type": "PairedImageDataset", "scale": 1, "dataroot_gt": dataroot, "io_backend": {"type": "lmdb"},
           "gt_size": 32, "degradation": NOISE, "batch_size_per_gpu": 4, "device": "cpu", "num_threads": 2,
           "seed": 11}
    cfg.update(extra)
    return cfg


def noise_fields(cfg: dict, rank: int, world_size: int, n: int = 2, **overrides) -> list[torch.Tensor]:
    """LQ - GT of the first `n` batches of `rank`."""
    with dali_sr.build_loader(cfg, rank=rank, world_size=world_size, **overrides) as loader:
        out = []
        for batch in loader:
            out.append(batch["lq"] - batch["gt"])
            if len(out) == n:
                return out
    return out


def test_two_ranks_with_one_seed_draw_different_noise(tmp_path):
    cfg = noise_cfg(gt_lmdb(tmp_path, [(48, 48)] * 16, flat=True))  # every sample the same flat gray window
    rank0, rank1 = noise_fields(cfg, 0, 2), noise_fields(cfg, 1, 2)
    for a, b in zip(rank0, rank1):
        assert a.abs().mean() * 255 > 10  # the noise is there (sigma 20 levels, clamping aside)
        for i in range(len(a)):
            assert not torch.equal(a[i], b[i]), "ranks 0 and 1 drew the same noise field for one slot"
    fields = [f for batch in rank0 for f in batch]
    for i in range(len(fields)):
        for j in range(i):
            assert not torch.equal(fields[i], fields[j]), f"samples {i} and {j} of rank 0 share a noise field"


def test_a_rank_draws_the_same_noise_on_any_thread_count(tmp_path):
    cfg = noise_cfg(gt_lmdb(tmp_path, [(48, 48)] * 16, flat=True))
    one, two = noise_fields(cfg, 1, 2, num_threads=1), noise_fields(cfg, 1, 2, num_threads=2)
    assert all(torch.equal(a, b) for a, b in zip(one, two))


def test_every_rank_resumes_its_own_noise(tmp_path):
    cfg = noise_cfg(gt_lmdb(tmp_path, [(48, 48)] * 16, flat=True), dataset_enlarge_ratio=3)
    for rank in (0, 1):
        with dali_sr.build_loader(cfg, rank=rank, world_size=2) as loader:
            it = iter(loader)
            next(it)
            state = loader.state_dict()
            want = [next(it)["lq"].clone() for _ in range(2)]
        with dali_sr.build_loader(cfg, rank=rank, world_size=2) as resumed:
            resumed.load_state_dict(state)
            resumed.set_epoch(state["epoch"])
            it = iter(resumed)
            assert all(torch.equal(w, next(it)["lq"]) for w in want), f"rank {rank}"


def test_pipeline_seeds_differ_by_rank_and_start_and_fit_dali():
    seeds = {pipeline_seed(s, rank, start) for s in (0, 2**63 - 1) for rank in range(4)
             for start in ((0, 0), (0, 1), (1, 0))}
    assert len(seeds) == 24 and all(0 <= s < 2**32 for s in seeds)
    assert pipeline_seed(5, 1, (2, 3)) == pipeline_seed(5, 1, (2, 3))
