"""neosr's batch augmentations (mixup, cutmix, resizemix, cutblur) in the graph, against neosr's own operations
(`neosr/data/augmentations.py`) re-run with PyTorch on the loader's un-augmented batch and its draws."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import dali_sr
from dali_sr.datasets.paired import mixing
from tests.conftest import make_nn_pairs

SIZES = [(24, 28), (30, 24), (26, 26), (24, 24), (25, 27), (28, 30)]
ALL = ["none", "mixup", "cutmix", "resizemix", "cutblur"]


def _section(roots: dict, scale: int, **extra) -> dict:
    section = {"type": "paired", "dataroot_gt": roots["gt"], "dataroot_lq": roots["lq"], "scale": scale,
               "patch_size": 16, "batch_size": 6, "device": "cpu", "num_threads": 1, "seed": 3}
    section.update(extra)
    return section


def _batches(roots: dict, scale: int, augs: list, multi: float, weights=None) -> tuple[dict, dict, dict]:
    """The batch without augmentation, the batch with `augs`, and the draws of its rows."""
    with dali_sr.build_loader(_section(roots, scale)) as loader:
        base = next(iter(loader))
    extra = dict(augmentation=augs, aug_prob=weights or [1.0] * len(augs), aug_multi_prob=multi)
    with dali_sr.build_loader(_section(roots, scale, **extra)) as loader:
        out = next(iter(loader))
        plan = loader.sampling.plan(0)
        cfg = loader.cfg
    m = mixing.mixing_of(cfg.options, cfg.scale, cfg.gt_size, True, False)
    return base, out, mixing.batch_columns(m, cfg.seed, 0, plan.positions[plan.batch(0)])


def _box(columns: dict, name: str, i: int) -> tuple[slice, slice]:
    r, c = (int(v) for v in columns[f"{name}_anchor"][i])
    h, w = (int(v) for v in columns[f"{name}_shape"][i])
    return slice(r, r + h), slice(c, c + w)


def neosr_reference(lq: torch.Tensor, gt: torch.Tensor, columns: dict, scale: int, augs: list) -> tuple:
    """neosr's `apply_augment` with each sample's own picks and boxes (from `columns`): LQ upscaled, cutmix,
    mixup, resizemix, cutblur, LQ back down; torch's interpolate and clamps, as neosr calls them."""
    n = len(lq)
    up = torch.stack([torch.clamp(F.interpolate(lq[i:i + 1], scale_factor=scale, mode="bicubic" if
                                                int(columns["mix_up_bicubic"][i]) else "bilinear"), 0, 1)[0]
                      for i in range(n)]) if scale > 1 else lq.clone()
    gt = gt.clone()
    perm = lambda name: [int(v) for v in columns[f"{name}_partner"]]  # noqa: E731
    if "cutmix" in augs:
        p, g0, u0 = perm("cutmix"), gt.clone(), up.clone()
        for i in range(n):
            rows, cols = _box(columns, "cutmix", i)
            gt[i, :, rows, cols], up[i, :, rows, cols] = g0[p[i], :, rows, cols], u0[p[i], :, rows, cols]
    if "mixup" in augs:
        other = gt[perm("mixup")]
        keep = torch.tensor(np.array(columns["mixup_keep"])).view(-1, 1, 1, 1)
        take = torch.tensor(np.array(columns["mixup_take"])).view(-1, 1, 1, 1)
        gt, up = keep * gt + take * other, keep * up + take * other
    if "resizemix" in augs:
        p, g0, u0 = perm("resizemix"), gt.clone(), up.clone()
        for i in range(n):
            rows, cols = _box(columns, "resizemix", i)
            size = (rows.stop - rows.start, cols.stop - cols.start)
            if min(size) > 0:
                for dst, src in ((gt, g0), (up, u0)):
                    dst[i, :, rows, cols] = torch.clamp(F.interpolate(src[p[i]:p[i] + 1], size, mode="bicubic"),
                                                        0, 1)[0]
    if "cutblur" in augs:
        for i in range(n):
            rows, cols = _box(columns, "cutblur", i)
            up[i, :, rows, cols] = gt[i, :, rows, cols]
    lq = torch.clamp(F.interpolate(up, scale_factor=1 / scale, mode="bicubic"), 0, 1) if scale > 1 else up
    return lq, gt


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict:
    return {scale: make_nn_pairs(tmp_path_factory.mktemp(f"x{scale}"), scale, SIZES, seed=scale)
            for scale in (1, 2, 3, 4)}


@pytest.mark.parametrize("scale,augs,multi", [
    (4, ["mixup"], 0.0), (4, ["cutmix"], 0.0), (4, ["cutblur"], 0.0), (4, ["none", "cutblur"], 0.0),
    (2, ["none", "mixup", "cutmix", "cutblur"], 1.0), (3, ["none", "mixup", "cutmix", "cutblur"], 1.0),
    (1, ["mixup", "cutmix", "cutblur"], 1.0),
])
def test_augmentations_match_neosr(roots, scale, augs, multi):
    """GT bit for bit; LQ (which torch resamples twice in float32) within 1e-6 of neosr's own calls."""
    base, out, columns = _batches(roots[scale], scale, augs, multi)
    lq, gt = neosr_reference(base["lq"], base["gt"], columns, scale, augs)
    assert torch.equal(out["gt"], gt)
    assert (out["lq"] - lq).abs().max().item() < 1e-6
    if scale == 1:
        assert torch.equal(out["lq"], lq)
    picked = {name for name in ("cutmix", "cutblur") if name in augs
              for i in range(6) if columns[f"{name}_shape"][i].min() > 0}
    picked |= {"mixup"} if any(float(k) != 1.0 for k in columns["mixup_keep"]) else set()
    assert picked, "the batch ran none of the augmentations: the test would not see them"
    assert not torch.equal(out["gt"], base["gt"]) or augs in (["cutblur"], ["none", "cutblur"])


