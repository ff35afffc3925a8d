"""PairedImageDataset outputs against references written here (BasicSR semantics, pixel-exact)."""
from __future__ import annotations

import cv2
import lmdb
import numpy as np
import pytest
import torch

import dali_sr
from faults import iteration_error
from conftest import make_nn_pairs, nearest_upsample, paired_cfg

SIZES = [(12, 14), (10, 10), (13, 11), (16, 12), (11, 15), (14, 13)]


def to_uint8_hwc(t: torch.Tensor) -> np.ndarray:
    """A CHW float [0, 1] tensor back to HWC uint8 (exact for outputs of uint8 images)."""
    return (t.permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)


def rgb(path: str) -> np.ndarray:
    return cv2.imread(path, cv2.IMREAD_COLOR)[:, :, ::-1]


def basicsr_crop_augment(lq: np.ndarray, patch: int, u: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """BasicSR's paired_random_crop + augment on the LQ image, with the loader's draws."""
    h, w = lq.shape[:2]
    top, left = int(u[0] * (h - patch + 1)), int(u[1] * (w - patch + 1))
    out = lq[top:top + patch, left:left + patch]
    if flags[0]:
        out = out[:, ::-1]
    if flags[1]:
        out = out[::-1]
    if flags[2]:
        out = out.transpose(1, 0, 2)
    return out


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("backend", ["disk", "lmdb"])
def test_train_crops_and_flips_match_basicsr_exactly(tmp_path, scale, backend):
    roots = make_nn_pairs(tmp_path, scale, SIZES, seed=scale, lmdb=backend == "lmdb")
    cfg = paired_cfg(roots, scale, lmdb=backend == "lmdb")
    states = set()
    with dali_sr.build_loader(cfg) as loader:
        for epoch in range(8):
            loader.set_epoch(epoch)
            plan = loader.sampling.plan(epoch)
            for b, batch in enumerate(loader):
                rows = plan.batch(b)
                assert batch["lq"].shape == (4, 3, 8, 8) and batch["gt"].shape == (4, 3, 8 * scale, 8 * scale)
                for j, (lq_path, gt_path) in enumerate(zip(batch["lq_path"], batch["gt_path"])):
                    lq_img = rgb(f"{roots['lq']}/{lq_path.split('/')[-1].removesuffix('.png')}.png")
                    want = basicsr_crop_augment(lq_img, 8, plan.uniforms[rows][j], plan.flips[rows][j])
                    lq_out, gt_out = to_uint8_hwc(batch["lq"][j]), to_uint8_hwc(batch["gt"][j])
                    np.testing.assert_array_equal(lq_out, want)
                    np.testing.assert_array_equal(gt_out, nearest_upsample(lq_out, scale))
                    assert gt_path.replace("gt", "") == lq_path.replace("lq", "")
                    states.add(tuple(bool(f) for f in plan.flips[rows][j]))
    assert len(states) == 8, f"only saw flip/transpose states {sorted(states)}"


def test_use_rot_without_hflip_never_flips_horizontally(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, SIZES)
    with dali_sr.build_loader(paired_cfg(roots, 2, use_hflip=False, use_rot=True)) as loader:
        for epoch in range(4):
            plan = loader.sampling.plan(epoch)
            for b, batch in enumerate(loader):
                rows = plan.batch(b)
                for j, path in enumerate(batch["lq_path"]):
                    flags = plan.flips[rows][j] & np.array([False, True, True])
                    want = basicsr_crop_augment(rgb(path), 8, plan.uniforms[rows][j], flags)
                    np.testing.assert_array_equal(to_uint8_hwc(batch["lq"][j]), want)


def test_no_augmentation_unless_asked(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, SIZES)
    with dali_sr.build_loader(paired_cfg(roots, 2, use_hflip=False, use_rot=False)) as loader:
        plan = loader.sampling.plan(0)
        for b, batch in enumerate(loader):
            for j, path in enumerate(batch["lq_path"]):
                want = basicsr_crop_augment(rgb(path), 8, plan.uniforms[plan.batch(b)][j], np.zeros(3, bool))
                np.testing.assert_array_equal(to_uint8_hwc(batch["lq"][j]), want)


def test_validation_equals_cv2_decode_of_basicsr_fixture(basicsr_fixtures):
    cfg = {"type": "PairedImageDataset", "phase": "val", "scale": 4, "io_backend": {"type": "lmdb"},
           "dataroot_gt": str(basicsr_fixtures / "gt.lmdb"), "dataroot_lq": str(basicsr_fixtures / "lq.lmdb"),
           "device": "cpu"}
    stored = {}
    for side in ("gt", "lq"):
        env = lmdb.open(str(basicsr_fixtures / f"{side}.lmdb"), readonly=True, lock=False)
        with env.begin() as txn:
            stored[side] = {k.decode(): v for k, v in txn.cursor()}
        env.close()
    seen = []
    with dali_sr.build_loader(cfg) as loader:
        assert len(loader) == 2
        for batch in loader:
            key = batch["gt_path"][0]
            assert batch["lq_path"] == [key]
            seen.append(key)
            for side in ("lq", "gt"):
                img = cv2.imdecode(np.frombuffer(stored[side][key], np.uint8), cv2.IMREAD_COLOR)
                want = torch.from_numpy(np.ascontiguousarray(img[:, :, ::-1].transpose(2, 0, 1))).float() / 255.0
                assert batch[side].shape == (1, *want.shape)
                torch.testing.assert_close(batch[side][0], want, rtol=0, atol=1e-6)
    assert seen == ["baboon", "comic"]


def test_validation_cuts_gt_to_lq_times_scale(tmp_path):
    """BasicSR cuts GT to LQ x scale (benchmark GT sides need not divide by the scale): up to scale - 1 extra
    rows and columns are cut away."""
    roots = make_nn_pairs(tmp_path, 2, [(10, 12)])
    gt_path = f"{roots['gt']}/img000.png"
    big = np.pad(rgb(gt_path)[:, :, ::-1], ((0, 1), (0, 1), (0, 0)))
    cv2.imwrite(gt_path, big)
    with dali_sr.build_loader(paired_cfg(roots, 2, phase="val")) as loader:
        batch = next(iter(loader))
    assert batch["gt"].shape == (1, 3, 20, 24)
    np.testing.assert_array_equal(to_uint8_hwc(batch["gt"][0]), nearest_upsample(to_uint8_hwc(batch["lq"][0]), 2))


@pytest.mark.parametrize("pad", [(0, 2), (3, 0), (10, 12)])
def test_validation_refuses_gt_beyond_lq_times_scale_plus_slack(tmp_path, pad):
    """A GT side of LQ x scale + scale or more is not a cut-away remainder: the scale is wrong (x4 data read as
    x2 gives GT twice as large); refused naming both files and sizes."""
    roots = make_nn_pairs(tmp_path, 2, [(10, 12)])
    gt_path = f"{roots['gt']}/img000.png"
    cv2.imwrite(gt_path, np.pad(rgb(gt_path)[:, :, ::-1], ((0, pad[0]), (0, pad[1]), (0, 0))))
    message = iteration_error(paired_cfg(roots, 2, phase="val"))
    h, w = 20 + pad[0], 24 + pad[1]
    assert f"GT {gt_path} is {h}x{w} but LQ {roots['lq']}/img000.png is 10x12" in message
    assert "GT must be scale 2 x LQ (20x24 to 21x25)" in message


def test_color_y_and_mean_std(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, [(10, 12)])
    mean, std = [0.5], [0.25]
    with dali_sr.build_loader(paired_cfg(roots, 2, phase="val", color="y", mean=mean, std=std)) as loader:
        batch = next(iter(loader))
    img = rgb(f"{roots['lq']}/img000.png").astype(np.float64) / 255.0
    y = (65.481 * img[..., 0] + 128.553 * img[..., 1] + 24.966 * img[..., 2]) / 255.0 + 16.0 / 255.0
    assert batch["lq"].shape == (1, 1, 10, 12) and batch["gt"].shape == (1, 1, 20, 24)
    np.testing.assert_allclose(batch["lq"][0, 0].numpy(), (y - 0.5) / 0.25, atol=1e-5)


def test_rgb_mean_std(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, [(10, 12)])
    mean, std = [0.4, 0.5, 0.6], [0.2, 0.25, 0.5]
    with dali_sr.build_loader(paired_cfg(roots, 2, phase="val", mean=mean, std=std)) as loader:
        batch = next(iter(loader))
    img = rgb(f"{roots['lq']}/img000.png").astype(np.float64) / 255.0
    want = ((img - mean) / std).transpose(2, 0, 1)
    np.testing.assert_allclose(batch["lq"][0].numpy(), want, atol=1e-5)


@pytest.mark.parametrize("mode", ["gray", "rgba"])
def test_gray_and_rgba_png_become_rgb_like_cv2(tmp_path, mode):
    roots = make_nn_pairs(tmp_path, 2, [(10, 12)])
    rng = np.random.default_rng(1)
    for side, (h, w) in (("lq", (10, 12)), ("gt", (20, 24))):
        img = rng.integers(0, 256, (h, w) if mode == "gray" else (h, w, 4), dtype=np.uint8)
        cv2.imwrite(f"{roots[side]}/img000.png", img)
    with dali_sr.build_loader(paired_cfg(roots, 2, phase="val")) as loader:
        batch = next(iter(loader))
    for side in ("lq", "gt"):
        want = rgb(f"{roots[side]}/img000.png")
        np.testing.assert_array_equal(to_uint8_hwc(batch[side][0]), want)


def test_jpeg_matches_cv2_within_one_level(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, [(16, 24)], ext=".jpg")
    with dali_sr.build_loader(paired_cfg(roots, 2, phase="val")) as loader:
        batch = next(iter(loader))
    for side in ("lq", "gt"):
        want = rgb(f"{roots[side]}/img000.jpg").astype(int)
        assert np.abs(to_uint8_hwc(batch[side][0]).astype(int) - want).max() <= 1


def test_filename_tmpl_pairs_lq_names(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, SIZES[:3], tmpl="{}x2")
    with dali_sr.build_loader(paired_cfg(roots, 2, filename_tmpl="{}x2", phase="val")) as loader:
        paths = [(b["lq_path"][0], b["gt_path"][0]) for b in loader]
    assert [p[0].split("/")[-1] for p in paths] == ["img000x2.png", "img001x2.png", "img002x2.png"]
    assert [p[1].split("/")[-1] for p in paths] == ["img000.png", "img001.png", "img002.png"]


def test_folder_scan_leaves_hidden_files_out(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, SIZES)
    (tmp_path / "gt" / "._img000.png").write_bytes(b"\0\5\26\7 macOS resource fork")
    with dali_sr.build_loader(paired_cfg(roots, 2, phase="val")) as loader:
        assert len(loader) == len(SIZES)


def test_meta_info_file_selects_and_orders_pairs(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, SIZES)
    meta = tmp_path / "meta.txt"
    meta.write_text("img004.png (32, 30, 3)\nimg001.png (20,20,3)\n")  # BasicSR reads a line's first word
    with dali_sr.build_loader(paired_cfg(roots, 2, meta_info_file=str(meta), phase="val")) as loader:
        keys = [b["gt_path"][0].split("/")[-1] for b in loader]
    assert keys == ["img004.png", "img001.png"]  # the meta file's order, as BasicSR
