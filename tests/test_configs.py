"""Every shipped preset in configs/ validates and selects a registered pipeline."""
from pathlib import Path

import pytest

import dali_sr

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yml"))


def test_presets_exist():
    names = {p.stem for p in CONFIGS}
    for s in (2, 3, 4):
        assert {f"div2k_x{s}_lmdb", f"div2k_x{s}_disk"} <= names
    assert "set5_x4_val" in names


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_preset_validates(path):
    cfg = dali_sr.load_config(path)
    assert cfg.type == "PairedImageDataset"
    if cfg.is_train:
        assert cfg.gt_size % cfg.scale == 0 and cfg.use_hflip and cfg.use_rot


def test_option_file_sections():
    path = next(p for p in CONFIGS if p.stem == "basicsr_edsr_x4_option")
    train, val = dali_sr.load_config(path), dali_sr.load_config(path, phase="val")
    assert (train.phase, train.scale, train.seed, train.gt_size, train.io_backend) == ("train", 4, 10, 192, "lmdb")
    assert (val.phase, val.scale, val.batch_size, val.shuffle) == ("val", 4, 1, False)
