"""neosr option files (TOML) load unchanged but for their paths: every dataset and degradation key neosr's
published option files use (`options/train_*.toml`, `train_*_otf.toml`, `test_*.toml`), read as neosr reads them,
and batches of the right shapes; unknown keys refused by name."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import dali_sr
from dali_sr.errors import ConfigError
from tests.conftest import make_nn_pairs

# The trainer's tables and keys of neosr's train_span.toml, which the loader does not read.
TRAINER = """
name = "train_span"
model_type = "{model}"
scale = {scale}
use_amp = true
bfloat16 = true
fast_matmul = true
manual_seed = 1024

[val]
val_freq = 1000

[path]

[network_g]
type = "span"

[network_d]
type = "metagan"

[train]
ema = 0.999
wavelet_guided = true
wavelet_init = 80000

[train.optim_g]
type = "adan_sf"
lr = 1e-3
betas = [ 0.98, 0.92, 0.99 ]

[train.mssim_opt]
type = "mssim_loss"
loss_weight = 1.0

[logger]
total_iter = 1000000
save_checkpoint_freq = 1000
use_tb_logger = true
"""

AUGMENT = """augmentation = [ "none", "mixup", "cutmix", "resizemix", "cutblur" ]
aug_prob = [ 0.5, 0.1, 0.1, 0.1, 0.5 ]
"""

# neosr's [degradations] table of its train_*_otf.toml files, as published.
DEGRADATIONS = """
[degradations]
resize_prob = [ 0.3, 0.4, 0.3 ]
resize_range = [ 0.5, 1.5 ]
gaussian_noise_prob = 0.2
noise_range = [ 0, 2 ]
poisson_scale_range = [ 0.05, 0.25 ]
gray_noise_prob = 0.1
jpeg_range = [ 40, 95 ]
second_blur_prob = 0.4
resize_prob2 = [ 0.3, 0.4, 0.3 ]
resize_range2 = [ 0.3, 1.5 ]
gaussian_noise_prob2 = 0.2
noise_range2 = [ 0, 2 ]
poisson_scale_range2 = [ 0.05, 0.1 ]
gray_noise_prob2 = 0.1
jpeg_range2 = [ 35, 95 ]

blur_kernel_size = 7
kernel_list = [ "iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso" ]
kernel_prob = [ 0.45, 0.25, 0.12, 0.03, 0.12, 0.03 ]
sinc_prob = 0.1
blur_sigma = [ 0.2, 3 ]
betag_range = [ 0.5, 4 ]
betap_range = [ 1, 2 ]
blur_kernel_size2 = 9
kernel_list2 = [ "iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso" ]
kernel_prob2 = [ 0.45, 0.25, 0.12, 0.03, 0.12, 0.03 ]
sinc_prob2 = 0.1
blur_sigma2 = [ 0.2, 1.5 ]
betag_range2 = [ 0.5, 4 ]
betap_range2 = [ 1, 2 ]
final_sinc_prob = 0.8
"""


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def _paired_file(tmp: Path, roots: dict, scale: int, train_extra: str = "", top: str = "") -> str:
    return _write(tmp / "train_span.toml", top + TRAINER.format(model="image", scale=scale) + f"""
[datasets.train]
type = "paired"
dataroot_gt = '{roots['gt']}'
dataroot_lq = '{roots['lq']}'
patch_size = 8
batch_size = 4
accumulate = 2
{AUGMENT}{train_extra}
[datasets.val]
name = "val"
type = "paired"
dataroot_gt = '{roots['gt']}'
dataroot_lq = '{roots['lq']}'
""")


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> dict:
    return make_nn_pairs(tmp_path_factory.mktemp("pairs"), 4, [(20, 24), (24, 20), (22, 22), (20, 20), (24, 24)],
                         seed=2, lmdb=True)


def test_paired_train_file(tmp_path, pairs):
    """train_*.toml: patch_size is the LQ side, batch_size the batch, accumulate kept for the trainer, flips on,
    manual_seed the seed, the [degradations]-free file's augmentations read; a batch of 4 LQ 8 x 8 / GT 32 x 32."""
    path = _paired_file(tmp_path, pairs, 4)
    cfg = dali_sr.load_config(path, device="cpu")
    assert (cfg.type, cfg.phase, cfg.scale, cfg.gt_size, cfg.batch_size, cfg.seed) == ("paired", "train", 4, 32, 4,
                                                                                      1024)
    assert cfg.use_hflip and cfg.use_rot and cfg.options.accumulate == 2 and cfg.options.patch_size == 8
    assert cfg.options.augmentation == ["none", "mixup", "cutmix", "resizemix", "cutblur"]
    with dali_sr.build_loader(path, device="cpu", num_threads=1) as loader:
        batch = next(iter(loader))
    assert tuple(batch["lq"].shape) == (4, 3, 8, 8) and tuple(batch["gt"].shape) == (4, 3, 32, 32)
    assert len(batch["lq_path"]) == 4 and all(p.endswith(".png") for p in batch["gt_path"])


