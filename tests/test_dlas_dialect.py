"""DL-Art-School option dicts and files: `mode:` selects the type, its loader keys map onto dali_sr's, and
BasicSR option files are read as before."""
from __future__ import annotations

import textwrap

import pytest

from dali_sr import ConfigError, load_config
from dali_sr.config.dialects import dialect_of
from dali_sr.config.dialects.dlas import MODES

DLAS_SECTION = {"name": "amalgam", "mode": "single_image_extensible", "paths": ["/data/mi1_256", "/data/other"],
                "weights": [2, 1], "target_size": 128, "force_multiple": 32, "scale": 2, "eval": False,
                "batch_size": 16, "n_workers": 4, "pin_memory": True, "need_ref": True, "strict": True,
                "ignore_first": 3}

# A DL-Art-School training option file: its model sections beside `datasets:` with one dict per phase.
DLAS_FILE = textwrap.dedent("""\
    name: train_sr_chunks
    model: extensibletrainer
    scale: 2
    gpu_ids: [0]
    datasets:
      train:
        name: amalgam
        n_workers: 2
        batch_size: 8
        mode: single_image_extensible
        paths: [/data/mi1_256]
        weights: [1]
        target_size: 128
        force_multiple: 32
        scale: 2
        eval: False
        fixed_corruptions: []
      val:
        name: val_chunks
        mode: single_image_extensible
        paths: /data/val_256
        target_size: 128
        scale: 2
        batch_size: ~
        eval: True
    networks:
      generator:
        type: generator
        which_model_G: RRDBNet
""")

BASICSR_FILE = textwrap.dedent("""\
    scale: 4
    manual_seed: 10
    datasets:
      train:
        name: DIV2K
        type: PairedImageDataset
        dataroot_gt: datasets/gt
        dataroot_lq: datasets/lq
        io_backend: {type: disk}
        gt_size: 128
        batch_size_per_gpu: 16
""")


def test_a_dataset_dict_loads_unchanged():
    cfg = load_config(DLAS_SECTION)
    o = cfg.options
    assert (cfg.type, cfg.name, cfg.phase, cfg.scale, cfg.batch_size, cfg.num_threads) == (
        "SingleImageDataset", "amalgam", "train", 2, 16, 4)
    assert (o.paths, o.weights, o.target_size, o.force_multiple, o.need_ref, o.strict, o.ignore_first) == (
        ["/data/mi1_256", "/data/other"], [2, 1], 128, 32, True, True, 3)


def test_an_option_file_gives_each_phase(tmp_path):
    path = tmp_path / "train_sr_chunks.yml"
    path.write_text(DLAS_FILE)
    assert dialect_of(load_config.__globals__["read_yaml"](path)).name == "DL-Art-School option dict"
    train, val = load_config(path), load_config(path, phase="val")
    assert (train.type, train.phase, train.batch_size, train.num_threads, train.options.paths) == (
        "SingleImageDataset", "train", 8, 2, ["/data/mi1_256"])
    # validation: DL-Art-School's `batch_size or 1`; eval makes LQ the HQ image (scale 1)
    assert (val.phase, val.batch_size, val.options.eval, val.scale, val.degradation) == ("val", 1, True, 1, None)


def test_type_with_the_class_name_works_too():
    section = {k: v for k, v in DLAS_SECTION.items() if k not in ("mode", "batch_size")}
    cfg = load_config({**section, "type": "SingleImageDataset", "batch_size_per_gpu": 4})
    assert (cfg.type, cfg.batch_size, cfg.options.target_size) == ("SingleImageDataset", 4, 128)


@pytest.mark.parametrize("mode", ["zipfile", "byol_dataset", "paired_voice_audio", "nv_tacotron"])
def test_a_mode_dali_sr_lacks_is_named_with_the_supported_ones(mode):
    with pytest.raises(ConfigError) as e:
        load_config({**DLAS_SECTION, "mode": mode})
    message = str(e.value)
    assert "\n" not in message and f"mode {mode!r} is not supported" in message
    assert all(name in message for name in MODES)


def test_mode_and_a_different_type_conflict():
    with pytest.raises(ConfigError, match="mode 'single_image_extensible' is type SingleImageDataset but type is "
                                          "'ImageFolderDataset'"):
        load_config({**DLAS_SECTION, "type": "ImageFolderDataset"})


def test_both_batch_size_spellings_conflict():
    with pytest.raises(ConfigError, match="both 'batch_size' .* and 'batch_size_per_gpu'"):
        load_config({**DLAS_SECTION, "batch_size_per_gpu": 4})


def test_unknown_keys_are_refused_by_name():
    with pytest.raises(ConfigError, match="target_szie"):
        load_config({**DLAS_SECTION, "target_szie": 64})


def test_a_null_training_batch_size_is_refused():
    with pytest.raises(ConfigError, match="batch_size_per_gpu"):
        load_config({**DLAS_SECTION, "batch_size": None})


def test_every_mode_names_a_type():
    assert MODES == {"single_image_extensible": "SingleImageDataset", "multi_frame_extensible": "MultiFrameDataset",
                     "imagefolder": "ImageFolderDataset", "stylegan2": "Stylegan2Dataset",
                     "multiscale": "MultiScaleDataset", "torch_dataset": "TorchDataset",
                     "fullimage": "FullImageDataset"}


def test_basicsr_option_files_still_load(tmp_path):
    path = tmp_path / "basicsr.yml"
    path.write_text(BASICSR_FILE)
    cfg = load_config(path)
    assert (cfg.type, cfg.scale, cfg.seed, cfg.batch_size, cfg.gt_size) == ("PairedImageDataset", 4, 10, 16, 128)
    assert dialect_of({"datasets": {"train": {"type": "PairedImageDataset"}}}).name == "BasicSR option file"