def test_resizemix_boxes_exact_contents_close(roots):
    """Resizemix resamples the partner with DALI's cubic (a = -0.5) where torch's bicubic has a = -0.75: the GT
    outside each box is untouched bit for bit, the box holds the partner resized, close to torch's result."""
    base, out, columns = _batches(roots[4], 4, ["resizemix"], 0.0)
    lq, gt = neosr_reference(base["lq"], base["gt"], columns, 4, ["resizemix"])
    for i in range(6):
        rows, cols = _box(columns, "resizemix", i)
        assert rows.stop > rows.start and cols.stop > cols.start
        inside = torch.zeros(out["gt"].shape[-2:], dtype=torch.bool)
        inside[rows, cols] = True
        assert torch.equal(out["gt"][i][:, ~inside], base["gt"][i][:, ~inside])
        assert (out["gt"][i][:, inside] - gt[i][:, inside]).abs().mean().item() < 0.02
    assert (out["lq"] - lq).abs().mean().item() < 0.01


def test_none_alone_is_no_augmentation(roots):
    """`augmentation = ["none"]` skips neosr's image model's augmentation step: the batch is the plain one."""
    with dali_sr.build_loader(_section(roots[4], 4)) as loader:
        base = next(iter(loader))
    with dali_sr.build_loader(_section(roots[4], 4, augmentation=["none"], aug_prob=[1.0])) as loader:
        out = next(iter(loader))
    assert torch.equal(out["lq"], base["lq"]) and torch.equal(out["gt"], base["gt"])


def _picks(columns: dict, i: int) -> frozenset:
    names = {name for name in mixing.BOXES if columns[f"{name}_shape"][i].min() > 0}
    return frozenset(names | ({"mixup"} if float(columns["mixup_keep"][i]) != 1.0 else set()))


def test_draws_follow_neosr():
    """The single pick follows `aug_prob` as weights; the multi path picks 2 to n - 1 names uniformly; mixup's
    lambda is in [0.4, 0.6]; boxes fit the patch and are at most 2 (cut // 2) wide, cut from neosr's ranges."""
    side = 64
    single = mixing.Mixing(tuple(ALL), (0.5, 0.1, 0.1, 0.1, 0.5), 0.0, 4, side)
    n = 2500
    cols = mixing.batch_columns(single, 11, 0, np.arange(n))
    counts = Counter(_picks(cols, i) for i in range(n))
    share = {name: counts[frozenset({name})] / n for name in ALL[1:]}
    share["none"] = counts[frozenset()] / n
    for name, weight in zip(ALL, single.weights):
        assert abs(share[name] - weight / 1.3) < 0.03, (name, share)
    multi = mixing.Mixing(tuple(ALL), (0.5, 0.1, 0.1, 0.1, 0.5), 1.0, 4, side)
    cols = mixing.batch_columns(multi, 11, 0, np.arange(n))
    keep = np.array(cols["mixup_keep"], np.float64)
    on = keep != 1.0
    assert 0.4 <= keep[on].min() and keep[on].max() <= 0.6
    assert np.allclose(keep[on] + np.array(cols["mixup_take"])[on], 1.0, atol=1e-6)
    # multi: 2 to 4 of the 5 names, uniformly; with "none" among them, 1 to 4 augmentations run
    ran = Counter(len(_picks(cols, i)) for i in range(n))
    assert set(ran) <= {1, 2, 3, 4} and ran[4] > 0
    for name, top in (("cutmix", int(side * np.sqrt(1.0))), ("resizemix", int(side * 0.9)),
                      ("cutblur", int(side * 0.7))):
        shapes = np.array(cols[f"{name}_shape"])
        anchors = np.array(cols[f"{name}_anchor"])
        assert shapes.max() <= 2 * (top // 2) and (anchors + shapes).max() <= side and anchors.min() >= 0
        # each name is in a multi pick with chance 0.6 (3 names of 5 on average)
        assert abs((shapes.min(axis=1) > 0).mean() - 0.6) < 0.04
    assert set(np.unique(np.array(cols["mix_up_bicubic"]))) == {0, 1}
    # partners: one permutation of the batch rows per mixing augmentation
    cols = mixing.batch_columns(multi, 11, 0, np.arange(8))
    for name in mixing.PAIRED:
        assert sorted(int(v) for v in cols[f"{name}_partner"]) == list(range(8))


def test_draws_are_per_sample_and_reproducible():
    """A sample's draws depend on (seed, epoch, slot) only, not on the batch it is read in."""
    m = mixing.Mixing(tuple(ALL), (1, 1, 1, 1, 1), 0.3, 2, 32)
    a = mixing.batch_columns(m, 5, 2, np.array([10, 11, 12, 13]))
    b = mixing.batch_columns(m, 5, 2, np.array([12, 13]))
    for name in ("mixup_keep", "cutmix_anchor", "cutmix_shape", "resizemix_shape", "cutblur_anchor"):
        assert all(np.array_equal(a[name][2 + i], b[name][i]) for i in range(2))
    c = mixing.batch_columns(m, 5, 3, np.array([10, 11, 12, 13]))
    assert any(not np.array_equal(x, y) for x, y in zip(a["cutmix_anchor"], c["cutmix_anchor"]))
