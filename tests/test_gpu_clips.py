"""Clip pipelines on the GPU against the CPU pipeline (same seed -> same frames and windows)."""
from __future__ import annotations

import pytest
import torch

from dali_sr.prep.pack import pack
from conftest import clip_cfg, make_nn_clips, nearest_upsample
from test_gpu import all_batches

pytestmark = pytest.mark.gpu
CLIPS = {"001": (9, 12, 14), "002": (7, 12, 14), "003": (12, 12, 14)}


def names(batch: dict) -> list:
    return batch.get("key") or list(zip(batch["folder"], batch.get("idx", batch["folder"])))


@pytest.mark.parametrize("kind, phase", [("REDSDataset", "train"), ("REDSRecurrentDataset", "train"),
                                         ("VideoTestDataset", "val"), ("VideoRecurrentTestDataset", "val")])
@pytest.mark.parametrize("backend", ["disk", "lmdb"])
def test_gpu_png_clips_equal_cpu_exactly(tmp_path, kind, phase, backend):
    roots = make_nn_clips(tmp_path, 2, CLIPS, lmdb=backend == "lmdb")
    cfg = clip_cfg(roots, 2, kind, lmdb=backend == "lmdb", phase=phase, num_frame=3, random_reverse=True,
                   interval_list=[1, 2])
    gpu, cpu = all_batches(cfg, device="gpu"), all_batches(cfg, device="cpu")
    assert len(gpu) == len(cpu) > 0
    for g, c in zip(gpu, cpu):
        assert g["device"] == torch.device("cuda", 0)
        assert names(g) == names(c)
        assert torch.equal(g["lq"], c["lq"]) and torch.equal(g["gt"], c["gt"])


def test_gpu_clip_crops_are_aligned_on_every_frame(tmp_path):
    roots = make_nn_clips(tmp_path, 3, CLIPS)
    for b in all_batches(clip_cfg(roots, 3, "REDSRecurrentDataset", num_frame=4), device="gpu"):
        lq = (b["lq"] * 255).round().to(torch.uint8).permute(0, 1, 3, 4, 2).numpy()
        gt = (b["gt"] * 255).round().to(torch.uint8).permute(0, 1, 3, 4, 2).numpy()
        for j in range(lq.shape[0]):
            for t in range(lq.shape[1]):
                assert (gt[j, t] == nearest_upsample(lq[j, t], 3)).all()


@pytest.mark.parametrize("kind", ["REDSDataset", "REDSRecurrentDataset"])
def test_gpu_jpeg_clips_within_one_level_of_cpu(tmp_path, kind):
    roots = make_nn_clips(tmp_path, 2, {"001": (6, 32, 48), "002": (6, 40, 32)}, ext=".jpg")
    cfg = clip_cfg(roots, 2, kind, num_frame=3, gt_size=32, batch_size_per_gpu=2)
    for g, c in zip(all_batches(cfg, device="gpu"), all_batches(cfg, device="cpu")):
        assert g["key"] == c["key"]
        for side in ("lq", "gt"):
            assert (g[side] - c[side]).abs().max().item() <= 1.0 / 255 + 1e-6


def test_gpu_old_edvr_raw_clips_equal_cpu(tmp_path):
    import numpy as np

    from test_storage import write_edvr_lmdb

    rng = np.random.default_rng(5)
    lq = {f"001_{i:08d}": rng.integers(0, 256, (12, 14, 3), dtype=np.uint8) for i in range(5)}
    write_edvr_lmdb(tmp_path / "lq.lmdb", lq, "LQ")
    write_edvr_lmdb(tmp_path / "gt.lmdb", {k: nearest_upsample(v, 2) for k, v in lq.items()}, "GT")
    cfg = clip_cfg({"gt_lmdb": str(tmp_path / "gt.lmdb"), "lq_lmdb": str(tmp_path / "lq.lmdb")}, 2, lmdb=True,
                   batch_size_per_gpu=1)
    for g, c in zip(all_batches(cfg, device="gpu"), all_batches(cfg, device="cpu")):
        assert g["key"] == c["key"] and torch.equal(g["lq"], c["lq"]) and torch.equal(g["gt"], c["gt"])


@pytest.mark.parametrize("codec", ["jpeg2000", "htj2k", "raw"])
@pytest.mark.parametrize("kind, phase", [("REDSDataset", "train"), ("REDSRecurrentDataset", "train"),
                                         ("VideoTestDataset", "val")])
def test_gpu_lossless_codec_clips_equal_cpu_exactly(tmp_path, codec, kind, phase):
    roots = make_nn_clips(tmp_path, 2, {"001": (6, 32, 36), "002": (5, 32, 36)}, lmdb=True)
    for side in ("gt", "lq"):
        pack(roots[side], str(tmp_path / f"{side}_{codec}.lmdb"), codec=codec, preset="reds", progress=False)
    partition = {"val_partition": "official"} if kind.startswith("REDS") else {}  # keep clips 001, 002
    cfg = clip_cfg(roots, 2, kind, lmdb=True, phase=phase, num_frame=3, **partition,
                   dataroot_lq=str(tmp_path / f"lq_{codec}.lmdb"), dataroot_gt=str(tmp_path / f"gt_{codec}.lmdb"))
    gpu, cpu = all_batches(cfg, device="gpu"), all_batches(cfg, device="cpu")
    assert len(gpu) == len(cpu) > 0
    for g, c in zip(gpu, cpu):
        assert names(g) == names(c)
        assert torch.equal(g["lq"], c["lq"]) and torch.equal(g["gt"], c["gt"])
