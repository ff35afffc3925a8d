"""GT-only with `color: y`: LQ is MATLAB's bicubic of the float Y plane (Y not rounded, LQ not rounded), as the
TensorFlow SR loader computes it, checked against a NumPy reference; not the Y of a rounded RGB bicubic."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import dali_sr
from conftest import clip_cfg, make_nn_clips, make_nn_pairs, paired_cfg
from test_gt_only import basicsr_imresize

TOLERANCE = 2e-6  # float32 filtering against the float64 reference, in [0, 1]


def numpy_y(rgb: np.ndarray) -> np.ndarray:
    """BasicSR's `bgr2ycbcr(y_only=True)` in [0, 1] of uint8 HWC RGB, not rounded, as it computes it (`np.dot` of
    BGR in float64): HW1 float32."""
    x = rgb.astype(np.float32) / 255.0
    y = (np.dot(x[..., ::-1].astype(np.float64), [24.966, 128.553, 65.481]) + 16.0) / 255.0
    return y.astype(np.float32)[..., None]


def gt_only(cfg: dict) -> dict:
    cfg = dict(cfg)
    cfg.pop("dataroot_lq")
    return {**cfg, "color": "y"}


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_validation_lq_is_the_bicubic_of_the_float_y(tmp_path, scale):
    roots = make_nn_pairs(tmp_path, 1, [(13 * scale + 1, 11 * scale + 1)], seed=scale)
    with dali_sr.build_loader(gt_only(paired_cfg(roots, scale, phase="val"))) as loader:
        batch = next(iter(loader))
    h, w = 13 * scale, 11 * scale
    rgb = cv2.imread(f"{roots['gt']}/img000.png")[:h, :w, ::-1]
    y = numpy_y(rgb)
    gt, lq = batch["gt"][0].permute(1, 2, 0).numpy(), batch["lq"][0].permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(gt, y)
    ref = basicsr_imresize(y.astype(np.float64), scale)
    assert lq.shape == ref.shape == (13, 11, 1)
    assert np.abs(lq - ref).max() <= TOLERANCE
    # the Y of the rounded RGB bicubic (the stored-LQ way) is another LQ: rounded (and clipped at 0 and 255)
    rgb_lq = np.clip(np.floor(basicsr_imresize(rgb / 255.0, scale) * 255 + 0.5), 0, 255).astype(np.uint8)
    assert np.abs(numpy_y(rgb_lq) - ref).max() * 255 > 0.1


@pytest.mark.parametrize("scale", [2, 4])
def test_training_lq_is_the_bicubic_of_the_yielded_y_window(tmp_path, scale):
    roots = make_nn_pairs(tmp_path, 1, [(40, 44), (36, 50)], seed=7)
    cfg = gt_only(paired_cfg(roots, scale, batch_size_per_gpu=2, gt_size=8 * scale, use_vflip=True,
                             mean=[0.5], std=[0.25]))
    with dali_sr.build_loader(cfg) as loader:
        for _ in range(2):
            for batch in loader:
                assert batch["gt"].shape[1:] == (1, 8 * scale, 8 * scale) and batch["lq"].shape[1:] == (1, 8, 8)
                for lq, gt in zip(batch["lq"].numpy(), batch["gt"].numpy()):
                    y = gt.transpose(1, 2, 0) * np.float32(0.25) + np.float32(0.5)
                    ref = (basicsr_imresize(y.astype(np.float64), scale) - 0.5) / 0.25
                    assert np.abs(lq.transpose(1, 2, 0) - ref).max() <= 4 * TOLERANCE / 0.25


def test_clip_frames_lq_is_the_bicubic_of_each_frames_y(tmp_path):
    roots = make_nn_clips(tmp_path, 1, {"001": (5, 24, 28)}, lmdb=True)
    cfg = gt_only(clip_cfg(roots, 4, "REDSRecurrentDataset", lmdb=True, gt_size=16, val_partition="official"))
    with dali_sr.build_loader(cfg) as loader:
        batch = next(iter(loader))
    lq, gt = batch["lq"].numpy(), batch["gt"].numpy()
    assert lq.shape[2] == gt.shape[2] == 1
    for b in range(len(lq)):
        for t in range(lq.shape[1]):
            ref = basicsr_imresize(gt[b, t].transpose(1, 2, 0).astype(np.float64), 4)
            assert np.abs(lq[b, t].transpose(1, 2, 0) - ref).max() <= TOLERANCE