def test_paired_val_section(tmp_path, pairs):
    """[datasets.val]: whole images, one per batch (neosr's validation loader), GT cut to LQ x scale."""
    path = _paired_file(tmp_path, pairs, 4)
    with dali_sr.build_loader(path, phase="val", device="cpu", num_threads=1) as loader:
        batches = list(loader)
    assert len(batches) == 5 and all(b["lq"].shape[0] == 1 for b in batches)
    assert sorted(tuple(b["lq"].shape[2:]) for b in batches) == [(20, 20), (20, 24), (22, 22), (24, 20), (24, 24)]
    assert all(b["gt"].shape[2] == 4 * b["lq"].shape[2] for b in batches)


def test_lmdb_by_suffix(tmp_path, pairs):
    """Dataroots ending in lmdb are LMDBs (neosr's rule; no io_backend key)."""
    roots = {"gt": pairs["gt_lmdb"], "lq": pairs["lq_lmdb"]}
    path = _paired_file(tmp_path, roots, 4)
    cfg = dali_sr.load_config(path)
    assert cfg.io_backend == "lmdb"
    with dali_sr.build_loader(path, device="cpu", num_threads=1) as loader:
        assert tuple(next(iter(loader))["gt"].shape) == (4, 3, 32, 32)


def test_meta_info_as_neosr_reads_it(tmp_path, pairs):
    """paired: the list is read from meta_info_file only when meta_info is set; meta_info_file alone is not read
    (neosr scans the folders then)."""
    listing = _write(tmp_path / "meta.txt", "img001.png (96,80,3)\nimg003.png (80,80,3)\n")
    both = _paired_file(tmp_path, pairs, 4, f"meta_info = '{listing}'\nmeta_info_file = '{listing}'\n")
    with dali_sr.build_loader(both, phase="train", device="cpu", num_threads=1, batch_size=2, shuffle=False) as loader:
        names = [Path(p).name for b in loader for p in b["gt_path"]]
    assert names == ["img001.png", "img003.png"]
    alone = _paired_file(tmp_path, pairs, 4, f"meta_info_file = '{listing}'\n")
    assert len(dali_sr.build_loader(alone, device="cpu", num_threads=1).index) == 5
    flag_only = _paired_file(tmp_path, pairs, 4, f"meta_info = '{listing}'\n")
    with pytest.raises(ConfigError, match="meta_info_file"):
        dali_sr.load_config(flag_only)


def test_single_test_file(tmp_path, pairs):
    """test_*.toml: [datasets.test_1] of type single yields LQ images whole, as `lq` and `lq_path`; its
    meta_info_file lists names under dataroot_lq."""
    text = TRAINER.format(model="image", scale=4).split("[val]")[0] + f"""
[datasets.test_1]
name = "val_1"
type = "single"
dataroot_lq = '{pairs['lq']}'
"""
    path = _write(tmp_path / "test_span.toml", text)
    cfg = dali_sr.load_config(path, phase="test")
    assert (cfg.type, cfg.phase, cfg.batch_size) == ("single", "test", 1)
    with dali_sr.build_loader(path, phase="test", device="cpu", num_threads=1) as loader:
        batches = list(loader)
    assert len(batches) == 5 and set(batches[0]) >= {"lq", "lq_path"} and "gt" not in batches[0]
    first = sorted(batches, key=lambda b: b["lq_path"][0])[0]
    stored = cv2.imread(first["lq_path"][0])[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) / 255
    assert np.array_equal(first["lq"][0].numpy(), stored)
    listing = _write(tmp_path / "lq_list.txt", "img002.png\n")
    path = _write(tmp_path / "test_list.toml", text + f"meta_info_file = '{listing}'\n")
    with dali_sr.build_loader(path, phase="test", device="cpu", num_threads=1) as loader:
        assert [Path(b["lq_path"][0]).name for b in loader] == ["img002.png"]


