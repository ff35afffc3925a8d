"""`FullImageDataset` (deprecated in DL-Art-School) on the GT-only path: each sample's `hq` is the image's
`target_size` patch at the loader's recorded window, flipped as its recorded flags say, `lq` its MATLAB bicubic
downscale, under DL-Art-School's keys; validation yields whole images; the keys it does not provide are refused."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import dali_sr
from dali_sr import ConfigError
from test_dlas_image_folder import SIZES, make_folder
from test_gt_only import assert_bicubic_of


@pytest.mark.parametrize("scale, target, use_rot", [(2, 16, False), (4, 32, True), (3, 18, True)])
def test_training_patches_and_their_bicubic_lq(tmp_path, scale, target, use_rot):
    root = make_folder(tmp_path / "imgs", SIZES)  # four images in the folder, one in a subfolder (not read)
    cfg = {"type": "FullImageDataset", "dataroot_GT": str(root), "scale": scale, "target_size": target,
           "use_flip": True, "use_rot": use_rot, "batch_size_per_gpu": 2, "seed": 7}
    with dali_sr.build_loader(cfg) as loader:
        batches = list(loader)
        plan = loader.sampling.plan(0)
    rows = [(b, j) for b in batches for j in range(2)]
    assert sorted(b["HQ_path"][j] for b, j in rows) == [str(root / f"img_{i:02d}.png") for i in range(4)]
    for k, (b, j) in enumerate(rows):
        path = b["HQ_path"][j]
        assert b["LQ_path"][j] == path
        img = cv2.imread(path)[:, :, ::-1]
        h, w = img.shape[:2]
        u, f = plan.uniforms[k], plan.flips[k]
        x, y = int(u[1] * (w - target + 1)), int(u[0] * (h - target + 1))
        want = img[y:y + target, x:x + target]
        want = want[:, ::-1] if f[0] else want
        if use_rot:
            want = want[::-1] if f[1] else want
            want = want.transpose(1, 0, 2) if f[2] else want
        got = (b["hq"][j].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        np.testing.assert_array_equal(got, want, err_msg=path)
        assert b["lq"][j].shape == (3, target // scale, target // scale)
        assert_bicubic_of(b["lq"][j], b["hq"][j], scale)


def test_validation_yields_whole_images(tmp_path):
    root = make_folder(tmp_path / "imgs", [(40, 52), (8, 8)])
    cfg = {"type": "FullImageDataset", "dataroot_GT": str(root), "scale": 4, "phase": "val"}
    with dali_sr.build_loader(cfg) as loader:
        (batch,) = list(loader)
    want = cv2.imread(str(root / "img_00.png"))[:, :, ::-1]
    got = (batch["hq"][0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    np.testing.assert_array_equal(got, want)
    assert_bicubic_of(batch["lq"][0], batch["hq"][0], 4)


@pytest.mark.parametrize("keys, message", [
    (dict(min_tile_size=64), r"FullImageDataset's 'min_tile_size' \(random tile sizes\) is not available; remove it$"),
    (dict(dataroot_LQ="/x"), r"'dataroot_LQ' \(full LQ images to pull tiles from\) is not available"),
    (dict(use_blurring=True), r"'use_blurring' \(tile blurring\) is not available"),
    (dict(lq_noise=5), r"'lq_noise' \(LQ noise\) is not available"),
    (dict(dataroot_gt="/x"), r"does not read 'dataroot_gt'; use dataroot_GT and target_size$"),
    (dict(dataroot_GT=None), r"FullImageDataset needs 'dataroot_GT'"),
    (dict(dataroot_GT_weights=[2]), r"'dataroot_GT_weights' repeats folders"),
    (dict(target_size=None), r"training needs 'gt_size'"),
    (dict(target_size=20, force_multiple=3), r"target_size 20 / scale 2 = 10 is not a multiple of force_multiple 3"),
    (dict(phase="val", force_multiple=2), r"force_multiple cuts validation images .* not available; remove it$"),
    (dict(tile_scale_normal_stddev=0.2), r"'tile_scale_normal_stddev' \(random tile sizes\) is not available"),
])
def test_a_bad_option_is_a_one_line_config_error(tmp_path, keys, message):
    cfg = {"type": "FullImageDataset", "dataroot_GT": str(tmp_path), "scale": 2, "target_size": 16, **keys}
    with pytest.raises(ConfigError, match=message) as e:
        dali_sr.load_config({k: v for k, v in cfg.items() if v is not None})
    assert "\n" not in str(e.value)
