"""Old EDVR option files: `mode:` selects the type, EDVR's keys map onto dali_sr's as EDVR's options.parse and
datasets read them, and what EDVR does differently is refused in one line."""
from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest

from dali_sr import ConfigError, load_config
from dali_sr.config.dialects import dialect_of

# EDVR's codes/options/train/train_EDVR_M.yml (its last old-layout version), dataroots pointed at `root`.
EDVR_FILE = """\
#### general settings
name: 002_EDVR_EDVRwoTSAIni_lr4e-4_600k_REDS_LrCAR4S_fixTSA50k_new
use_tb_logger: true
model: video_base
distortion: sr
scale: 4
gpu_ids: [0,1,2,3,4,5,6,7]

#### datasets
datasets:
  train:
    name: REDS
    mode: REDS
    interval_list: [1]
    random_reverse: false
    border_mode: false
    dataroot_GT: {root}/train_sharp_wval.lmdb
    dataroot_LQ: {root}/train_sharp_bicubic_wval.lmdb
    cache_keys: ~

    N_frames: 5
    use_shuffle: true
    n_workers: 3  # per GPU
    batch_size: 32
    GT_size: 256
    LQ_size: 64
    use_flip: true
    use_rot: true
    color: RGB
  val:
    name: REDS4
    mode: video_test
    dataroot_GT: {root}/REDS4/GT
    dataroot_LQ: {root}/REDS4/sharp_bicubic
    cache_data: True
    N_frames: 5
    padding: new_info

#### network structures
network_G:
  which_model_G: EDVR
  nf: 128
  nframes: 5
  HR_in: false
  w_TSA: true

#### training settings: learning rate scheme, loss
train:
  lr_G: !!float 4e-4
  niter: 600000
  manual_seed: 0
"""


def write_file(tmp_path: Path, text: str = EDVR_FILE, **dataset_edits) -> Path:
    path = tmp_path / "options" / "train_EDVR_M.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = text.format(root=tmp_path)
    for key, value in dataset_edits.items():
        text = "\n".join(f"    {key}: {value}" if line.startswith(f"    {key}:") else line
                         for line in text.splitlines())
    path.write_text(text + "\n")
    return path


def test_edvr_files_are_read_by_the_edvr_dialect_and_others_are_not(tmp_path):
    import yaml

    opts = yaml.safe_load(write_file(tmp_path).read_text())
    assert dialect_of(opts).name == "EDVR option file"
    assert dialect_of(opts["datasets"]["train"]).name == "EDVR option file"
    assert dialect_of({"mode": "single_image_extensible"}).name == "DL-Art-School option dict"
    assert dialect_of({"datasets": {"train": {"type": "REDSDataset"}}}).name == "BasicSR option file"


