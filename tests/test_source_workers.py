"""`source_workers`: the external source in DALI's worker processes gives the batches of the training thread."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import dali_sr
from conftest import clip_cfg, make_nn_clips, make_nn_pairs, paired_cfg
from dali_sr import DatasetError
from dali_sr.storage.backends import SHARED_ENVS

pytestmark = pytest.mark.slow  # each loader spawns worker processes


def _epochs(cfg: dict, epochs: int = 2, **overrides) -> list:
    with dali_sr.build_loader(cfg, **overrides) as loader:
        return [[{k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in b.items()} for b in loader]
                for _ in range(epochs)]


def _same(a: list, b: list) -> bool:
    flat_a, flat_b = [x for e in a for x in e], [x for e in b for x in e]
    return len(flat_a) == len(flat_b) > 0 and all(
        x.keys() == y.keys() and all(torch.equal(x[k], y[k]) if isinstance(x[k], torch.Tensor) else x[k] == y[k]
                                     for k in x) for x, y in zip(flat_a, flat_b))


def test_pairs_from_worker_processes_equal_the_training_threads(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, [(10 + k % 4, 12 + k % 3) for k in range(12)], lmdb=True)
    cfg = paired_cfg(roots, 2, lmdb=True, batch_size_per_gpu=3)
    base = SHARED_ENVS.open_count()
    assert _same(_epochs(cfg, source_workers=0), _epochs(cfg, source_workers=2))
    assert SHARED_ENVS.open_count() == base


def test_clips_from_worker_processes_equal_the_training_threads(tmp_path):
    roots = make_nn_clips(tmp_path, 2, {"001": (6, 8, 10), "002": (7, 8, 10)}, lmdb=True)
    cfg = clip_cfg(roots, 2, "REDSRecurrentDataset", lmdb=True, val_partition="official", batch_size_per_gpu=2)
    assert _same(_epochs(cfg, source_workers=0), _epochs(cfg, source_workers=2))


def test_a_data_error_in_a_worker_comes_in_order_and_names_the_file(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, [(10, 12)] * 8)
    bad = Path(roots["gt"], "img006.png")
    bad.write_text("text, not a PNG")
    delivered = 0
    with dali_sr.build_loader(paired_cfg(roots, 2, batch_size_per_gpu=2, shuffle=False), source_workers=2) as loader:
        with pytest.raises(DatasetError, match=str(bad)):
            for _ in loader:
                delivered += 1
    assert delivered == 3
