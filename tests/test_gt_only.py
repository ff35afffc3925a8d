"""GT-only datasets: LQ made from each GT window by MATLAB's bicubic, exact against BasicSR's `imresize` formula."""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import dali_sr
from conftest import clip_cfg, make_nn_clips, make_nn_pairs, paired_cfg
from dali_sr import ConfigError
from dali_sr.degrade.bicubic import downscale

BOUNDARY = 1e-3  # rounding may differ only where the float value is this close to a .5


def basicsr_imresize(img: np.ndarray, scale: int) -> np.ndarray:
    """BasicSR's `imresize(img, 1 / scale)` (MATLAB bicubic, antialiased) of an HWC float image in [0, 1],
    following its formula: per output pixel, cubic weights over the stretched support, normalized,
    mirrored indices; height first, then width, in float32 as BasicSR's torch code."""
    def weights(n_in: int) -> tuple[torch.Tensor, np.ndarray]:
        n_out, width = n_in // scale, 4.0 * scale
        u = torch.arange(1, n_out + 1, dtype=torch.float32) * scale + 0.5 * (1 - scale)
        left = torch.floor(u - width / 2)
        taps = left[:, None] + torch.arange(math.ceil(width) + 2, dtype=torch.float32)[None]
        d = (u[:, None] - taps).abs() / scale
        w = ((1.5 * d ** 3 - 2.5 * d ** 2 + 1) * (d <= 1) + (-0.5 * d ** 3 + 2.5 * d ** 2 - 4 * d + 2)
             * ((d > 1) & (d <= 2))) / scale
        w = w / w.sum(1, keepdim=True)
        idx = taps.long().numpy() - 1
        idx = np.where(idx < 0, -idx - 1, idx)
        return w, np.where(idx >= n_in, 2 * n_in - 1 - idx, idx)

    x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float()
    wh, ih = weights(x.shape[1])
    x = torch.einsum("ok,cokw->cow", wh, x[:, torch.from_numpy(ih), :])
    ww, iw = weights(x.shape[2])
    x = torch.einsum("ok,chok->cho", ww, x[:, :, torch.from_numpy(iw)])
    return x.numpy().transpose(1, 2, 0)


