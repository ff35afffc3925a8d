"""The GPU's training decode strategy, run on the CPU: whole images decoded, then sliced.

On the CPU, training decodes only the crop window (`image_slice`). On the GPU, `ops.roi_decode`
is off, so images and stacked clip frames are decoded whole and cut with `fn.slice` at the
source's integer windows. That path would otherwise run only on a GPU. Here it runs on DALI's
CPU backend under the same seed and must give the window decode's pixels exactly.
"""
from __future__ import annotations

import pytest
import torch

import dali_sr
import dali_sr.pipelines.ops as ops
from conftest import clip_cfg, make_nn_clips, make_nn_pairs, paired_cfg

SIZES = [(12, 14), (10, 10), (13, 11), (16, 12), (11, 15), (14, 13), (20, 24), (9, 9)]
CLIPS = {"001": (9, 12, 14), "002": (7, 12, 14), "003": (12, 12, 14)}


def _batches(cfg: dict) -> list[dict]:
    with dali_sr.build_loader(cfg) as loader:
        return [b for _ in range(2) for b in loader]


def _pairs(tmp, ext: str, lmdb: bool) -> dict:
    return paired_cfg(make_nn_pairs(tmp, 3, SIZES, ext=ext, lmdb=lmdb), 3, lmdb=lmdb, gt_size=18)


def _clips(tmp, kind: str) -> dict:
    roots = make_nn_clips(tmp, 2, CLIPS, lmdb=True)
    return clip_cfg(roots, 2, kind, lmdb=True, num_frame=3, random_reverse=True, interval_list=[1, 2])


CASES = {
    "pairs-png-disk": lambda t: _pairs(t, ".png", False),
    "pairs-png-lmdb": lambda t: _pairs(t, ".png", True),
    "pairs-jpeg-disk": lambda t: _pairs(t, ".jpg", False),
    "reds-stacked-frames": lambda t: _clips(t, "REDSDataset"),
    "reds-recurrent-flat-frames": lambda t: _clips(t, "REDSRecurrentDataset"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_whole_decode_and_slice_equals_window_decode(case, tmp_path, monkeypatch):
    cfg = CASES[case](tmp_path)
    window = _batches(cfg)
    monkeypatch.setattr(ops, "roi_decode", lambda on_gpu: False)
    whole = _batches(cfg)
    assert len(whole) == len(window) > 0
    for w, r in zip(whole, window):
        assert w.get("key", w.get("gt_path")) == r.get("key", r.get("gt_path"))
        assert w["lq"].shape == r["lq"].shape and w["gt"].shape == r["gt"].shape
        assert torch.equal(w["lq"], r["lq"]) and torch.equal(w["gt"], r["gt"])


def test_the_gpu_decodes_whole_images_and_the_cpu_only_windows():
    assert ops.roi_decode(on_gpu=False) and not ops.roi_decode(on_gpu=True)
