"""Every shipped preset in configs/ validates and selects a registered pipeline."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import dali_sr
from dali_sr.config import dataset_types

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yml"))


def phases(path: Path) -> list:
    """The phases of a preset's option-file sections, or [None] for a bare dataset section."""
    sections = yaml.safe_load(path.read_text()).get("datasets")
    return list(sections) if sections else [None]


def test_presets_exist():
    names = {p.stem for p in CONFIGS}
    for s in (2, 3, 4):
        assert {f"div2k_x{s}_lmdb", f"div2k_x{s}_disk"} <= names
    assert "set5_x4_val" in names
    assert {"reds_edvr_m_x4", "reds_basicvsr_x4", "vimeo90k_edvr_x4", "vimeo90k_basicvsr_x4", "reds4_val",
            "custom_clips_deblur"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_preset_validates(path):
    for phase in phases(path):
        cfg = dali_sr.load_config(path, phase=phase)
        assert cfg.type in dataset_types()
        if cfg.is_train and cfg.type != "FFHQDataset":  # FFHQ trains on whole images
            assert cfg.gt_size % cfg.scale == 0 and cfg.use_hflip
            real_esrgan = cfg.degradation is not None and not cfg.degradation.is_bicubic
            assert cfg.use_rot or cfg.use_vflip or real_esrgan  # Real-ESRGAN flips horizontally only


def test_storage_presets_read_shards_memcached_and_ffhq():
    by_name = {p.stem: dali_sr.load_config(p) for p in CONFIGS}
    assert (by_name["ffhq_stylegan2"].type, by_name["ffhq_stylegan2"].degradation) == ("FFHQDataset", None)
    assert by_name["div2k_x4_s3_shards"].dataroot_gt.startswith("s3://")
    y = by_name["tf_y_patch_records"]
    assert (y.io_backend, y.io_options.feature, y.io_options.patch_shape, y.color) == ("tfrecord", "gt", (96, 96, 1),
                                                                                       "y")


def test_gt_only_y_preset_is_the_tensorflow_loaders_setting():
    cfg = dali_sr.load_config(next(p for p in CONFIGS if p.stem == "div2k_x4_gt_only_y"))
    assert (cfg.dataroot_lq, cfg.degradation.is_bicubic, cfg.scale, cfg.gt_size, cfg.batch_size, cfg.color) == \
        (None, True, 4, 96, 64, "y")
    assert cfg.use_hflip and cfg.use_vflip and not cfg.use_rot


def test_option_file_sections():
    path = next(p for p in CONFIGS if p.stem == "basicsr_edsr_x4_option")
    train, val = dali_sr.load_config(path), dali_sr.load_config(path, phase="val")
    assert (train.phase, train.scale, train.seed, train.gt_size, train.io_backend) == ("train", 4, 10, 192, "lmdb")
    assert (val.phase, val.scale, val.batch_size, val.shuffle) == ("val", 4, 1, False)


@pytest.mark.parametrize("name, train_type, val_type, frames", [
    ("reds_edvr_m_x4", "REDSDataset", "VideoTestDataset", 5),
    ("reds_basicvsr_x4", "REDSRecurrentDataset", "VideoRecurrentTestDataset", 15),
    ("vimeo90k_basicvsr_x4", "Vimeo90KRecurrentDataset", "VideoRecurrentTestDataset", -1),
    ("custom_clips_deblur", "VideoClipDataset", "VideoTestDataset", 5),
])
def test_video_option_files(name, train_type, val_type, frames):
    path = next(p for p in CONFIGS if p.stem == name)
    train, val = dali_sr.load_config(path), dali_sr.load_config(path, phase="val")
    assert (train.type, val.type, train.options.num_frame) == (train_type, val_type, frames)
    assert train.use_hflip and train.use_rot and not val.is_train and val.batch_size == 1


def test_every_preset_validates_where_dali_cannot_be_imported():
    code = ("import sys; sys.modules['nvidia.dali'] = None\n"
            "import dali_sr, test_configs\n"
            "for path in test_configs.CONFIGS:\n"
            "    for phase in test_configs.phases(path):\n"
            "        print(dali_sr.load_config(path, phase=phase).type)\n")
    tests = Path(__file__).resolve().parent
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(tests.parent), str(tests)])))
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [dali_sr.load_config(p, phase=phase).type for p in CONFIGS for phase in phases(p)]
