"""GPU pipelines against the CPU pipeline (same seed -> same windows): run on the GPU machine."""
from __future__ import annotations

from pathlib import Path

import cv2
import pytest
import torch

import dali_sr
from dali_sr.storage.codecs import encode
from dali_sr.storage.lmdb_writer import write_lmdb
from dali_sr.prep.pack import pack
from conftest import make_nn_pairs, nearest_upsample, paired_cfg

pytestmark = pytest.mark.gpu
SIZES = [(12, 14), (10, 10), (13, 11), (16, 12), (11, 15), (14, 13), (20, 24), (9, 9)]


def all_batches(cfg: dict, **overrides) -> list[dict]:
    with dali_sr.build_loader(cfg, **overrides) as loader:
        return [{k: (v.cpu() if torch.is_tensor(v) else v) for k, v in b.items()} | {"device": b["lq"].device}
                for epoch in range(2) for b in loader]


@pytest.mark.parametrize("backend", ["disk", "lmdb"])
@pytest.mark.parametrize("phase", ["train", "val"])
def test_gpu_png_equals_cpu_exactly(tmp_path, backend, phase):
    roots = make_nn_pairs(tmp_path, 4, SIZES, lmdb=backend == "lmdb")
    cfg = paired_cfg(roots, 4, lmdb=backend == "lmdb", phase=phase)
    gpu, cpu = all_batches(cfg, device="gpu"), all_batches(cfg, device="cpu")
    assert len(gpu) == len(cpu) > 0
    for g, c in zip(gpu, cpu):
        assert g["device"] == torch.device("cuda", 0)
        assert g["gt_path"] == c["gt_path"]
        assert torch.equal(g["lq"], c["lq"]) and torch.equal(g["gt"], c["gt"])