@pytest.fixture(scope="module")
def gt_only(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("gt_only")
    rng = np.random.default_rng(5)
    for k in range(3):
        cv2.imwrite(str(root / f"g{k}.png"), rng.integers(0, 256, (270, 300, 3), dtype=np.uint8))
    return str(root)


def _otf_file(tmp: Path, gt: str, extra: str = "", degradations: str = DEGRADATIONS) -> str:
    return _write(tmp / "train_span_otf.toml", TRAINER.format(model="otf", scale=4) + f"""
[datasets.train]
type = "otf"
dataroot_gt = '{gt}'
patch_size = 16
batch_size = 2
{AUGMENT}{extra}{degradations}
[datasets.val]
name = "val"
type = "paired"
dataroot_gt = '{gt}'
dataroot_lq = '{gt}'
""")


@pytest.mark.slow  # degrades two 512 x 512 windows on the CPU (about 15 s on 2 cores)
def test_otf_file(tmp_path, gt_only):
    """train_*_otf.toml: [degradations] is the Real-ESRGAN chain (kernels 7 to 21 whatever blur_kernel_size says,
    no sharpening) on 512 windows; a batch of LQ 16 x 16 / GT 64 x 64."""
    path = _otf_file(tmp_path, gt_only)
    cfg = dali_sr.load_config(path)
    assert (cfg.type, cfg.gt_size, cfg.crop_pad_size, cfg.batch_size) == ("otf", 64, 512, 2)
    steps = cfg.degradation.steps
    assert steps[0].kernel_sizes == tuple(range(7, 22, 2)) and steps[4].kernel_sizes == tuple(range(7, 22, 2))
    assert steps[1].scale_range == (0.5, 1.5) and steps[3].quality == (40, 95) and steps[4].prob == 0.4
    assert not cfg.sharpen_gt and not cfg.gt_usm
    with dali_sr.build_loader(path, device="cpu", num_threads=2) as loader:
        batch = next(iter(loader))
    assert tuple(batch["lq"].shape) == (2, 3, 16, 16) and tuple(batch["gt"].shape) == (2, 3, 64, 64)
    assert 0 <= batch["lq"].min() and batch["lq"].max() <= 1


def test_otf_meta_info(tmp_path, gt_only):
    """otf reads its list from meta_info (names under dataroot_gt), not meta_info_file."""
    listing = _write(tmp_path / "gt_list.txt", "g1.png (270,300,3)\n")
    cfg = dali_sr.load_config(_otf_file(tmp_path, gt_only, f"meta_info = '{listing}'\n"))
    assert cfg.meta_info_file == listing


@pytest.mark.parametrize("edit,message", [
    (("patch_size = 8", "patch_szie = 8"), "unknown key 'patch_szie'; did you mean 'patch_size'?"),
    (("batch_size = 4", "batch_size = 4\ngt_size = 32"), "unknown key 'gt_size'"),
    (('type = "paired"', 'type = "pared"'), "did you mean 'paired'?"),
    (("aug_prob = [ 0.5, 0.1, 0.1, 0.1, 0.5 ]", "aug_prob = [ 0.5, 0.1 ]"), "'aug_prob' must be a list of 5"),
    (('"cutblur" ]', '"cutblurr" ]'), "did you mean 'cutblur'?"),
    (("batch_size = 4", "batch_size = 1"), "batch_size 2 or more"),
])
def test_paired_refusals(tmp_path, pairs, edit, message):
    text = Path(_paired_file(tmp_path, pairs, 4)).read_text().replace(*edit, 1)
    with pytest.raises(ConfigError, match=message.replace("?", r"\?").replace("[", r"\[")):
        dali_sr.load_config(_write(tmp_path / "bad.toml", text))


@pytest.mark.parametrize("edit,message", [
    (("final_sinc_prob = 0.8", "final_sinc_prb = 0.8"), r"\[degradations\]: unknown key 'final_sinc_prb'; did you "
                                                        r"mean 'final_sinc_prob'\?"),
    (("jpeg_range2 = [ 35, 95 ]\n", ""), "type otf needs 'jpeg_range2' under \\[degradations\\]"),
    (("patch_size = 16", "patch_size = 18"), "multiple of 4"),
    (("patch_size = 16", "patch_size = 16\ndataroot_lq = 'x'"), "remove 'dataroot_lq'"),
])
def test_otf_refusals(tmp_path, gt_only, edit, message):
    text = Path(_otf_file(tmp_path, gt_only)).read_text().replace(*edit, 1)
    with pytest.raises(ConfigError, match=message):
        dali_sr.load_config(_write(tmp_path / "bad.toml", text))


def test_toml_errors_name_the_file(tmp_path):
    """neosr's own hint: Windows paths in double quotes are escapes TOML refuses."""
    path = _write(tmp_path / "win.toml", '[datasets.train]\ntype = "paired"\ndataroot_gt = "C:\\datasets\\gt"\n')
    with pytest.raises(ConfigError, match=r"win.toml is not valid TOML.*single quotes"):
        dali_sr.load_config(path)
    with pytest.raises(ConfigError, match="does not exist"):
        dali_sr.load_config(tmp_path / "missing.toml")


def test_auto_workers_and_flips_off(tmp_path, pairs):
    """num_worker_per_gpu = "auto" leaves the threads to dali_sr; flips can be turned off as in neosr."""
    path = _paired_file(tmp_path, pairs, 4, 'num_worker_per_gpu = "auto"\nuse_hflip = false\nuse_rot = false\n')
    cfg = dali_sr.load_config(path)
    assert not cfg.use_hflip and not cfg.use_rot and cfg.num_threads >= 1


def test_configs_pickle(tmp_path, pairs, gt_only):
    """A config travels to `source_workers` processes by pickle: the types' option classes are found by name."""
    import pickle

    for path in (_paired_file(tmp_path, pairs, 4), _otf_file(tmp_path, gt_only)):
        cfg = dali_sr.load_config(path)
        assert pickle.loads(pickle.dumps(cfg)).options == cfg.options
