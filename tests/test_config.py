"""`dali_sr.load_config`: dataset sections, whole BasicSR option files, defaults and errors."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import dali_sr
from conftest import make_nn_pairs, paired_cfg
from dali_sr import ConfigError, load_config
from dali_sr.datasets.plan import Sampling
from dali_sr.storage.backends import DiskStorage

SECTION = {
    "name": "DIV2K", "type": "PairedImageDataset", "scale": 4, "gt_size": 128,
    "dataroot_gt": "datasets/DIV2K/gt", "dataroot_lq": "datasets/DIV2K/lq",
    "io_backend": {"type": "disk"},
}

# A whole BasicSR option file (train_EDSR_Mx4 style): top-level scale / manual_seed, three dataset
# sections, and the unrelated top-level `train:` / `val:` / `network_g:` blocks BasicSR files carry.
OPTION_FILE = textwrap.dedent("""\
    name: 001_EDSR_Mx4_f64b16_DIV2K
    model_type: SRModel
    scale: 4
    num_gpu: 1
    manual_seed: 10

    datasets:
      train:
        name: DIV2K
        type: PairedImageDataset
        dataroot_gt: datasets/DIV2K/DIV2K_train_HR_sub
        dataroot_lq: datasets/DIV2K/DIV2K_train_LR_bicubic_X4_sub
        meta_info_file: basicsr/data/meta_info/meta_info_DIV2K800sub_GT.txt
        filename_tmpl: '{}'
        io_backend:
          type: disk

        gt_size: 192
        use_hflip: true
        use_rot: true

        # data loader
        num_worker_per_gpu: 6
        batch_size_per_gpu: 8
        dataset_enlarge_ratio: 100
        prefetch_mode: ~

      val:
        name: Set5
        type: PairedImageDataset
        dataroot_gt: datasets/Set5/GTmod12
        dataroot_lq: datasets/Set5/LRbicx4
        io_backend:
          type: disk

      val_2:
        name: Set14
        type: PairedImageDataset
        dataroot_gt: datasets/Set14/GTmod12.lmdb
        dataroot_lq: datasets/Set14/LRbicx4.lmdb
        io_backend:
          type: lmdb

    network_g:
      type: EDSR
      num_in_ch: 3
      num_feat: 64

    path:
      pretrain_network_g: ~
      strict_load_g: true

    train:
      ema_decay: 0.999
      optim_g:
        type: Adam
        lr: !!float 1e-4
      total_iter: 300000

    val:
      val_freq: !!float 5e3
      save_img: false
    """)


def one_line(excinfo) -> str:
    msg = str(excinfo.value)
    assert msg, "error message is empty"
    assert "\n" not in msg, f"error message spans several lines: {msg!r}"
    return msg


@pytest.fixture
def option_file(tmp_path) -> Path:
    path = tmp_path / "train_EDSR_Mx4.yml"
    path.write_text(OPTION_FILE)
    return path


def write_yaml(tmp_path: Path, text: str, name: str = "opt.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


# -- valid configs -------------------------------------------------------------------------------
def test_dict_section_is_validated_into_config():
    cfg = load_config(dict(SECTION, use_hflip=True, use_rot=False, batch_size_per_gpu=4))
    assert isinstance(cfg, dali_sr.Config)
    assert cfg.type == "PairedImageDataset" and cfg.name == "DIV2K"
    assert cfg.phase == "train" and cfg.is_train
    assert cfg.scale == 4 and cfg.gt_size == 128
    assert cfg.dataroot_gt == "datasets/DIV2K/gt" and cfg.dataroot_lq == "datasets/DIV2K/lq"
    assert cfg.io_backend == "disk"
    assert cfg.use_hflip is True and cfg.use_rot is False
    assert cfg.batch_size == 4
    assert cfg.filename_tmpl == "{}"
    assert cfg.mean is None and cfg.std is None and cfg.color is None and cfg.out_channels == 3


def test_dict_source_is_not_mutated():
    section = dict(SECTION, io_backend={"type": "lmdb"})
    before = {**section, "io_backend": dict(section["io_backend"])}
    load_config(section, phase="val", batch_size_per_gpu=2)
    assert section == before


def test_train_defaults():
    cfg = load_config(SECTION)
    assert cfg.phase == "train"
    assert cfg.shuffle is True and cfg.drop_last is True
    assert cfg.batch_size == 16
    assert cfg.dataset_enlarge_ratio == 1
    assert cfg.use_hflip is False and cfg.use_rot is False
    assert cfg.seed == 0 and cfg.io_backend == "disk"


def test_val_defaults():
    cfg = load_config({k: v for k, v in SECTION.items() if k != "gt_size"}, phase="val")
    assert cfg.phase == "val" and not cfg.is_train
    assert cfg.batch_size == 1
    assert cfg.shuffle is False and cfg.drop_last is False
    assert cfg.dataset_enlarge_ratio == 1
    assert cfg.gt_size is None


def test_val_ignores_enlarge_ratio_but_keeps_explicit_batch_and_shuffle():
    cfg = load_config(dict(SECTION, dataset_enlarge_ratio=50, batch_size_per_gpu=3, use_shuffle=True), phase="val")
    assert cfg.dataset_enlarge_ratio == 1
    assert cfg.batch_size == 3
    assert cfg.shuffle is True


def test_phase_inside_section_is_used():
    cfg = load_config(dict(SECTION, phase="val"))
    assert cfg.phase == "val" and cfg.batch_size == 1 and cfg.shuffle is False


def test_test_phase_behaves_like_validation():
    cfg = load_config({k: v for k, v in SECTION.items() if k != "gt_size"}, phase="test")
    assert cfg.phase == "test" and not cfg.is_train
    assert cfg.batch_size == 1 and cfg.shuffle is False and cfg.drop_last is False


def test_lmdb_backend_and_yaml_dataset_section_file(tmp_path):
    path = write_yaml(tmp_path, """\
        name: x2
        type: PairedImageDataset
        scale: 2
        gt_size: 64
        dataroot_gt: a.lmdb
        dataroot_lq: b.lmdb
        io_backend:
          type: lmdb
        mean: [0.5, 0.5, 0.5]
        std: [0.25, 0.25, 0.25]
        """)
    for source in (path, str(path)):
        cfg = load_config(source)
        assert cfg.io_backend == "lmdb" and cfg.scale == 2 and cfg.gt_size == 64 and cfg.name == "x2"
        assert cfg.mean == (0.5, 0.5, 0.5) and cfg.std == (0.25, 0.25, 0.25)


def test_color_y_gives_one_channel_and_accepts_one_value_mean_std():
    cfg = load_config(dict(SECTION, color="y", mean=[0.5], std=[0.5]))
    assert cfg.color == "y" and cfg.out_channels == 1
    assert cfg.mean == (0.5,) and cfg.std == (0.5,)


def test_option_file_picks_train_by_default(option_file):
    cfg = load_config(option_file)
    assert cfg.name == "DIV2K" and cfg.phase == "train"
    assert cfg.scale == 4
    assert cfg.seed == 10  # manual_seed
    assert cfg.gt_size == 192 and cfg.use_hflip and cfg.use_rot
    assert cfg.batch_size == 8 and cfg.dataset_enlarge_ratio == 100
    assert cfg.shuffle is True and cfg.drop_last is True
    assert cfg.meta_info_file == "basicsr/data/meta_info/meta_info_DIV2K800sub_GT.txt"
    assert load_config(option_file, phase="train") == cfg


def test_option_file_picks_val(option_file):
    cfg = load_config(option_file, phase="val")
    assert cfg.name == "Set5" and cfg.phase == "val"
    assert cfg.scale == 4  # top-level scale propagates into a section without one
    assert cfg.seed == 10
    assert cfg.batch_size == 1 and cfg.shuffle is False and cfg.drop_last is False
    assert cfg.dataset_enlarge_ratio == 1 and cfg.gt_size is None
    assert cfg.dataroot_gt == "datasets/Set5/GTmod12"


def test_option_file_picks_exact_key(option_file):
    cfg = load_config(option_file, phase="val_2")
    assert cfg.name == "Set14" and cfg.phase == "val"
    assert cfg.io_backend == "lmdb" and cfg.scale == 4
    assert cfg.dataroot_lq == "datasets/Set14/LRbicx4.lmdb"


def test_option_file_phase_prefix_matches_numbered_sections(tmp_path):
    path = write_yaml(tmp_path, """\
        scale: 2
        datasets:
          test_1:
            name: Set5
            type: PairedImageDataset
            dataroot_gt: g1
            dataroot_lq: l1
          test_2:
            name: Set14
            type: PairedImageDataset
            dataroot_gt: g2
            dataroot_lq: l2
        """)
    assert load_config(path, phase="test").name == "Set5"
    cfg = load_config(path, phase="test_2")
    assert cfg.name == "Set14" and cfg.phase == "test" and cfg.scale == 2


def test_option_file_missing_phase_lists_sections(option_file):
    with pytest.raises(ConfigError) as e:
        load_config(option_file, phase="test")
    msg = one_line(e)
    assert "test" in msg and "val_2" in msg and "train" in msg


def test_option_file_dict_form_is_accepted():
    opts = {"scale": 3, "manual_seed": 7,
            "datasets": {"train": {k: v for k, v in SECTION.items() if k != "scale"} | {"gt_size": 96}}}
    cfg = load_config(opts)
    assert cfg.scale == 3 and cfg.seed == 7 and cfg.gt_size == 96


def test_top_level_scale_overrides_section_scale_like_basicsr(tmp_path):
    # BasicSR's parse_options does `dataset['scale'] = opt['scale']` for every dataset section.
    path = write_yaml(tmp_path, """\
        scale: 2
        datasets:
          train:
            type: PairedImageDataset
            scale: 4
            gt_size: 64
            dataroot_gt: g
            dataroot_lq: l
        """)
    assert load_config(path).scale == 2


def test_section_seed_beats_manual_seed(tmp_path):
    path = write_yaml(tmp_path, """\
        scale: 2
        manual_seed: 10
        datasets:
          train: {type: PairedImageDataset, gt_size: 64, seed: 3, dataroot_gt: g, dataroot_lq: l}
        """)
    assert load_config(path).seed == 3


def test_null_manual_seed_is_accepted(tmp_path):
    path = write_yaml(tmp_path, """\
        scale: 2
        manual_seed: ~
        datasets:
          train: {type: PairedImageDataset, gt_size: 64, dataroot_gt: g, dataroot_lq: l}
        """)
    cfg = load_config(path)
    assert isinstance(cfg.seed, int) and cfg.seed >= 0


def test_old_use_flip_maps_to_use_hflip():
    assert load_config(dict(SECTION, use_flip=True)).use_hflip is True
    assert load_config(dict(SECTION, use_flip=False)).use_hflip is False
    assert load_config(SECTION).use_hflip is False
    assert load_config(dict(SECTION, use_flip=True, use_hflip=True)).use_hflip is True
    with pytest.raises(ConfigError, match="'use_flip' \\(True\\) and 'use_hflip' \\(False\\) disagree; use_flip is "
                                          "BasicSR's old name of use_hflip, keep one of them"):
        load_config(dict(SECTION, use_flip=True, use_hflip=False))


def test_use_shuffle_sets_shuffle():
    assert load_config(dict(SECTION, use_shuffle=False)).shuffle is False
    assert load_config(dict(SECTION, use_shuffle=True), phase="val").shuffle is True
    assert load_config(dict(SECTION, use_shuffle=True, shuffle=False)).shuffle is False


def test_drop_last_can_be_changed():
    assert load_config(dict(SECTION, drop_last=False)).drop_last is False
    assert load_config(dict(SECTION, drop_last=True), phase="val").drop_last is True


def test_keyword_overrides_win(option_file):
    cfg = load_config(option_file, phase="val", scale=2, seed=5, batch_size_per_gpu=3, device="cpu",
                      dataroot_gt="elsewhere", use_shuffle=True)
    assert cfg.name == "Set5"
    assert cfg.scale == 2 and cfg.seed == 5 and cfg.batch_size == 3 and cfg.device == "cpu"
    assert cfg.dataroot_gt == "elsewhere" and cfg.shuffle is True
    cfg = load_config(SECTION, gt_size=64, use_rot=True, num_threads=1)
    assert cfg.gt_size == 64 and cfg.use_rot is True and cfg.num_threads == 1


def test_keyword_override_with_unknown_key_is_refused():
    with pytest.raises(ConfigError) as e:
        load_config(SECTION, batch_szie=3)
    msg = one_line(e)
    assert "batch_szie" in msg


# -- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("key, suggestion", [
    ("gt_szie", "gt_size"),
    ("use_hfilp", "use_hflip"),
    ("dataroot_gtt", "dataroot_gt"),
    ("batch_size_per_gpus", "batch_size_per_gpu"),
])
def test_unknown_key_names_it_and_suggests_the_closest(key, suggestion):
    with pytest.raises(ConfigError) as e:
        load_config(dict(SECTION, **{key: 1}))
    msg = one_line(e)
    assert f"'{key}'" in msg
    assert f"'{suggestion}'" in msg


def test_unknown_key_in_yaml_names_file_key_and_suggestion(tmp_path):
    path = write_yaml(tmp_path, """\
        scale: 4
        datasets:
          train:
            name: DIV2K
            type: PairedImageDataset
            gt_szie: 128
            dataroot_gt: g
            dataroot_lq: l
        """, name="my_options.yml")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = one_line(e)
    assert "my_options.yml" in msg and "'gt_szie'" in msg and "'gt_size'" in msg


def test_config_error_is_a_value_error():
    with pytest.raises(ValueError):
        load_config(dict(SECTION, gt_szie=1))


@pytest.mark.parametrize("key, value", [
    ("scale", "4"),
    ("scale", 4.0),
    ("scale", True),
    ("use_rot", "yes"),
    ("use_hflip", 1),
    ("batch_size_per_gpu", True),
    ("gt_size", 128.0),
    ("num_worker_per_gpu", "6"),
    ("io_backend", "disk"),
    ("mean", "0.5"),
    ("filename_tmpl", 3),
    ("dataset_enlarge_ratio", False),
])
def test_wrong_type_names_the_key(key, value):
    with pytest.raises(ConfigError) as e:
        load_config(dict(SECTION, **{key: value}))
    msg = one_line(e)
    assert f"'{key}'" in msg
    assert repr(value) in msg


def test_wrong_type_in_yaml_names_the_key(tmp_path):
    path = write_yaml(tmp_path, """\
        datasets:
          train:
            type: PairedImageDataset
            scale: "4"
            gt_size: 128
            use_rot: yes please
            dataroot_gt: g
            dataroot_lq: l
        """)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = one_line(e)
    assert "'scale'" in msg or "'use_rot'" in msg


@pytest.mark.parametrize("changes, words", [
    ({"phase": "training"}, ["'phase'", "training"]),
    ({"device": "tpu"}, ["'device'", "tpu"]),
    ({"color": "ycbcr"}, ["'color'", "ycbcr"]),
    ({"mean": [0.5, 0.5], "std": [0.5, 0.5]}, ["'mean'"]),
    ({"mean": [0.5] * 3, "std": [0.5] * 4}, ["'std'"]),
    ({"mean": [0.5] * 3, "std": [0.5, 0.0, 0.5]}, ["'std'"]),
    ({"mean": [0.5] * 3}, ["'mean'", "'std'"]),
    ({"color": "y", "mean": [0.5] * 3, "std": [0.5] * 3}, ["'mean'"]),
    ({"gt_size": 130}, ["'gt_size'", "130", "4"]),
    ({"gt_size": None}, ["'gt_size'"]),
    ({"gt_size": 0}, ["'gt_size'"]),
    ({"scale": None}, ["'scale'"]),
    ({"scale": 0}, ["'scale'"]),
    ({"batch_size_per_gpu": 0}, ["'batch_size_per_gpu'"]),
    ({"seed": -1}, ["'seed'"]),
    ({"filename_tmpl": "x"}, ["'filename_tmpl'"]),
    ({"hw_decoder_load": 1.5}, ["'hw_decoder_load'"]),
    ({"io_backend": {"type": "memcache"}}, ["io_backend", "memcache"]),
])
def test_bad_values_are_refused_by_name(changes, words):
    section = {k: v for k, v in {**SECTION, **changes}.items() if v is not None}
    with pytest.raises(ConfigError) as e:
        load_config(section)
    msg = one_line(e)
    for word in words:
        assert word in msg


# The values of the bug report that reached DALI or the allocator, and the range each key now has.
ABSURD = [
    ("seed", 2 ** 63, "an integer in [0, 2**63 - 1]"),
    ("prefetch_queue_depth", 100000, "an integer in [1, 32]"),
    ("num_worker_per_gpu", 100000, "an integer in [0, 256]"),
    ("num_threads", 100000, "an integer in [1, 256]"),
    ("batch_size_per_gpu", 10 ** 9, "an integer in [1, 65536]"),
    ("gt_size", 2 ** 20, "an integer in [1, 32768]"),
    ("dataset_enlarge_ratio", 10 ** 12, "an integer in [1, 1000000]"),
    ("scale", 17, "an integer in [1, 16]"),
    ("crop_pad_size", 2 ** 20, "an integer in [1, 32768]"),
    ("source_workers", 1000, "an integer in [0, 64]"),
    ("num_prefetch_queue", 100000, "an integer in [1, 32]"),
    ("device_id", 10 ** 6, "an integer in [0, 1023]"),
]
NOT_FINITE = [
    ({"mean": [float("nan")] * 3, "std": [1.0] * 3}, "mean", "a list of 1 or 3 finite numbers in [-1000, 1000]"),
    ({"mean": [0.5, float("inf"), 0.5], "std": [1.0] * 3}, "mean", "a list of 1 or 3 finite numbers in [-1000, 1000]"),
    ({"mean": [0.5] * 3, "std": [float("nan")] * 3}, "std", "a list of 1 or 3 finite numbers in [0.001, 1000]"),
    ({"mean": [0.5] * 3, "std": [float("inf")] * 3}, "std", "a list of 1 or 3 finite numbers in [0.001, 1000]"),
    ({"mean": [0.5] * 3, "std": [-0.5] * 3}, "std", "a list of 1 or 3 finite numbers in [0.001, 1000]"),
]


@pytest.mark.parametrize("key, value, expect", ABSURD)
def test_absurd_numbers_are_refused_naming_key_range_and_value(key, value, expect):
    with pytest.raises(ConfigError) as e:
        load_config(dict(SECTION, **{key: value}))
    assert one_line(e) == f"config [DIV2K]: '{key}' must be {expect}, got {value}"


@pytest.mark.parametrize("changes", [{key: value} for key, value, _ in ABSURD] + [c for c, _, _ in NOT_FINITE],
                         ids=lambda changes: "-".join(changes))
def test_build_loader_refuses_absurd_numbers_before_planning_or_reading_the_dataset(tmp_path, monkeypatch, changes):
    roots = make_nn_pairs(tmp_path, 2, [(16, 16)] * 2)
    cfg = {**paired_cfg(roots, 2), **changes}
    with pytest.raises(ConfigError) as expected:
        load_config(cfg)

    def no_planning(*args, **kwargs):
        raise AssertionError("the dataset was planned, so memory was allocated for it")

    monkeypatch.setattr(Sampling, "plan", no_planning)
    monkeypatch.setattr(DiskStorage, "__init__", no_planning)
    with pytest.raises(ConfigError) as e:
        dali_sr.build_loader(cfg)
    assert one_line(e) == str(expected.value)


@pytest.mark.parametrize("changes, key, expect", NOT_FINITE)
def test_mean_and_std_must_be_finite_and_in_range(changes, key, expect):
    with pytest.raises(ConfigError) as e:
        load_config(dict(SECTION, **changes))
    assert one_line(e) == f"config [DIV2K]: '{key}' must be {expect}, got {changes[key]!r}"


def test_nan_and_infinity_written_in_yaml_are_refused(tmp_path):
    path = write_yaml(tmp_path, """\
        type: PairedImageDataset
        scale: 4
        gt_size: 128
        mean: [.nan, 0.5, 0.5]
        std: [1, 1, 1]
        """)
    with pytest.raises(ConfigError, match=r"'mean' must be a list of 1 or 3 finite numbers in \[-1000, 1000\], got "
                                          r"\[nan, 0.5, 0.5\]"):
        load_config(path)


@pytest.mark.parametrize("batch, gt_size", [(65536, 32768), (None, 32768), (4097, 1024)])
def test_a_training_batch_of_more_than_2_to_the_32_gt_pixels_is_refused(batch, gt_size):
    changes = {"gt_size": gt_size, **({"batch_size_per_gpu": batch} if batch else {})}
    with pytest.raises(ConfigError) as e:
        load_config(dict(SECTION, **changes))
    pixels = (batch or 16) * gt_size * gt_size
    assert one_line(e) == f"config [DIV2K]: batch_size_per_gpu {batch or 16} x gt_size {gt_size}x{gt_size} is " \
                          f"{pixels} GT pixels per batch, above the limit of 2**32; lower batch_size_per_gpu or gt_size"


def test_the_largest_values_a_config_takes_are_accepted():
    top = {"seed": 2 ** 63 - 1, "prefetch_queue_depth": 32, "num_worker_per_gpu": 256, "batch_size_per_gpu": 4096,
           "gt_size": 1024, "dataset_enlarge_ratio": 10 ** 6, "source_workers": 64, "device_id": 1023,
           "mean": [-1000, 0, 1000], "std": [0.001, 1, 1000]}
    cfg = load_config(dict(SECTION, **top))
    assert (cfg.seed, cfg.prefetch_queue_depth, cfg.num_threads, cfg.batch_size, cfg.gt_size,
            cfg.dataset_enlarge_ratio, cfg.source_workers, cfg.device_id) == (2 ** 63 - 1, 32, 256, 4096, 1024,
                                                                             10 ** 6, 64, 1023)
    assert cfg.mean == (-1000.0, 0.0, 1000.0) and cfg.std == (0.001, 1.0, 1000.0)
    assert load_config(dict(SECTION, scale=16, gt_size=32768, batch_size_per_gpu=4)).gt_size == 32768


def test_the_largest_patch_side_is_the_largest_image_side_the_loader_reads():
    from dali_sr.config.common import MAX_PATCH_SIDE
    from dali_sr.storage.headers import MAX_SIDE

    assert MAX_PATCH_SIDE == MAX_SIDE


@pytest.mark.parametrize("value", ["", "gpu0", "-1", "5000"])
def test_a_local_rank_that_is_no_gpu_index_is_refused(monkeypatch, value):
    monkeypatch.setenv("LOCAL_RANK", value)
    with pytest.raises(ConfigError) as e:
        load_config(SECTION)
    assert one_line(e) == f"config [DIV2K]: LOCAL_RANK={value!r} is not a GPU index in [0, 1023]; fix LOCAL_RANK " \
                          f"or set device_id"
    assert load_config(dict(SECTION, device_id=1)).device_id == 1


def test_missing_gt_size_is_fine_for_validation():
    section = {k: v for k, v in SECTION.items() if k != "gt_size"}
    assert load_config(section, phase="val").gt_size is None
    with pytest.raises(ConfigError):
        load_config(section)


def test_bad_phase_argument():
    with pytest.raises(ConfigError) as e:
        load_config(SECTION, phase="training")
    msg = one_line(e)
    assert "training" in msg


def test_missing_type():
    with pytest.raises(ConfigError) as e:
        load_config({k: v for k, v in SECTION.items() if k != "type"})
    assert "'type'" in one_line(e)


def test_unknown_type_suggests_the_closest():
    with pytest.raises(ConfigError) as e:
        load_config(dict(SECTION, type="PairedImageDatset"))
    msg = one_line(e)
    assert "PairedImageDatset" in msg and "'PairedImageDataset'" in msg


def test_empty_or_null_dataset_section(tmp_path):
    path = write_yaml(tmp_path, """\
        scale: 4
        datasets:
          train: ~
        """)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert "'type'" in one_line(e)
    path = write_yaml(tmp_path, "datasets: {}\n", name="empty.yml")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert "datasets" in one_line(e)


# -- YAML files --------------------------------------------------------------------------------------
def test_yaml_python_object_apply_tag_is_refused_not_executed(tmp_path):
    marker = tmp_path / "PWNED_MARKER"
    path = write_yaml(tmp_path, f"""\
        scale: 4
        datasets:
          train:
            name: !!python/object/apply:os.system ["touch {marker}"]
            type: PairedImageDataset
            gt_size: 128
            dataroot_gt: g
            dataroot_lq: l
        """, name="evil.yml")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = one_line(e)
    assert "evil.yml" in msg
    assert not marker.exists()


def test_yaml_python_object_tag_is_refused(tmp_path):
    path = write_yaml(tmp_path, """\
        type: PairedImageDataset
        scale: 4
        gt_size: 128
        io_backend: !!python/object:argparse.Namespace {type: disk}
        """, name="object.yml")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert "object.yml" in one_line(e)


@pytest.mark.parametrize("text", [
    "datasets:\n  train: [unclosed\n",
    "type: PairedImageDataset\n  scale: 4\n scale: 2\n",
    "type: PairedImageDataset\nscale: 4\n\tgt_size: 128\n",
    "key: 'unterminated\n",
])
def test_invalid_yaml_names_the_file(tmp_path, text):
    path = tmp_path / "broken_options.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = one_line(e)
    assert str(path) in msg


@pytest.mark.parametrize("text, key, lines", [
    ("type: PairedImageDataset\nscale: 4\ngt_size: 128\nscale: 2\n", "scale", "lines 2 and 4"),
    ("datasets:\n  train:\n    type: PairedImageDataset\n    gt_size: 96\n    io_backend:\n      type: disk\n"
     "      type: lmdb\n", "type", "lines 6 and 7"),
    ("datasets:\n  train: {type: PairedImageDataset, scale: 4}\n  train: {type: PairedImageDataset, scale: 2}\n",
     "train", "lines 2 and 3"),
    ("type: PairedImageDataset\nmean: 1\nio_backend: {type: disk, type: lmdb}\n", "type", "both on line 3"),
])
def test_a_key_given_twice_is_refused_naming_it_and_both_lines(tmp_path, text, key, lines):
    path = tmp_path / "twice.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert one_line(e) == f"{path}: key '{key}' appears twice ({lines}); keep one of them"


def test_keys_merged_from_an_anchor_may_be_overridden(tmp_path):
    path = write_yaml(tmp_path, """\
        common: &common
          type: PairedImageDataset
          scale: 4
          gt_size: 64
        datasets:
          train:
            <<: *common
            gt_size: 128
            dataroot_gt: g
            dataroot_lq: l
        """)
    cfg = load_config(path)
    assert (cfg.type, cfg.scale, cfg.gt_size) == ("PairedImageDataset", 4, 128)


def test_a_config_file_that_cannot_be_read_is_named(tmp_path, monkeypatch):
    path = tmp_path / "options.yml"
    path.write_text("type: PairedImageDataset\n")
    real_read_bytes = Path.read_bytes

    def read_bytes(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert one_line(e) == f"cannot read config file {path}: Permission denied; make it readable or pass another file"


def test_a_config_file_that_is_not_text_is_named(tmp_path):
    path = tmp_path / "options.yml"
    path.write_bytes(b"type: \xff\xfe\x00PairedImageDataset\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert one_line(e) == f"config file {path} is not UTF-8 text; pass a YAML file"


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", ""])
def test_yaml_that_is_not_a_mapping(tmp_path, text):
    path = tmp_path / "list.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(path) in one_line(e)


def test_missing_yaml_file(tmp_path):
    path = tmp_path / "nope" / "options.yml"
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(path) in one_line(e)
    with pytest.raises(ConfigError):
        dali_sr.build_loader(str(path))
