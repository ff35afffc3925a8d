"""`load_state_dict` resumes only the batches the state was saved from: every setting that changes them is refused,
naming it (another rank or world size is not one: see test_elastic_resume), malformed states and epochs get one line naming what is wrong, and a
refused state leaves the loader as it was."""
from __future__ import annotations

import re

import pytest
import torch

import dali_sr
from dali_sr import ConfigError
from conftest import make_nn_pairs, paired_cfg
from test_degraded_loader import gt_lmdb
from test_random_streams import noise_cfg


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    return make_nn_pairs(tmp_path_factory.mktemp("resume"), 2, [(12, 14), (13, 12), (16, 16), (12, 12)] * 2)


def saved_state(cfg: dict, **kw) -> dict:
    with dali_sr.build_loader(cfg, **kw) as loader:
        it = iter(loader)
        next(it)
        return loader.state_dict()


CHANGES = [
    ("gt_size", dict(gt_size=12), "gt_size=16, this loader has gt_size=12"),
    ("scale", dict(scale=1, gt_size=8), "scale=2, this loader has scale=1"),
    ("use_rot", dict(use_rot=False), "use_rot=True, this loader has use_rot=False"),
    ("use_hflip", dict(use_hflip=False), "use_hflip=True, this loader has use_hflip=False"),
    ("use_vflip", dict(use_vflip=True), "use_vflip=False, this loader has use_vflip=True"),
    ("color", dict(color="y"), "color=None, this loader has color='y'"),
    ("mean", dict(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5]), "mean=None, this loader has mean=[0.5, 0.5, 0.5]"),
    ("seed", dict(seed=1), "seed=0, this loader has seed=1"),
    ("batch_size", dict(batch_size_per_gpu=2), "batch_size=4, this loader has batch_size=2"),
]


@pytest.mark.parametrize("key, change, message", CHANGES, ids=[c[0] for c in CHANGES])
def test_a_setting_that_changes_the_batches_is_refused(roots, key, change, message):
    cfg = paired_cfg(roots, 2)
    state = saved_state(cfg)
    with dali_sr.build_loader({**cfg, **change}) as other:
        with pytest.raises(ConfigError, match=re.escape(f"state_dict was saved with {message}")):
            other.load_state_dict(state)


def test_another_degradation_chain_is_refused_before_dali_sees_its_checkpoint(tmp_path):
    cfg = noise_cfg(gt_lmdb(tmp_path, [(48, 48)] * 8, flat=True), dataset_enlarge_ratio=2)
    state = saved_state(cfg)
    assert "dali_checkpoint" in state
    other_chain = [{"type": "blur", "prob": 0.5}] + cfg["degradation"]
    with dali_sr.build_loader({**cfg, "degradation": other_chain}) as other:
        with pytest.raises(ConfigError, match="saved with another degradation chain"):
            other.load_state_dict(state)
    stronger = [{**cfg["degradation"][0], "noise_range": [25, 25]}]
    with dali_sr.build_loader({**cfg, "degradation": stronger}) as other:
        with pytest.raises(ConfigError, match="saved with another degradation chain"):
            other.load_state_dict(state)


def test_a_damaged_dali_checkpoint_is_named_and_never_skipped(tmp_path):
    cfg = noise_cfg(gt_lmdb(tmp_path, [(48, 48)] * 8, flat=True), dataset_enlarge_ratio=2)
    state = saved_state(cfg)
    state["dali_checkpoint"] = state["dali_checkpoint"][:20]
    with dali_sr.build_loader(cfg) as resumed:
        resumed.load_state_dict(state)
        resumed.set_epoch(state["epoch"])
        for _ in range(2):  # again: the loader does not go on without the checkpoint it was given
            with pytest.raises(ConfigError, match="the state_dict's DALI checkpoint does not restore this pipeline"):
                next(iter(resumed))


@pytest.mark.parametrize("state, message", [
    ({}, "the state has no 'epoch'"),
    ({"epoch": 0}, "the state has no 'batch'"),
    ({"epoch": "3", "batch": 0}, "'epoch' must be a non-negative integer, got '3'"),
    ({"epoch": 0, "batch": -1}, "'batch' must be a non-negative integer, got -1"),
    ({"epoch": 0, "batch": 99}, "batch 99 is past the 2 batches of an epoch on the rank that saved it"),
    ({"epoch": 0, "batch": 1, "epoch_slot": 5}, "epoch_slot 5 is not where batch 1 of rank 0 of 1 stands \\(slot 4\\)"),
    ({"epoch": 0, "batch": 1, "rank": 2, "world_size": 2}, "rank 2 is not in \\[0, world_size=2\\)"),
    ({"epoch": 0, "batch": 0, "world_size": 0}, "'world_size' must be a positive integer, got 0"),
    ({"epoch": 0, "batch": 0, "dealt_from": 3}, "the state has 'dealt_from' but no 'order_world_size'"),
    ({"epoch": 0, "batch": 0, "dealt_from": 9, "order_world_size": 2}, "dealt_from 9 is past the 8 slots of epoch 0"),
    ({"epoch": 0, "batch": 1, "dali_checkpoint": b"", "pipeline_start": 5}, None),
    ([("epoch", 0)], "load_state_dict takes the dict Loader.state_dict\\(\\) returned, not list"),
])
def test_malformed_states_are_named_and_change_nothing(roots, state, message):
    cfg = paired_cfg(roots, 2)
    with dali_sr.build_loader(cfg) as loader:
        want = next(iter(loader))["gt"].clone()
        loader.set_epoch(0)
        if message is None:  # no random fields in this graph: a checkpoint is not read, the position is taken
            loader.load_state_dict(state)
            assert (loader.epoch, loader.state_dict()["batch"]) == (0, 1)
            return
        with pytest.raises(ConfigError, match=message):
            loader.load_state_dict(state)
        assert torch.equal(next(iter(loader))["gt"], want)


def test_a_malformed_pipeline_start_is_named(tmp_path):
    cfg = noise_cfg(gt_lmdb(tmp_path, [(48, 48)] * 8, flat=True), dataset_enlarge_ratio=2)
    state = {**saved_state(cfg), "pipeline_start": "0,1"}
    with dali_sr.build_loader(cfg) as loader:
        with pytest.raises(ConfigError, match="'pipeline_start' must be \\[epoch, batch\\]"):
            loader.load_state_dict(state)


@pytest.mark.parametrize("epoch", [-1, 1.5, "2", True])
def test_set_epoch_names_itself_for_a_bad_epoch(roots, epoch):
    with dali_sr.build_loader(paired_cfg(roots, 2)) as loader:
        with pytest.raises(ConfigError, match=r"set_epoch\(.*\): the epoch must be a non-negative integer"):
            loader.set_epoch(epoch)


def test_an_epoch_too_large_to_plan_is_refused_before_it_is_planned(tmp_path, monkeypatch):
    from dali_sr.datasets import plan

    def no_plan(*args, **kwargs):
        raise AssertionError("an epoch was planned")

    cfg = paired_cfg(make_nn_pairs(tmp_path, 2, [(8, 8)] * 70), 2, dataset_enlarge_ratio=10 ** 6)
    monkeypatch.setattr(plan, "make_plan", no_plan)
    with pytest.raises(ConfigError, match=re.escape("70 samples x dataset_enlarge_ratio 1000000 = 70,000,000 samples "
                                                    "per epoch, above the 67,108,864 an epoch may hold")):
        dali_sr.build_loader(cfg)
    plan.check_epoch_size(67, 10 ** 6, "nn")  # 67,000,000: an epoch the loader plans (~4 GB, not made here)
