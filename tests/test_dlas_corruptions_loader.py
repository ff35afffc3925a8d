"""DL-Art-School's corruptions through the loader: a GT-only PairedImageDataset whose chain holds a `dlas` step,
its LQ checked against the loader's own GT, its draws per sample, the same batches on any thread count and
after a resume."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import dali_sr
from test_degraded_loader import assert_same, batches, gt_lmdb

NOISY = {"type": "dlas", "random_corruptions": ["noise", "jpeg-broad", "gaussian_blur", "color_jitter",
                                                "lq_resampling", "motion_blur"],
         "num_corrupts_per_image": 2, "fixed_corruptions": ["jpeg", "saturation"]}


def cfg(root: str, chain: list, **extra) -> dict:
    out = {"type": "PairedImageDataset", "scale": 2, "dataroot_gt": root, "io_backend": {"type": "lmdb"},
           "gt_size": 32, "use_hflip": True, "use_rot": True, "batch_size_per_gpu": 4, "device": "cpu",
           "num_threads": 2, "seed": 3, "degradation": chain}
    out.update(extra)
    return out


def test_lq_is_the_corruption_of_the_loaders_own_gt(tmp_path):
    """greyscale, quantization by the drawn divisor, then nearest to the LQ size: exact in DALI."""
    root = gt_lmdb(tmp_path, [(40, 52), (36, 36), (64, 48), (33, 47)])
    chain = [{"type": "dlas", "fixed_corruptions": ["greyscale", "color_quantization"]},
             {"type": "resize", "to": "lq", "modes": ["nearest"]}]
    c = cfg(root, chain)
    batch = batches(c, 1)[0]
    with dali_sr.build_loader(c) as loader:
        source = loader.spec.dataset.make_source(loader.cfg, loader.index, loader.sampling)
        divisors = source.assemble(0, 0).columns["d0_c1_amount"]
    assert len({float(d) for d in divisors}) > 1
    for gt, lq, div in zip(batch["gt"], batch["lq"], divisors):
        x = gt.permute(1, 2, 0).numpy()
        grey = np.tile(x.mean(axis=2, keepdims=True), [1, 1, 3])
        ref = (grey * 255 // float(div)) * float(div) / 255
        np.testing.assert_array_equal(lq.permute(1, 2, 0).numpy() * 255, np.round(ref[::2, ::2] * 255))


@pytest.mark.slow
def test_the_same_batches_on_one_and_two_threads_and_per_sample_draws(tmp_path):
    root = gt_lmdb(tmp_path, [(48, 48), (40, 56), (64, 64), (50, 50)])
    chain = [{"type": "resize", "to": "lq", "modes": ["area"]}, NOISY]
    a = batches(cfg(root, chain), 2)
    assert a[0]["lq"].shape == (4, 3, 16, 16)
    assert_same(a, batches(cfg(root, chain, num_threads=1), 2))
    assert not torch.equal(a[0]["lq"], batches(cfg(root, chain, seed=4), 1)[0]["lq"])
    lq = a[0]["lq"].reshape(4, -1)
    assert all(not torch.equal(lq[i], lq[j]) for i in range(4) for j in range(i))


@pytest.mark.slow
def test_resume_continues_the_same_batches(tmp_path):
    root = gt_lmdb(tmp_path, [(48, 48), (40, 56), (64, 64)])
    c = cfg(root, [NOISY, {"type": "resize", "to": "lq", "modes": ["area"]}], batch_size_per_gpu=2,
            dataset_enlarge_ratio=3)
    with dali_sr.build_loader(c) as loader:
        it = iter(loader)
        next(it), next(it)
        state = loader.state_dict()
        want = [{k: v.clone() for k, v in next(it).items() if torch.is_tensor(v)} for _ in range(2)]
    assert "dali_checkpoint" in state  # the noise fields come from DALI's generator
    with dali_sr.build_loader(c) as resumed:
        resumed.load_state_dict(state)
        resumed.set_epoch(state["epoch"])
        it = iter(resumed)
        assert_same(want, [next(it), next(it)])


def test_without_corruptions_lq_is_opencvs_inter_area_of_the_gt(tmp_path):
    import cv2
    from dali_sr.degrade.dlas import corruption_chain

    root = gt_lmdb(tmp_path, [(40, 52), (36, 36), (64, 48)])
    chain = corruption_chain({}, 4, "t")
    c = cfg(root, [{"type": "resize", "to": "lq", "modes": ["area"]}], scale=4, batch_size_per_gpu=3)
    assert dali_sr.load_config(c).degradation.steps == chain.steps
    for gt, lq in zip(*(lambda b: (b["gt"], b["lq"]))(batches(c, 1)[0])):
        ref = cv2.resize(gt.permute(1, 2, 0).numpy(), (8, 8), interpolation=cv2.INTER_AREA) * 255
        got = lq.permute(1, 2, 0).numpy() * 255
        differ = np.abs(np.round(got) - np.round(ref)) > 0
        assert not (differ & (np.abs(ref - np.floor(ref) - 0.5) > 1e-3)).any()  # but on rounding ties
