"""`patches_per_image: N`: each decoded image gives N training windows, spread over its group's batches; every
window exact (nearest-upsample pairs, bicubic GT-only LQ, the plan's own crop positions), each image decoded once
per slot, deterministic, resumable, and an epoch N x the images."""
from __future__ import annotations

import math
from collections import Counter

import cv2
import numpy as np
import pytest

import dali_sr
from conftest import make_nn_pairs, nearest_upsample, paired_cfg
from dali_sr.datasets import decoded
from dali_sr.datasets.plan import IMAGES_PER_GROUP, make_plan
from dali_sr.errors import ConfigError
from test_gt_only import assert_bicubic_of
from test_loader import epoch_batches, same

SIZES = [(20, 24), (18, 30), (25, 25), (16, 17), (31, 22)]


def gt_only(cfg: dict) -> dict:
    cfg = dict(cfg)
    cfg.pop("dataroot_lq")
    return cfg


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    return make_nn_pairs(tmp_path_factory.mktemp("ppi"), 2, SIZES, lmdb=True)


@pytest.mark.parametrize("lmdb", [False, True])
def test_every_paired_window_is_exact_and_an_epoch_holds_n_windows_per_image(roots, lmdb):
    cfg = paired_cfg(roots, 2, lmdb=lmdb, batch_size_per_gpu=4, patches_per_image=6, drop_last=False)
    with dali_sr.build_loader(cfg) as loader:
        assert len(loader) == math.ceil(len(SIZES) * 6 / 4)
        for epoch in range(2):
            loader.set_epoch(epoch)
            counts = Counter()
            for batch in loader:
                lq, gt = batch["lq"].numpy(), batch["gt"].numpy()
                assert lq.shape[1:] == (3, 8, 8) and gt.shape[1:] == (3, 16, 16)
                for k in range(len(lq)):
                    np.testing.assert_array_equal(nearest_upsample(lq[k].transpose(1, 2, 0), 2),
                                                  gt[k].transpose(1, 2, 0))
                counts.update(batch["gt_path"])
            assert sorted(counts.values()) == [6] * len(SIZES)


def test_gt_only_windows_are_the_plans_crops_flipped_and_their_lq_the_bicubic(roots):
    cfg = gt_only(paired_cfg(roots, 2, batch_size_per_gpu=5, patches_per_image=4, use_rot=False, use_vflip=True,
                             gt_size=12))
    images = {i: cv2.imread(f"{roots['gt']}/img{i:03d}.png")[:, :, ::-1] for i in range(len(SIZES))}
    with dali_sr.build_loader(cfg) as loader:
        plan = loader.sampling.plan(0)
        rows = 0
        for b, batch in enumerate(loader):
            for k, path in enumerate(batch["gt_path"]):
                row = b * 5 + k
                img = images[int(plan.indices[row])]
                assert path.endswith(f"img{int(plan.indices[row]):03d}.png")
                (h, w), (u, f) = img.shape[:2], (plan.uniforms[row], plan.flips[row])
                x, y = int(u[1] * (w - 12 + 1)), int(u[0] * (h - 12 + 1))
                want = img[y:y + 12, x:x + 12]
                want = want[:, ::-1] if f[0] else want
                want = want[::-1] if f[1] else want
                got = (batch["gt"][k].permute(1, 2, 0).numpy() * 255).round()
                np.testing.assert_array_equal(got, want)
                assert_bicubic_of(batch["lq"][k], batch["gt"][k], 2)
                rows += 1
    assert rows == len(SIZES) * 4


def test_batches_mix_images_and_each_image_is_decoded_once_per_slot(tmp_path, monkeypatch):
    sizes = [(12, 12)] * 48  # three groups of 16 images
    roots = make_nn_pairs(tmp_path, 2, sizes)
    calls = Counter()
    real = decoded.decode_rgb
    monkeypatch.setattr(decoded, "decode_rgb", lambda value, name, hw: (calls.update([name]), real(value, name, hw))[1])
    cfg = paired_cfg(roots, 2, batch_size_per_gpu=16, patches_per_image=50, gt_size=8)
    with dali_sr.build_loader(cfg) as loader:
        source = loader.spec.dataset.make_source(loader.cfg, loader.index, loader.sampling)
        distinct = [len(set(source.assemble(0, b).columns["idx"].tolist())) for b in range(len(loader))]
    assert len(distinct) == 48 * 50 // 16
    assert min(distinct) >= 5 and np.mean(distinct) > 9  # a batch of 16 holds windows of many of its group's images
    assert len(calls) == 96 and set(calls.values()) == {1}  # LQ and GT of every image, each decoded once


