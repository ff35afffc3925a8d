"""The references SingleImageDataset's source makes once per folder (`chunk_refs`): batches do not depend on what
the cache of references holds, and a reference that changed after the index was made is named in one line."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

import dali_sr
from dali_sr.datasets.dlas import chunk_refs
from dali_sr.errors import DatasetError
from test_dlas_chunks import chunk_cfg, write_chunks


def _epoch(cfg: dict) -> list:
    with dali_sr.build_loader(cfg) as loader:
        return list(loader)


def test_batches_are_the_same_whatever_the_reference_cache_holds(tmp_path, monkeypatch):
    write_chunks(tmp_path, 32, grid=3)
    cfg = chunk_cfg(str(tmp_path), 2, target_size=16, need_ref=True, strict=True, phase="train", batch_size=5,
                    use_shuffle=True)
    kept_all = _epoch(cfg)
    monkeypatch.setattr(chunk_refs, "BUDGET", 1)  # one folder's reference kept at a time
    kept_one = _epoch(cfg)
    assert len(kept_all) == len(kept_one) > 1
    for a, b in zip(kept_all, kept_one):
        assert a["GT_path"] == b["GT_path"]
        for key in ("gt_fullsize_ref", "lq_fullsize_ref", "hq", "lq"):
            assert torch.equal(a[key], b[key]), key
    folders = {p.split("/")[-2] for b in kept_all for p in b["GT_path"]}
    assert len(folders) > 1  # batches mix folders, so the one kept reference keeps changing


@pytest.mark.parametrize("damage, message", [
    ("resized", r"ref.jpg is 40x40, not the 32x32 of its folder's tiles; re-create the folder with dali-sr "
                r"extract-chunks$"),
    ("truncated", r"ref.jpg: cannot be decoded to the 32x32 of its header \(corrupt or truncated\); re-create the "
                  r"file$"),
])
def test_a_reference_changed_after_indexing_is_named(tmp_path, damage, message):
    write_chunks(tmp_path, 32)
    cfg = chunk_cfg(str(tmp_path), 2, target_size=16, need_ref=True, strict=True)
    with dali_sr.build_loader(cfg) as loader:
        for ref in tmp_path.glob("*/ref.jpg"):
            if damage == "resized":
                cv2.imwrite(str(ref), np.zeros((40, 40, 3), np.uint8))
            else:
                ref.write_bytes(ref.read_bytes()[:200])
        with pytest.raises(DatasetError, match=message) as e:
            list(loader)
    assert "\n" not in str(e.value)


@pytest.mark.slow  # worker processes
def test_source_workers_make_the_same_references(tmp_path):
    """A source copied into worker processes starts with no kept references and gives the same batches."""
    write_chunks(tmp_path, 32)
    cfg = chunk_cfg(str(tmp_path), 2, target_size=16, need_ref=True, strict=True, batch_size=4)
    alone, workers = _epoch(cfg), _epoch({**cfg, "source_workers": 2})
    assert len(alone) == len(workers) == 2
    for a, b in zip(alone, workers):
        assert a["GT_path"] == b["GT_path"]
        for key in ("gt_fullsize_ref", "lq_fullsize_ref", "hq", "lq"):
            assert torch.equal(a[key], b[key]), key
