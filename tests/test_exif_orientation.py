"""Exif orientation: cv2.IMREAD_COLOR (BasicSR) and DALI both rotate, so windows use the rotated size."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import dali_sr
import dali_sr.pipelines.ops as ops
from conftest import make_nn_pairs, nearest_upsample, paired_cfg, with_orientation
from dali_sr.storage.headers import read_header

SIZES = [(9, 14), (12, 10), (11, 13)]  # LQ as stored; orientations 5-8 show them transposed


def oriented_pairs(tmp_path: Path, ext: str, orientation: int) -> dict:
    roots = make_nn_pairs(tmp_path, 2, SIZES, ext=ext)
    for side in ("gt", "lq"):
        for path in Path(roots[side]).iterdir():
            path.write_bytes(with_orientation(path.read_bytes(), orientation))
    return roots


def cv2_rgb(path: str) -> np.ndarray:
    """What BasicSR reads: cv2.IMREAD_COLOR (Exif orientation applied), as RGB HWC uint8."""
    return cv2.imread(path, cv2.IMREAD_COLOR)[:, :, ::-1]


def as_u8(t: torch.Tensor) -> np.ndarray:
    return (t.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def is_window_of(patch: np.ndarray, image: np.ndarray) -> bool:
    views = np.lib.stride_tricks.sliding_window_view(image, patch.shape[:2], axis=(0, 1))
    return bool((views == patch.transpose(2, 0, 1)).all(axis=(2, 3, 4)).any())


@pytest.mark.parametrize("ext", [".png", ".jpg"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_header_size_is_the_size_cv2_decodes(tmp_path, ext, orientation):
    path = Path(oriented_pairs(tmp_path, ext, orientation)["lq"]) / "img000"
    path = path.with_suffix(ext)
    header = read_header(np.fromfile(path, np.uint8), str(path))
    assert (header.height, header.width) == cv2.imread(str(path), cv2.IMREAD_COLOR).shape[:2]
    assert (header.height, header.width) == (SIZES[0][::-1] if orientation >= 5 else SIZES[0])


@pytest.mark.parametrize("orientation", range(1, 9))
def test_validation_equals_cv2_for_every_orientation(tmp_path, orientation):
    roots = oriented_pairs(tmp_path, ".png", orientation)
    with dali_sr.build_loader(paired_cfg(roots, 2, phase="val")) as loader:
        for batch in loader:
            for side in ("lq", "gt"):
                np.testing.assert_array_equal(as_u8(batch[side][0]), cv2_rgb(batch[f"{side}_path"][0]))


@pytest.mark.parametrize("ext", [".png", ".jpg"])
@pytest.mark.parametrize("orientation", [3, 5, 6, 8])
def test_training_windows_are_cut_from_the_rotated_image(tmp_path, ext, orientation, monkeypatch):
    cfg = paired_cfg(oriented_pairs(tmp_path, ext, orientation), 2, gt_size=16, batch_size_per_gpu=3,
                     use_hflip=False, use_rot=False)
    with dali_sr.build_loader(cfg) as loader:
        window = [b for _ in range(3) for b in loader]
    monkeypatch.setattr(ops, "roi_decode", lambda on_gpu: False)  # the GPU's whole decode + slice
    with dali_sr.build_loader(cfg) as loader:
        whole = [b for _ in range(3) for b in loader]
    for w, r in zip(whole, window):
        assert torch.equal(w["lq"], r["lq"]) and torch.equal(w["gt"], r["gt"])
        if ext == ".png":  # lossless: the LQ window is a window of cv2's rotated image, GT its upsampling
            for lq, gt, path in zip(r["lq"], r["gt"], r["lq_path"]):
                assert is_window_of(as_u8(lq), cv2_rgb(path))
                np.testing.assert_array_equal(as_u8(gt), nearest_upsample(as_u8(lq), 2))

