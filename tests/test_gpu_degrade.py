"""Degradation chains on the GPU against the CPU graph (same seed -> same windows and draws): run on a GPU machine."""
from __future__ import annotations

import pytest
import torch

import dali_sr
from test_degraded_loader import batches, gt_lmdb, realesrgan_cfg

pytestmark = pytest.mark.gpu

DETERMINISTIC = [{"type": "usm"}, {"type": "blur", "kernel_list": ["iso", "aniso", "plateau_iso"], "sinc_prob": 0.3},
                 {"type": "resize", "resize_prob": [0.4, 0.4, 0.2], "resize_range": [0.5, 1.5],
                  "modes": ["bilinear"]},
                 {"type": "sinc", "prob": 0.5}, {"type": "resize", "to": "lq", "modes": ["bilinear"]}]


def test_gpu_deterministic_chain_is_within_a_level_of_cpu(tmp_path):
    root = gt_lmdb(tmp_path, [(40, 52), (36, 36), (64, 48), (50, 50)])
    cfg = {"type": "PairedImageDataset", "scale": 2, "dataroot_gt": root, "io_backend": {"type": "lmdb"},
           "gt_size": 24, "use_hflip": True, "use_rot": True, "batch_size_per_gpu": 4, "degradation": DETERMINISTIC}
    for g, c in zip(batches(cfg, 2, device="gpu"), batches(cfg, 2, device="cpu")):
        assert g["lq"].device.type == "cuda"
        assert torch.equal(g["gt"].cpu(), c["gt"])
        diff = (g["lq"].cpu() - c["lq"]).abs() * 255
        assert diff.max() <= 1.0 + 1e-4 and (diff > 0.5).float().mean() < 0.01  # float sums in another order


def test_gpu_realesrgan_batches_are_resumable_levels(tmp_path):
    root = gt_lmdb(tmp_path, [(40, 60), (64, 64), (50, 33), (72, 90), (48, 48), (60, 41)])
    cfg = realesrgan_cfg(root, device="gpu", dataset_enlarge_ratio=3)
    with dali_sr.build_loader(cfg) as loader:
        it = iter(loader)
        first = next(it)
        assert first["lq"].device.type == "cuda" and first["gt_usm"].shape == first["gt"].shape
        levels = first["lq"] * 255
        assert torch.equal(levels, levels.round())
        state = loader.state_dict()
        want = [{k: v.clone() for k, v in next(it).items() if torch.is_tensor(v)} for _ in range(2)]
    with dali_sr.build_loader(cfg) as resumed:
        resumed.load_state_dict(state)
        resumed.set_epoch(state["epoch"])
        it = iter(resumed)
        for w in want:
            got = next(it)
            assert all(torch.equal(got[k], w[k]) for k in ("lq", "gt", "gt_usm"))
    cpu = batches(realesrgan_cfg(root, device="cpu"), 1)[0]
    assert torch.equal(first["gt"].cpu(), cpu["gt"])  # the same windows and flips from the same seed