def assert_bicubic_of(lq: torch.Tensor, gt: torch.Tensor, scale: int) -> None:
    """`lq` (C, h, w in [0, 1]) is the uint8-rounded bicubic of `gt` (C, H, W), but where a value sits on a
    rounding boundary."""
    ref = basicsr_imresize(gt.permute(1, 2, 0).numpy().astype(np.float32), scale) * 255
    got = lq.permute(1, 2, 0).numpy() * 255
    differ = np.abs(np.clip(np.floor(ref + 0.5), 0, 255) - np.round(got)) > 0  # a stored image clamps
    on_boundary = np.abs(ref - np.floor(ref) - 0.5) < BOUNDARY
    assert not (differ & ~on_boundary).any(), f"{(differ & ~on_boundary).sum()} LQ values are not the bicubic"


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("shape", [(24, 36, 3), (12, 12, 1), (8, 16, 3)])
def test_downscale_equals_basicsr_imresize(scale, shape):
    rng = np.random.default_rng(scale)
    img = rng.integers(0, 256, (shape[0] * scale // 4 * 4, shape[1] * scale // 4 * 4, shape[2])).astype(np.uint8)
    ref = basicsr_imresize(img / 255.0, scale)
    got = downscale(img, scale) / 255.0
    assert got.shape == ref.shape and np.abs(got - ref).max() <= 1e-6


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_the_dali_graph_bicubic_equals_basicsr_before_rounding(scale):
    from nvidia.dali import fn, pipeline_def

    import dali_sr.pipelines.ops as ops

    rng = np.random.default_rng(10 + scale)
    images = [rng.integers(0, 256, (h * scale, w * scale, 3)).astype(np.uint8) for h, w in ((5, 7), (9, 4))]
    frames = np.stack([images[0]] * 2)

    @pipeline_def(batch_size=2, num_threads=1, device_id=None)
    def graph():
        x = fn.external_source(lambda: images, batch=True, layout="HWC")
        f = fn.external_source(lambda: [frames, frames], batch=True, layout="FHWC")
        return ops.bicubic_float(x, scale, False, False), ops.bicubic_float(f, scale, True, False)

    pipe = graph()
    pipe.build()
    single, sequence = pipe.run()
    for k, img in enumerate(images):
        assert np.abs(np.array(single[k]) / 255 - basicsr_imresize(img / 255.0, scale)).max() <= 1e-6
    for frame in np.array(sequence[0]):
        assert np.abs(frame / 255 - basicsr_imresize(images[0] / 255.0, scale)).max() <= 1e-6


def _gt_only(cfg: dict) -> dict:
    cfg = dict(cfg)
    cfg.pop("dataroot_lq")
    return cfg


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("lmdb", [False, True])
def test_training_lq_is_the_bicubic_of_the_loaders_gt_window(tmp_path, scale, lmdb):
    roots = make_nn_pairs(tmp_path, scale, [(12, 14), (13, 12), (16, 16), (12, 12)], lmdb=lmdb, seed=scale)
    cfg = _gt_only(paired_cfg(roots, scale, lmdb=lmdb, batch_size_per_gpu=2, gt_size=8 * scale))
    with dali_sr.build_loader(cfg) as loader:
        assert loader.index.lq is None
        for epoch in range(3):  # hflip, vflip and transpose all occur
            for batch in loader:
                assert batch["lq"].shape[-1] == 8 and batch["gt"].shape[-1] == 8 * scale
                assert batch["lq_path"] == batch["gt_path"]
                for lq, gt in zip(batch["lq"], batch["gt"]):
                    assert_bicubic_of(lq, gt, scale)


def test_training_gt_windows_are_drawn_over_the_whole_gt_and_flipped_in_sync(tmp_path):
    """GT windows at any pixel (not only multiples of the scale), with independent hflip and vflip."""
    roots = make_nn_pairs(tmp_path, 1, [(40, 44)] * 3)
    cfg = _gt_only(paired_cfg(roots, 4, batch_size_per_gpu=3, gt_size=16, use_rot=False, use_vflip=True,
                              shuffle=False))
    gt = cv2.imread(f"{roots['gt']}/img000.png")[:, :, ::-1]
    anchors, flips = set(), set()
    with dali_sr.build_loader(cfg) as loader:
        assert loader.spec.dataset.make_source(loader.cfg, loader.index, loader.sampling).outputs.flips == \
            ("hflip", "vflip")
        for epoch in range(12):
            loader.set_epoch(epoch)
            plan = loader.sampling.plan(epoch)
            batch = next(iter(loader))
            u, f = plan.uniforms[0], plan.flips[0]
            x, y = int(u[1] * (44 - 16 + 1)), int(u[0] * (40 - 16 + 1))
            want = gt[y:y + 16, x:x + 16]
            want = want[:, ::-1] if f[0] else want
            want = want[::-1] if f[1] else want
            got = (batch["gt"][0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            np.testing.assert_array_equal(got, want)
            anchors.add((x % 4, y % 4))
            flips.add((bool(f[0]), bool(f[1])))
    assert len(anchors) > 1 and flips == {(False, False), (False, True), (True, False), (True, True)}


def test_validation_cuts_gt_to_multiples_of_the_scale(tmp_path):
    roots = make_nn_pairs(tmp_path, 1, [(43, 50)])
    with dali_sr.build_loader(_gt_only(paired_cfg(roots, 4, phase="val"))) as loader:
        batch = next(iter(loader))
    assert batch["gt"].shape == (1, 3, 40, 48) and batch["lq"].shape == (1, 3, 10, 12)
    stored = cv2.imread(f"{roots['gt']}/img000.png")[:40, :48, ::-1]
    np.testing.assert_array_equal((batch["gt"][0].permute(1, 2, 0).numpy() * 255).round(), stored)
    assert_bicubic_of(batch["lq"][0], batch["gt"][0], 4)


@pytest.mark.parametrize("kind", ["REDSDataset", "REDSRecurrentDataset", "VideoTestDataset"])
def test_clip_lq_frames_are_the_bicubic_of_their_gt_frames(tmp_path, kind):
    roots = make_nn_clips(tmp_path, 1, {"001": (6, 24, 28), "002": (5, 24, 28)}, lmdb=True)
    phase = "val" if kind == "VideoTestDataset" else "train"
    extra = {"val_partition": "official"} if kind.startswith("REDS") else {"num_frame": 3}
    cfg = _gt_only(clip_cfg(roots, 4, kind, lmdb=True, phase=phase, gt_size=16, **extra))
    with dali_sr.build_loader(cfg) as loader:
        batches = list(loader)
    assert batches
    for batch in batches:
        lq, gt = batch["lq"], batch["gt"]
        for b in range(len(lq)):
            if gt.dim() == 5:  # recurrent: GT for every frame
                for t in range(lq.shape[1]):
                    assert_bicubic_of(lq[b, t], gt[b, t], 4)
            else:  # the centre frame's GT
                assert_bicubic_of(lq[b, lq.shape[1] // 2], gt[b], 4)


def test_degradation_with_stored_lq_and_unknown_degradations_are_refused(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, [(8, 8)])
    with pytest.raises(ConfigError, match="'degradation' makes LQ from GT, but 'dataroot_lq' gives stored LQ"):
        dali_sr.load_config(paired_cfg(roots, 2, degradation="bicubic"))
    with pytest.raises(ConfigError, match="'degradation' must be 'bicubic' or a list of steps, got 'bicubc'; did you mean 'bicubic'"):
        dali_sr.load_config(_gt_only(paired_cfg(roots, 2, degradation="bicubc")))
    with pytest.raises(ConfigError, match="'gt_size' 30 is not a multiple of scale 4"):
        dali_sr.load_config(_gt_only(paired_cfg(roots, 4, gt_size=30)))


def test_a_gt_smaller_than_the_patch_is_named(tmp_path):
    from faults import iteration_error

    roots = make_nn_pairs(tmp_path, 1, [(40, 40), (10, 40)])
    message = iteration_error(_gt_only(paired_cfg(roots, 4, batch_size_per_gpu=2, gt_size=16, shuffle=False)))
    assert f"GT {Path(roots['gt'], 'img001.png')} is 10x40, smaller than the GT patch 16x16 (gt_size)" in message


# -- the same over the sizes training and validation use (windows of 192-256 pixels, whole images up to 2048) --

SWEEP_LANES = [pytest.param(2, id="quick"), pytest.param(8, id="many", marks=pytest.mark.slow)]


def _sides(rng: np.random.Generator, n: int, low: int, high: int) -> list[tuple[int, int]]:
    """The largest square, then `n - 1` random (h, w) in [low, high], odd and even."""
    return [(high, high)] + [tuple(int(v) for v in rng.integers(low, high + 1, 2)) for _ in range(n - 1)]


@pytest.mark.parametrize("lane", SWEEP_LANES)
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_training_windows_of_usual_gt_sizes_are_the_bicubic(tmp_path, lane, scale):
    """`gt_size` 192-256 (the usual training patches) in GT images up to 2048 pixels: every LQ is the bicubic of
    its GT window (a strided slice in DALI 2.4 returned wrong rows past ~140 pixels)."""
    rng = np.random.default_rng(40 + scale)
    gt_sizes = [192] + [int(g) // scale * scale for g in rng.integers(130, 260, lane - 1)]
    sizes = _sides(rng, lane, max(gt_sizes), 2048 if lane > 2 else 600)
    roots = make_nn_pairs(tmp_path, 1, sizes, seed=scale)
    for gt_size in gt_sizes:
        cfg = _gt_only(paired_cfg(roots, scale, batch_size_per_gpu=len(sizes), gt_size=gt_size))
        with dali_sr.build_loader(cfg) as loader:
            batch = next(iter(loader))
        assert batch["lq"].shape[-2:] == (gt_size // scale,) * 2
        for lq, gt in zip(batch["lq"], batch["gt"]):
            assert_bicubic_of(lq, gt, scale)


@pytest.mark.parametrize("lane", SWEEP_LANES)
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_validation_images_of_every_size_are_the_bicubic(tmp_path, lane, scale):
    """Whole validation images, odd and even, up to 2048 x 2048: GT cut to multiples of the scale, LQ its bicubic."""
    rng = np.random.default_rng(50 + scale)
    sizes = _sides(rng, lane, scale, 2048 if lane > 2 else 1024) + [(2 * scale + 1, 2 * scale + 1)]
    roots = make_nn_pairs(tmp_path, 1, sizes, seed=scale)
    with dali_sr.build_loader(_gt_only(paired_cfg(roots, scale, phase="val", shuffle=False))) as loader:
        batches = list(loader)
    assert len(batches) == len(sizes)
    for (h, w), batch in zip(sizes, batches):
        assert batch["gt"].shape[-2:] == (h - h % scale, w - w % scale)
        assert_bicubic_of(batch["lq"][0], batch["gt"][0], scale)


@pytest.mark.parametrize("lane", SWEEP_LANES)
@pytest.mark.parametrize("kind", ["REDSRecurrentDataset", "VideoTestDataset"])
def test_clip_frames_of_usual_sizes_are_the_bicubic(tmp_path, lane, kind):
    """Clips: training windows of 192 and whole validation frames up to REDS's 720 x 1280, every frame's LQ the
    bicubic of its GT frame."""
    rng = np.random.default_rng(60)
    h, w = (720, 1280) if lane > 2 else (200, 260)
    clips = {f"{c:03d}": (3, int(rng.integers(192, h + 1)), int(rng.integers(192, w + 1))) for c in range(2)}
    roots = make_nn_clips(tmp_path, 1, clips, lmdb=True)
    train = kind != "VideoTestDataset"
    extra = {"val_partition": "official", "gt_size": 192} if train else {"num_frame": 3, "phase": "val"}
    with dali_sr.build_loader(_gt_only(clip_cfg(roots, 4, kind, lmdb=True, **extra))) as loader:
        batches = list(loader)
    assert batches
    for batch in batches:
        lq, gt = batch["lq"], batch["gt"]
        for b in range(len(lq)):
            frames = range(lq.shape[1]) if gt.dim() == 5 else [lq.shape[1] // 2]
            for t in frames:
                assert_bicubic_of(lq[b, t], gt[b, t] if gt.dim() == 5 else gt[b], 4)
