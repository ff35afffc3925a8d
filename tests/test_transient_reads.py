"""A read that fails in the loader's source but not when read again (a storage that drops a request) costs a warning
and a second read of that batch, never a batch; one that keeps failing in the source is reported after three."""
from __future__ import annotations

import inspect

import pytest
import torch

import dali_sr
from dali_sr import DatasetError, TransientReadWarning
from dali_sr.storage.backends import DiskStorage
from conftest import make_nn_pairs, paired_cfg


def all_batches(cfg: dict) -> list[dict]:
    with dali_sr.build_loader(cfg) as loader:
        return [{k: v.clone() for k, v in b.items() if torch.is_tensor(v)} | {"gt_path": b["gt_path"]}
                for epoch in range(2) for b in (loader.set_epoch(epoch) or loader)]


@pytest.fixture
def cfg(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, [(12, 14), (13, 12), (16, 16), (12, 12)] * 3)
    return paired_cfg(roots, 2, batch_size_per_gpu=3, prefetch_queue_depth=2)


def read_again() -> bool:
    """Whether the loader is reading a failed batch again to name its error (not its source reading ahead)."""
    return any(frame.function == "_raise_source_failure" for frame in inspect.stack())


def failing_reads(monkeypatch, fails) -> list[str]:
    """DiskStorage.get raises a DatasetError when `fails(key, read_again())` says so; returns the failed keys."""
    failed: list[str] = []
    get = DiskStorage.get

    def flaky(self, key):
        if fails(key, read_again()):
            failed.append(key)
            raise DatasetError(f"cannot read {self.path(key)}: connection reset by peer")
        return get(self, key)

    monkeypatch.setattr(DiskStorage, "get", flaky)
    return failed


@pytest.mark.slow
def test_a_transient_failure_is_read_again_and_no_batch_is_lost(cfg, monkeypatch):
    want = all_batches(cfg)
    budget = {"img005.png": 2, "img010.png": 1}  # two reads of one GT fail, then one of another

    def fails(key, again):
        name = key.rsplit("/", 1)[-1]
        if budget.get(name, 0) > 0 and not again:
            budget[name] -= 1
            return True
        return False

    failed = failing_reads(monkeypatch, fails)
    with pytest.warns(TransientReadWarning, match="failed in the source but not when read again"):
        got = all_batches(cfg)
    assert len(failed) == 3
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g["gt_path"] == w["gt_path"] and torch.equal(g["gt"], w["gt"]) and torch.equal(g["lq"], w["lq"])


def test_a_failure_that_keeps_coming_in_the_source_is_reported(cfg, monkeypatch):
    failing_reads(monkeypatch, lambda key, again: key.endswith("img004.png") and not again)
    with pytest.warns(TransientReadWarning):
        with pytest.raises(DatasetError, match="failed in the source 3 times in a row but not when read again"):
            all_batches(cfg)


def test_a_failure_that_recurs_on_the_training_thread_is_the_data_error_itself(cfg, monkeypatch):
    failing_reads(monkeypatch, lambda key, again: key.endswith("img004.png"))
    with pytest.raises(DatasetError, match="img004.png: connection reset by peer"):
        all_batches(cfg)


def test_a_storage_error_on_naming_a_decode_failure_is_reported_instead_of_dalis(cfg, monkeypatch):
    """DALI fails to decode an image; reading the batch's images again to name it fails in the storage (an LMDB
    being written, say): that one-line storage error is what the loader raises, not DALI's raw one."""
    gt = cfg["dataroot_gt"] + "/img003.png"
    data = open(gt, "rb").read()
    with open(gt, "wb") as f:  # a valid header and end, garbage between: DALI's decoder fails on it
        f.write(data[:33] + bytes(len(data) - 45) + data[-12:])
    failing_reads(monkeypatch, lambda key, again: key.endswith("img003.png") and any(
        frame.function == "_named_decode_failure" for frame in inspect.stack()))
    with pytest.raises(DatasetError, match="img003.png: connection reset by peer"):
        all_batches(cfg)
