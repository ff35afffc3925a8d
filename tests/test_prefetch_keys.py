"""BasicSR's loader keys `prefetch_mode`, `pin_memory` and `num_prefetch_queue`: the same configs refused as
BasicSR's train.py refuses them, and the queue length as DALI's prefetch depth."""
from __future__ import annotations

import itertools
import textwrap
from typing import Optional

import pytest

import dali_sr
from conftest import make_nn_pairs, paired_cfg
from dali_sr import ConfigError, load_config

SECTION = {"name": "DIV2K", "type": "PairedImageDataset", "scale": 4, "gt_size": 32, "dataroot_gt": "gt",
           "dataroot_lq": "lq", "io_backend": {"type": "disk"}}
_ABSENT = object()


def basicsr_refuses(phase: str, section: dict) -> Optional[str]:
    """BasicSR's train.py on the train section's prefetch settings (val/test sections are not read there): the
    ValueError it raises, or None."""
    if phase != "train":
        return None
    mode = section.get("prefetch_mode")
    if mode is None or mode == "cpu":
        return None
    if mode == "cuda":
        return None if section.get("pin_memory") is True else "Please set pin_memory=True for CUDAPrefetcher."
    return f"Wrong prefetch_mode {mode}."


@pytest.mark.parametrize("phase, mode, pin", itertools.product(("train", "val"), (_ABSENT, None, "cpu", "cuda"),
                                                               (_ABSENT, False, True)))
def test_prefetch_mode_and_pin_memory_are_refused_where_basicsr_refuses_them(phase, mode, pin):
    section = {**SECTION, "phase": phase}
    for key, value in (("prefetch_mode", mode), ("pin_memory", pin)):
        if value is not _ABSENT:
            section[key] = value
    if basicsr_refuses(phase, section):
        with pytest.raises(ConfigError, match=r"\[DIV2K\]: prefetch_mode cuda needs pin_memory: true \(BasicSR "
                                              r"refuses it without\); set pin_memory: true"):
            load_config(section)
    else:
        assert load_config(section).phase == phase


def test_other_prefetch_modes_and_a_non_boolean_pin_memory_are_refused():
    with pytest.raises(ConfigError, match="prefetch_mode"):
        load_config({**SECTION, "prefetch_mode": "gpu"})
    with pytest.raises(ConfigError, match="pin_memory"):  # BasicSR's `is not True` refuses 1 too
        load_config({**SECTION, "prefetch_mode": "cuda", "pin_memory": 1})


def test_a_basicsr_option_file_with_cuda_prefetch_loads_only_with_pinned_memory(tmp_path):
    text = textwrap.dedent("""\
        scale: 4
        datasets:
          train:
            name: DIV2K
            type: PairedImageDataset
            dataroot_gt: gt
            dataroot_lq: lq
            io_backend: {type: disk}
            gt_size: 32
            prefetch_mode: cuda
            pin_memory: PIN
            num_prefetch_queue: 5
          val:
            name: Set5
            type: PairedImageDataset
            dataroot_gt: gt
            dataroot_lq: lq
            io_backend: {type: disk}
            prefetch_mode: cuda
        """)
    path = tmp_path / "train.yml"
    path.write_text(text.replace("PIN", "false"))
    with pytest.raises(ConfigError, match=r"train\.yml \[DIV2K\]: prefetch_mode cuda needs pin_memory: true"):
        load_config(path, phase="train")
    assert load_config(path, phase="val").prefetch_queue_depth == 2  # BasicSR reads prefetch_mode of train only
    path.write_text(text.replace("PIN", "true"))
    assert load_config(path, phase="train").prefetch_queue_depth == 5


@pytest.mark.parametrize("keys, depth", [
    ({}, 2),
    ({"num_prefetch_queue": 1}, 1),
    ({"num_prefetch_queue": 7, "prefetch_mode": "cpu"}, 7),
    ({"num_prefetch_queue": 7, "prefetch_queue_depth": 3}, 3),  # dali_sr's own key wins
    ({"prefetch_queue_depth": 4}, 4),
])
def test_num_prefetch_queue_is_the_prefetch_depth(keys, depth):
    assert load_config({**SECTION, **keys}).prefetch_queue_depth == depth


def test_an_override_of_the_depth_wins_over_the_files_queue_length():
    assert load_config({**SECTION, "num_prefetch_queue": 6}, prefetch_queue_depth=1).prefetch_queue_depth == 1


def test_the_loaders_pipeline_prefetches_num_prefetch_queue_batches(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, [(24, 24)] * 4)
    with dali_sr.build_loader({**paired_cfg(roots, 2), "num_prefetch_queue": 3}) as loader:
        next(iter(loader))
        assert loader._live.pipe.prefetch_queue_depth == 3