def test_edvr_train_section_maps_onto_reds_dataset(tmp_path, monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    cfg = load_config(write_file(tmp_path))
    assert cfg.type == "REDSDataset" and cfg.phase == "train" and cfg.name == "REDS"
    assert cfg.scale == 4 and cfg.gt_size == 256  # LQ patch 64 = GT_size // scale, as EDVR crops it
    assert cfg.dataroot_gt == f"{tmp_path}/train_sharp_wval.lmdb" and cfg.io_backend == "lmdb"
    assert cfg.options.num_frame == 5 and cfg.options.interval_list == (1,) and not cfg.options.random_reverse
    assert cfg.options.val_partition == "REDS4"  # EDVR leaves out REDS4 (000, 011, 015, 020)
    assert cfg.batch_size == 32 and cfg.num_threads == 3 and cfg.shuffle
    assert cfg.use_hflip and cfg.use_rot and cfg.color is None and cfg.seed == 0


def test_edvr_val_section_maps_onto_video_test_dataset(tmp_path):
    cfg = load_config(write_file(tmp_path), phase="val")
    assert cfg.type == "VideoTestDataset" and cfg.phase == "val" and cfg.io_backend == "disk"
    assert cfg.options.num_frame == 5 and cfg.options.padding == "reflection_circle"  # EDVR's new_info


def test_equal_gt_and_lq_sizes_read_same_size_frames(tmp_path):
    cfg = load_config(write_file(tmp_path, LQ_size=256))
    assert cfg.scale == 1 and cfg.gt_size == 256


def test_batch_size_is_divided_among_processes_as_edvr_does(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "8")
    assert load_config(write_file(tmp_path)).batch_size == 4
    monkeypatch.setenv("WORLD_SIZE", "5")
    with pytest.raises(ConfigError, match="'batch_size' 32 is EDVR's batch over all 5 processes"):
        load_config(write_file(tmp_path))


def test_vimeo90k_mode_ignores_interval_and_reverse_as_edvr(tmp_path):
    path = write_file(tmp_path, mode="Vimeo90K", random_reverse="true", interval_list="[1, 2]", N_frames=7)
    cfg = load_config(path)
    assert cfg.type == "Vimeo90KDataset" and cfg.options.num_frame == 7
    assert cfg.options.interval_list == (1,) and not cfg.options.random_reverse


def test_color_y_gives_y_and_rgb_or_gray_gives_rgb_as_edvr_video_datasets(tmp_path):
    assert load_config(write_file(tmp_path, color="y")).color == "y"
    assert load_config(write_file(tmp_path, color="rgb")).color is None
    # EDVR's REDS, Vimeo90K and video_test datasets never read `color`: a gray option file gets RGB frames there
    for mode in ("REDS", "Vimeo90K"):
        assert load_config(write_file(tmp_path, color="gray", mode=mode, N_frames=7)).color is None


def test_border_mode_selects_the_one_sided_window_of_reds_only(tmp_path):
    assert load_config(write_file(tmp_path, border_mode="true")).options.border_mode
    assert not load_config(write_file(tmp_path)).options.border_mode
    # EDVR's Vimeo90K dataset never reads border_mode
    cfg = load_config(write_file(tmp_path, border_mode="true", mode="Vimeo90K", N_frames=7))
    assert cfg.type == "Vimeo90KDataset" and not cfg.options.border_mode


@pytest.mark.parametrize("edit,message", [
    ({"color": "BGR"}, "color 'BGR' is not RGB, y or gray"),
    ({"border_mode": "1"}, "border_mode"),
    ({"LQ_size": 60}, "'LQ_size' 60 is neither 'GT_size' 256 .* nor GT_size / scale 4"),
    ({"mode": "REDS_mc"}, "mode 'REDS_mc' reads EDVR's memcached cluster"),
    ({"N_frames": 4}, "'num_frame' must be an odd positive integer, got 4"),
    ({"mode": "REDS\n    type: VideoClipDataset"}, "mode 'REDS' is type REDSDataset but type is 'VideoClipDataset'"),
    ({"N_frames": "5\n    use_flips: true"}, "use_flips.* did you mean 'use_flip'"),
])
def test_what_edvr_reads_differently_is_refused_in_one_line(tmp_path, edit, message):
    with pytest.raises(ConfigError, match=message) as e:
        load_config(write_file(tmp_path, **edit))
    assert "\n" not in str(e.value)


def test_both_edvr_and_dali_sr_names_of_a_key_are_refused(tmp_path):
    path = write_file(tmp_path, N_frames="5\n    num_frame: 5")
    with pytest.raises(ConfigError, match="both 'N_frames' .* and 'num_frame'"):
        load_config(path)


# -- cache_keys --------------------------------------------------------------------------------------------------
def keyed_data(tmp_path: Path, keys: list[str]) -> Path:
    """A REDS GT LMDB folder whose meta_info.pkl lists `keys` (the loader is not built: no values needed)."""
    root = tmp_path / "train_sharp_wval.lmdb"
    root.mkdir(parents=True, exist_ok=True)
    import lmdb

    lmdb.open(str(root), map_size=1 << 20).close()
    with open(root / "meta_info.pkl", "wb") as f:
        pickle.dump({"name": "REDS", "resolution": "3_720_1280", "keys": keys}, f)
    return root


KEYS = [f"{c:03d}_{f:08d}" for c in (1, 2) for f in range(4)]


@pytest.mark.parametrize("where", ["absolute", "option_file", "lmdb"])
def test_cache_keys_is_found_absolute_beside_the_option_file_or_inside_the_lmdb(tmp_path, where):
    root = keyed_data(tmp_path, KEYS)
    key_file = {"absolute": tmp_path / "elsewhere" / "keys.pkl", "option_file": tmp_path / "options" / "keys.pkl",
                "lmdb": root / "meta_info.pkl"}[where]
    key_file.parent.mkdir(parents=True, exist_ok=True)
    if where != "lmdb":
        key_file.write_bytes(pickle.dumps(list(reversed(KEYS))))  # EDVR's REDS_trainval_keys.pkl: a bare list
    value = {"absolute": str(key_file), "option_file": "keys.pkl", "lmdb": "meta_info.pkl"}[where]
    assert load_config(write_file(tmp_path, cache_keys=value)).type == "REDSDataset"


def test_cache_keys_that_are_not_the_data_frames_are_refused(tmp_path):
    keyed_data(tmp_path, KEYS)
    (tmp_path / "options").mkdir()
    (tmp_path / "options" / "keys.pkl").write_bytes(pickle.dumps(KEYS[:-1]))
    with pytest.raises(ConfigError, match="leaves out '002_00000003', which dataroot_GT holds"):
        load_config(write_file(tmp_path, cache_keys="keys.pkl"))
    (tmp_path / "options" / "keys.pkl").write_bytes(pickle.dumps(KEYS + ["003_00000000"]))
    with pytest.raises(ConfigError, match="lists '003_00000000', which dataroot_GT does not hold"):
        load_config(write_file(tmp_path, cache_keys="keys.pkl"))


def test_cache_keys_missing_or_not_plain_data_is_refused(tmp_path):
    keyed_data(tmp_path, KEYS)
    with pytest.raises(ConfigError, match="cache_keys 'nowhere.pkl' not found .*options/nowhere.pkl"):
        load_config(write_file(tmp_path, cache_keys="nowhere.pkl"))
    (tmp_path / "options" / "evil.pkl").write_bytes(pickle.dumps({"keys": [Path("x")]}))
    with pytest.raises(ConfigError, match="refused to unpickle"):
        load_config(write_file(tmp_path, cache_keys="evil.pkl"))


def test_a_bare_edvr_section_loads_too(tmp_path):
    cfg = load_config({"mode": "REDS", "name": "custom", "dataroot_GT": "gt", "dataroot_LQ": "input",
                       "N_frames": 3, "GT_size": 64, "LQ_size": 64, "batch_size": 2, "interval_list": [1],
                       "random_reverse": True, "border_mode": False, "use_flip": True, "use_rot": False})
    assert cfg.type == "REDSDataset" and cfg.scale == 1 and cfg.io_backend == "disk" and cfg.batch_size == 2
    assert cfg.options.random_reverse and not cfg.use_rot


def test_a_section_of_another_mode_in_an_edvr_file_is_refused(tmp_path):
    text = EDVR_FILE.replace("    mode: video_test", "    mode: LQGT")
    with pytest.raises(ConfigError, match=r"\[datasets.val\]: mode 'LQGT' is not one of EDVR's video modes"):
        load_config(write_file(tmp_path, text), phase="val")


def test_the_top_level_scale_is_needed_for_low_resolution_input(tmp_path):
    text = textwrap.dedent(EDVR_FILE).replace("scale: 4\n", "")
    with pytest.raises(ConfigError, match="the top-level 'scale' must give the SR factor"):
        load_config(write_file(tmp_path, text))


def test_cache_keys_of_folder_data_are_checked_against_the_clip_folders(tmp_path):
    """EDVR's folder branch needs cache_keys (an LMDB's meta_info.pkl); its keys must be the folders' frames."""
    for side in ("gt", "input"):
        for c in ("000000", "000001"):
            for f in range(3):
                path = tmp_path / "data" / side / c / f"{f:06d}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"")  # the names are what is checked
    keys = [f"{c}_{f:06d}" for c in ("000000", "000001") for f in range(3)]
    (tmp_path / "keys.pkl").write_bytes(pickle.dumps({"name": "gt", "resolution": "3_480_640", "keys": keys}))
    section = {"mode": "REDS", "dataroot_GT": str(tmp_path / "data" / "gt"), "dataroot_LQ": str(tmp_path / "data" /
               "input"), "N_frames": 3, "GT_size": 64, "LQ_size": 64, "cache_keys": str(tmp_path / "keys.pkl")}
    assert load_config(section).io_backend == "disk"
    (tmp_path / "data" / "gt" / "000001" / "000003.jpg").write_bytes(b"")
    with pytest.raises(ConfigError, match="leaves out '000001_000003'"):
        load_config(section)