@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_the_plan_gives_each_rank_its_own_image_slots_n_windows_each(world_size):
    n, per, enlarge = 37, 5, 2
    plans = [make_plan(n, 4, seed=9, shuffle=True, enlarge=enlarge, rank=r, world_size=world_size, batch_size=8,
                       drop_last=True, pad_to_equal=True, per_image=per) for r in range(world_size)]
    slots = math.ceil(n * enlarge / world_size) * world_size
    positions = np.concatenate([p.positions for p in plans])
    assert sorted(positions.tolist()) == list(range(slots * per))  # every window of every slot, once
    for p in plans:
        assert len(p.indices) == slots // world_size * per
        assert set(Counter((p.positions // per).tolist()).values()) == {per}  # a slot's windows stay on one rank
        for first in range(0, len(p.positions), per * IMAGES_PER_GROUP):  # windows stay within their group
            group = p.positions[first:first + per * IMAGES_PER_GROUP] // per
            assert len(set(group.tolist())) == min(IMAGES_PER_GROUP, len(group) // per)
    one = make_plan(n, 4, seed=9, shuffle=True, enlarge=enlarge, rank=0, world_size=1, batch_size=8, drop_last=True,
                    pad_to_equal=True, per_image=per)
    for p in plans if slots == n * enlarge else ():  # a window's draws are its position's, at any unpadded world size
        mine = {int(q): i for i, q in enumerate(p.positions)}
        for i, q in enumerate(one.positions[:50]):
            if int(q) in mine:
                assert (p.uniforms[mine[int(q)]] == one.uniforms[i]).all()
                assert (p.flips[mine[int(q)]] == one.flips[i]).all()


def test_deterministic_and_resumable_mid_epoch(roots):
    cfg = paired_cfg(roots, 2, lmdb=True, batch_size_per_gpu=3, patches_per_image=5)
    with dali_sr.build_loader(cfg) as a, dali_sr.build_loader(cfg, num_threads=1) as b:
        a.set_epoch(2)
        b.set_epoch(2)
        reference = epoch_batches(a)
        assert same(epoch_batches(b), reference)
        a.set_epoch(3)
        assert not same(epoch_batches(a), reference)
    with dali_sr.build_loader(cfg) as loader:
        loader.set_epoch(2)
        it = iter(loader)
        for _ in range(4):
            next(it)
        state = loader.state_dict()
    assert state["patches_per_image"] == 5
    with dali_sr.build_loader(cfg) as resumed:
        resumed.load_state_dict(state)
        assert same(epoch_batches(resumed), reference[4:])
    with dali_sr.build_loader({**cfg, "patches_per_image": 4}) as other:
        with pytest.raises(ConfigError, match="patches_per_image=5, this loader has patches_per_image=4"):
            other.load_state_dict(state)
    with dali_sr.build_loader(cfg, rank=1, world_size=2) as elsewhere:  # windows count per rank: no redeal
        with pytest.raises(ConfigError, match="resume on the rank and world size it was saved with"):
            elsewhere.load_state_dict(state)


def test_refused_where_it_has_no_meaning(roots):
    with pytest.raises(ConfigError, match="'patches_per_image' cuts several training windows per image; remove it "
                                          "outside phase train"):
        dali_sr.load_config(paired_cfg(roots, 2, phase="val", patches_per_image=3))
    with pytest.raises(ConfigError, match="type FFHQDataset does not take 'patches_per_image'"):
        dali_sr.load_config({"type": "FFHQDataset", "dataroot_gt": roots["gt"], "patches_per_image": 3})
    with pytest.raises(ConfigError, match="patches_per_image"):
        dali_sr.load_config(paired_cfg(roots, 2, patches_per_image=0))


@pytest.mark.slow  # spawns worker processes
def test_windows_from_source_worker_processes_equal_the_training_threads(roots):
    from test_source_workers import _epochs, _same

    cfg = paired_cfg(roots, 2, batch_size_per_gpu=4, patches_per_image=5)
    assert _same(_epochs(cfg, source_workers=0), _epochs(cfg, source_workers=2))


def test_a_corrupt_image_is_named(tmp_path):
    from faults import iteration_error

    roots = make_nn_pairs(tmp_path, 2, [(12, 12)] * 3)
    bad = f"{roots['gt']}/img001.png"
    with open(bad, "r+b") as f:  # damage the pixel data, keep the header
        f.seek(60)
        f.write(b"\0" * 40)
    assert bad in iteration_error(paired_cfg(roots, 2, batch_size_per_gpu=3, patches_per_image=2, gt_size=8))
