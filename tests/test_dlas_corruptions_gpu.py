"""DL-Art-School's corruptions on the GPU against the CPU graph (same seed -> same windows and draws): run on a
GPU machine."""
from __future__ import annotations

import pytest
import torch

import dali_sr
from test_degraded_loader import batches, gt_lmdb

pytestmark = pytest.mark.gpu

# no noise field, no JPEG (DALI's GPU JPEG is an emulation of the CPU codec) and no cubic resampling mode
DETERMINISTIC = {"type": "dlas", "random_corruptions": ["greyscale", "color_quantization", "saturation",
                                                       "gaussian_blur", "motion_blur", "color_jitter", "none"],
                 "num_corrupts_per_image": 3, "corruption_blur_scale": 2}


def _cfg(root: str, chain: list) -> dict:
    return {"type": "PairedImageDataset", "scale": 2, "dataroot_gt": root, "io_backend": {"type": "lmdb"},
            "gt_size": 32, "use_hflip": True, "use_rot": True, "batch_size_per_gpu": 4, "seed": 2,
            "degradation": chain}


def test_gpu_corruptions_are_within_a_level_of_cpu(tmp_path):
    root = gt_lmdb(tmp_path, [(40, 52), (36, 36), (64, 48), (50, 50)])
    cfg = _cfg(root, [DETERMINISTIC, {"type": "resize", "to": "lq", "modes": ["bilinear"]}])
    for g, c in zip(batches(cfg, 2, device="gpu"), batches(cfg, 2, device="cpu")):
        assert g["lq"].device.type == "cuda" and torch.equal(g["gt"].cpu(), c["gt"])
        diff = (g["lq"].cpu() - c["lq"]).abs() * 255
        assert diff.max() <= 1.0 + 1e-4 and (diff > 0.5).float().mean() < 0.01  # float sums in another order


def test_gpu_corruptions_with_noise_jpeg_and_resampling_resume(tmp_path):
    root = gt_lmdb(tmp_path, [(48, 48), (40, 56), (64, 64)])
    step = {"type": "dlas", "random_corruptions": ["noise", "jpeg-broad", "lq_resampling", "lq_resampling4x"],
            "num_corrupts_per_image": 2, "fixed_corruptions": ["jpeg"]}
    cfg = {**_cfg(root, [{"type": "resize", "to": "lq", "modes": ["area"]}, step]), "device": "gpu",
           "batch_size_per_gpu": 2, "dataset_enlarge_ratio": 3}
    with dali_sr.build_loader(cfg) as loader:
        it = iter(loader)
        next(it)
        state = loader.state_dict()
        want = [{k: v.clone() for k, v in next(it).items() if torch.is_tensor(v)} for _ in range(2)]
    assert want[0]["lq"].device.type == "cuda" and want[0]["lq"].shape == (2, 3, 16, 16)
    with dali_sr.build_loader(cfg) as resumed:
        resumed.load_state_dict(state)
        resumed.set_epoch(state["epoch"])
        it = iter(resumed)
        for w in want:
            got = next(it)
            assert torch.equal(got["lq"], w["lq"]) and torch.equal(got["gt"], w["gt"])