def test_gpu_training_crops_are_aligned(tmp_path):
    roots = make_nn_pairs(tmp_path, 3, SIZES)
    for b in all_batches(paired_cfg(roots, 3), device="gpu"):
        lq = (b["lq"] * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        gt = (b["gt"] * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
        for j in range(lq.shape[0]):
            assert (gt[j] == nearest_upsample(lq[j], 3)).all()


@pytest.mark.parametrize("hw_decoder_load", [0.0, 0.65, 1.0])
def test_gpu_jpeg_within_one_level_of_cpu(tmp_path, hw_decoder_load):
    roots = make_nn_pairs(tmp_path, 2, [(64, 48), (40, 56), (48, 48), (56, 40)], ext=".jpg")
    cfg = paired_cfg(roots, 2, gt_size=32)
    gpu = all_batches(cfg, device="gpu", hw_decoder_load=hw_decoder_load)
    cpu = all_batches(cfg, device="cpu")
    for g, c in zip(gpu, cpu):
        assert g["gt_path"] == c["gt_path"]
        for side in ("lq", "gt"):
            assert (g[side] - c[side]).abs().max().item() <= 1.0 / 255 + 1e-6


def test_gpu_color_y_and_normalisation_equal_cpu(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, SIZES[:4])
    cfg = paired_cfg(roots, 2, phase="val", color="y", mean=[0.5], std=[0.5])
    for g, c in zip(all_batches(cfg, device="gpu"), all_batches(cfg, device="cpu")):
        torch.testing.assert_close(g["lq"], c["lq"], rtol=0, atol=1e-5)
        torch.testing.assert_close(g["gt"], c["gt"], rtol=0, atol=1e-5)


def test_gpu_basicsr_fixture_validation_equals_cpu(basicsr_fixtures):
    cfg = {"type": "PairedImageDataset", "phase": "val", "scale": 4, "io_backend": {"type": "lmdb"},
           "dataroot_gt": str(basicsr_fixtures / "gt.lmdb"), "dataroot_lq": str(basicsr_fixtures / "lq.lmdb")}
    for g, c in zip(all_batches(cfg, device="gpu"), all_batches(cfg, device="cpu")):
        assert torch.equal(g["lq"], c["lq"]) and torch.equal(g["gt"], c["gt"])


def test_auto_device_picks_the_gpu(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, SIZES[:4])
    with dali_sr.build_loader(paired_cfg(roots, 2, device="auto")) as loader:
        assert loader.on_gpu
        assert next(iter(loader))["lq"].is_cuda



def _lmdb_in_codecs(folder: str, dst: str, codecs: tuple) -> str:
    """The images of `folder` as an LMDB whose k-th value is in codec k % len(codecs); returns `dst`."""
    if len(codecs) == 1:
        pack(folder, dst, codec=codecs[0], progress=False)
        return dst
    items = []
    for k, f in enumerate(sorted(Path(folder).iterdir())):
        img = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
        items.append((f.stem, encode(img, codecs[k % len(codecs)], str(f)), img.shape))
    write_lmdb(dst, items)  # meta lines say png: every value goes through the decoder, which sniffs it
    return dst


@pytest.mark.parametrize("codecs", [("jpeg2000",), ("htj2k",), ("raw",), ("png", "raw", "jpeg2000", "htj2k")])
@pytest.mark.parametrize("phase", ["train", "val"])
def test_gpu_lossless_codecs_equal_cpu_exactly(tmp_path, codecs, phase):
    """nvJPEG2000 (classic and HTJ2K) / raw windows moved to the GPU / a mixed LMDB: the CPU pipeline's pixels,
    exactly."""
    roots = make_nn_pairs(tmp_path, 2, [(40, 48), (36, 52), (44, 40), (48, 48)])
    for side in ("gt", "lq"):
        roots[f"{side}_lmdb"] = _lmdb_in_codecs(roots[side], str(tmp_path / f"{side}.lmdb"), codecs)
    cfg = paired_cfg(roots, 2, lmdb=True, phase=phase, gt_size=32)
    gpu, cpu = all_batches(cfg, device="gpu"), all_batches(cfg, device="cpu")
    assert len(gpu) == len(cpu) > 0
    for g, c in zip(gpu, cpu):
        assert g["device"] == torch.device("cuda", 0)
        assert torch.equal(g["lq"], c["lq"]) and torch.equal(g["gt"], c["gt"])


def test_gpu_memory_base_is_read_after_dali_returns_a_closed_loaders_pool(tmp_path):
    """DALI's pool outlives pipelines: idle_mib must give its free blocks back, or later cells read near 0."""
    from dali_sr.bench import gpu_memory

    roots = make_nn_pairs(tmp_path, 2, [(200, 200)] * 8)
    base = gpu_memory.idle_mib(0)
    with dali_sr.build_loader(paired_cfg(roots, 2, device="gpu", gt_size=128, batch_size_per_gpu=8)) as loader:
        for _ in range(2):
            for _ in loader:
                pass
        held = gpu_memory.held_since(0, base)
    assert held > 0
    closed = gpu_memory.used_mib(0)
    assert gpu_memory.idle_mib(0) < closed, "the closed loader's pooled blocks were not returned"


@pytest.mark.parametrize("phase", ["train", "val"])
@pytest.mark.parametrize("color", [None, "y"])
def test_gpu_gt_only_bicubic_equals_cpu(tmp_path, phase, color):
    """GT-only: the GPU's bicubic filters give the CPU's LQ (at most one level apart, where float sums round
    differently), the GT exactly."""
    roots = make_nn_pairs(tmp_path, 4, SIZES)
    cfg = {k: v for k, v in paired_cfg(roots, 4, phase=phase, color=color).items() if k != "dataroot_lq"}
    gpu, cpu = all_batches(cfg, device="gpu"), all_batches(cfg, device="cpu")
    assert len(gpu) == len(cpu) > 0
    for g, c in zip(gpu, cpu):
        assert g["device"] == torch.device("cuda", 0) and torch.equal(g["gt"], c["gt"])
        assert (g["lq"] - c["lq"]).abs().max() <= 1.01 / 255


def test_gpu_ffhq_gt_alone_equals_cpu(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, [(16, 16)] * 8, lmdb=True)
    cfg = {"type": "FFHQDataset", "dataroot_gt": roots["gt_lmdb"], "io_backend": {"type": "lmdb"}, "use_hflip": True,
           "mean": [0.5] * 3, "std": [0.5] * 3, "batch_size_per_gpu": 4}
    gpu, cpu = all_batches(cfg, device="gpu"), all_batches(cfg, device="cpu")
    assert len(gpu) == len(cpu) > 0
    for g, c in zip(gpu, cpu):
        assert g["device"] == torch.device("cuda", 0) and "lq" not in g
        assert g["gt_path"] == c["gt_path"] and torch.equal(g["gt"], c["gt"])


def test_gpu_y_patch_records_equal_cpu(tmp_path):
    """One-channel Y patches from TFRecords: GT exactly, the bicubic LQ at most one level apart."""
    import numpy as np
    import tfrecord

    writer = tfrecord.TFRecordWriter(str(tmp_path / "train-0.tfrecord"))
    for seed in range(8):
        writer.write({"gt": (np.random.default_rng(seed).integers(0, 256, 24 * 24, dtype=np.uint8).tobytes(), "byte")})
    writer.close()
    cfg = {"type": "PairedImageDataset", "scale": 2, "dataroot_gt": str(tmp_path), "color": "y", "gt_size": 16,
           "io_backend": {"type": "tfrecord", "feature": "gt", "patch_shape": [24, 24]}, "use_hflip": True,
           "use_rot": True, "batch_size_per_gpu": 4}
    gpu, cpu = all_batches(cfg, device="gpu"), all_batches(cfg, device="cpu")
    assert len(gpu) == len(cpu) > 0
    for g, c in zip(gpu, cpu):
        assert g["device"] == torch.device("cuda", 0) and g["gt"].shape[1] == 1
        assert torch.equal(g["gt"], c["gt"]) and (g["lq"] - c["lq"]).abs().max() <= 1.01 / 255
