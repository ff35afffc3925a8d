"""traiNNer-redux option files: recognised by their own keys, read unchanged (types in any case, lq_size, lists of
dataroots paired by name, the auto enlarge ratio, the on-the-fly degradation keys), strict about keys, and
training batches of the right shapes from them."""
from __future__ import annotations

import os
import textwrap
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

import dali_sr
from dali_sr import ConfigError, load_config
from dali_sr.config.dialects import dialect_of
from dali_sr.config.dialects.redux import DIALECT as REDUX
from dali_sr.datasets.paired.lists import auto_enlarge_ratio
from dali_sr.degrade.chain import Blur, Jpeg, Noise, OneOf, Resize, Sinc, Usm
from dali_sr.synthetic.images import make_paired_dataset

ROOT = Path(__file__).resolve().parents[1]

# The top of an on-the-fly (OTF) training file as traiNNer-redux's templates write it: every degradation key.
OTF_TOP = """\
name: 4x_Compact_OTF
scale: 4
use_amp: true
amp_bf16: false
use_channels_last: true
fast_matmul: false
use_compile: false
compile_mode: default
num_gpu: auto
manual_seed: 1024
high_order_degradation: true
high_order_degradations_debug: false
high_order_degradations_debug_limit: 100
lq_usm: {lq_usm}
lq_usm_radius_range: [1, 25]
thicklines_prob: 0.0
blur_prob: 0.5
resize_prob: [0.2, 0.7, 0.1]
resize_mode_list: ['bilinear', 'bicubic', 'nearest-exact', 'lanczos']
resize_mode_prob: [0.25, 0.25, 0.25, 0.25]
resize_range: [0.4, 1.5]
gaussian_noise_prob: 0.5
noise_range: [0, 10]
poisson_scale_range: [0, 1]
gray_noise_prob: 0.1
jpeg_prob: 1.0
jpeg_range: [75, 95]
blur_prob2: 0.3
resize_prob2: [0.3, 0.4, 0.3]
resize_mode_list2: ['bilinear', 'bicubic', 'nearest-exact', 'lanczos']
resize_mode_prob2: [0.25, 0.25, 0.25, 0.25]
resize_range2: [0.6, 1.2]
gaussian_noise_prob2: 0
noise_range2: [0, 0]
poisson_scale_range2: [0, 0]
gray_noise_prob2: 0.0
jpeg_prob2: 1.0
jpeg_range2: [75, 95]
resize_mode_list3: ['bilinear', 'bicubic', 'nearest-exact', 'lanczos']
resize_mode_prob3: [0.25, 0.25, 0.25, 0.25]
queue_size: 120
"""

OTF_TRAIN = """\
  train:
    name: Train Dataset
    type: realesrgandataset
    dataroot_gt: [{gt_a}, {gt_b}]
    blur_kernel_size: 12
    kernel_list: ['iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso', 'plateau_aniso']
    kernel_prob: [0.45, 0.25, 0.12, 0.03, 0.12, 0.03]
    kernel_range: [5, 17]
    sinc_prob: 0.1
    blur_sigma: [0.2, 2]
    betag_range: [0.5, 4]
    betap_range: [1, 2]
    blur_kernel_size2: 12
    kernel_list2: ['iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso', 'plateau_aniso']
    kernel_prob2: [0.45, 0.25, 0.12, 0.03, 0.12, 0.03]
    kernel_range2: [5, 17]
    sinc_prob2: 0.0
    blur_sigma2: [0.2, 1]
    betag_range2: [0.5, 4]
    betap_range2: [1, 2]
    final_sinc_prob: 0.8
    final_kernel_range: [5, 17]
    lq_size: 16
    use_hflip: true
    use_rot: true
    num_worker_per_gpu: 2
    batch_size_per_gpu: 4
    accum_iter: 1
"""

PAIRED_TRAIN = """\
  train:
    name: Train Dataset
    type: pairedimagedataset
    dataroot_gt: [{gt_a}, {gt_b}]
    dataroot_lq: [{lq_a}, {lq_b}]
    lq_size: 16
    use_hflip: true
    use_rot: true
    num_worker_per_gpu: 2
    batch_size_per_gpu: 4
    accum_iter: 1
"""

VAL_AND_TRAINER = """\
  val:
    name: Val Dataset
    type: pairedimagedataset
    dataroot_gt: [{gt_a}, {gt_b}]
    dataroot_lq: [{lq_a}, {lq_b}]
network_g:
  type: compact
network_d:
  type: dunet
path:
  pretrain_network_g: experiments/pretrained_models/pretrain.pth
  param_key_g: ~
  strict_load_g: true
  resume_state: ~
train:
  ema_decay: 0.999
  grad_clip: false
  optim_g: {{type: AdamW, lr: !!float 1e-4, weight_decay: 0, betas: [0.9, 0.99]}}
  scheduler: {{type: MultiStepLR, milestones: [50000, 100000], gamma: 0.5}}
  total_iter: 250000
  warmup_iter: -1
  losses:
    - {{type: mssimloss, loss_weight: 0.5}}
  use_moa: false
  moa_augs: ['none', 'mixup', 'cutmix', 'resizemix', 'cutblur']
  moa_probs: [0.4, 0.084, 0.084, 0.084, 0.348]
val:
  val_enabled: false
  val_freq: 1000
  save_img: true
  tile_size: 0
  tile_overlap: 8
  metrics_enabled: true
  metrics: {{topiq: {{type: calculate_topiq}}}}
logger:
  print_freq: 100
  save_checkpoint_freq: 1000
  save_checkpoint_format: safetensors
  use_tb_logger: true
"""


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict[str, str]:
    """Two folder pairs (x4) of 5 and 3 images, as a list of dataroots names them."""
    base = tmp_path_factory.mktemp("redux")
    a = make_paired_dataset(str(base / "a"), n=5, size=96, scale=4, lmdb=False)
    b = make_paired_dataset(str(base / "b"), n=3, size=96, scale=4, lmdb=False)
    return {"gt_a": a["gt"], "lq_a": a["lq"], "gt_b": b["gt"], "lq_b": b["lq"]}


def write(tmp_path: Path, text: str, name: str = "opt.yml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def otf_file(tmp_path: Path, roots: dict, lq_usm: bool = False) -> str:
    text = OTF_TOP.format(lq_usm=str(lq_usm).lower()) + "datasets:\n" + OTF_TRAIN.format(**roots) + \
        VAL_AND_TRAINER.format(**roots)
    return write(tmp_path, text)


def paired_file(tmp_path: Path, roots: dict, top: str = "name: x\nscale: 4\nnum_gpu: auto\n") -> str:
    return write(tmp_path, top + "datasets:\n" + PAIRED_TRAIN.format(**roots) + VAL_AND_TRAINER.format(**roots))


# -- recognition ---------------------------------------------------------------------------------------------

def test_basicsr_realesrgan_and_dlas_files_are_not_taken():
    for preset in ("basicsr_edsr_x4_option.yml", "realesrgan_x4plus.yml", "realesrnet_x4plus.yml"):
        opts = yaml.safe_load((ROOT / "configs" / preset).read_text())
        assert dialect_of(opts).name == "BasicSR option file", preset
    dlas = {"datasets": {"train": {"mode": "single_image_extensible", "paths": "/d", "type": "SingleImageDataset"}},
            "use_amp": True}
    assert dialect_of(dlas).name == "DL-Art-School option dict"
    assert dialect_of({"type": "PairedImageDataset", "dataroot_gt": "a", "dataroot_lq": "b"}).name == \
        "dataset section"


@pytest.mark.parametrize("opts", [
    {"num_gpu": "auto", "datasets": {"train": {"type": "PairedImageDataset"}}},
    {"use_amp": False, "datasets": {"train": {"type": "PairedImageDataset"}}},
    {"datasets": {"train": {"type": "PairedImageDataset", "lq_size": 32}}},
    {"datasets": {"train": {"type": "PairedImageDataset", "dataroot_gt": ["a", "b"]}}},
    {"datasets": {"train": {"type": "PairedImageDataset", "dataset_enlarge_ratio": "auto"}}},
    {"datasets": {"train": {"type": "pairedimagedataset"}}},
    {"type": "realesrgandataset", "dataroot_gt": "a"},
])
def test_redux_files_are_recognised_by_their_own_keys(opts):
    assert dialect_of(opts) is REDUX


def test_a_camelcase_single_image_dataset_in_a_redux_file_is_theirs_not_dl_art_schools(tmp_path, roots):
    path = write(tmp_path, f"name: t\nscale: 4\nnum_gpu: auto\ndatasets:\n  test_1:\n    name: t\n"
                           f"    type: SingleImageDataset\n    dataroot_lq: [{roots['lq_a']}, {roots['lq_b']}]\n")
    cfg = load_config(path, phase="test")
    assert cfg.type == "ImageListDataset" and cfg.phase == "test"
    with dali_sr.build_loader(path, phase="test", device="cpu") as loader:
        paths = [p for batch in loader for p in batch["gt_path"]]
        first = next(iter(loader))
    # LQ images alone, whole, yielded as `gt`, every image of both folders in folder order
    assert first["gt"].shape == (1, 3, 24, 24) and "lq" not in first
    assert paths == sorted(os.path.join(roots["lq_a"], f) for f in os.listdir(roots["lq_a"])) + \
        sorted(os.path.join(roots["lq_b"], f) for f in os.listdir(roots["lq_b"]))


# -- paired files and lists of dataroots --------------------------------------------------------------------

def test_paired_training_pairs_by_name_across_the_lists_with_the_auto_ratio(tmp_path, roots):
    path = paired_file(tmp_path, roots)
    cfg = load_config(path)
    assert (cfg.type, cfg.gt_size, cfg.use_hflip, cfg.use_rot, cfg.seed) == ("PairedImageListDataset", 64, True,
                                                                               True, 0)
    ratio = auto_enlarge_ratio(8, 4)
    assert ratio == 2000 * 4 // 8
    with dali_sr.build_loader(path, device="cpu") as loader:
        assert len(loader) == 8 * ratio // 4
        seen = Counter()
        for n, batch in enumerate(loader):
            assert batch["lq"].shape == (4, 3, 16, 16) and batch["gt"].shape == (4, 3, 64, 64)
            for lq, gt in zip(batch["lq_path"], batch["gt_path"]):
                assert os.path.basename(lq) == os.path.basename(gt)
                assert os.path.dirname(os.path.dirname(lq)) == os.path.dirname(os.path.dirname(gt))
                seen[gt] += 1
            if n == 9:
                break
    assert set(seen) <= {os.path.join(roots[f"gt_{s}"], f) for s in "ab" for f in os.listdir(roots[f"gt_{s}"])}


def test_every_pair_of_the_lists_is_read_once_per_ratio(tmp_path, roots):
    """An integer ratio: one epoch reads each of the 8 pairs `ratio` times."""
    path = paired_file(tmp_path, roots)
    with dali_sr.build_loader(path, device="cpu", dataset_enlarge_ratio=2, drop_last=False) as loader:
        seen = Counter(p for batch in loader for p in batch["gt_path"])
    assert len(seen) == 8 and set(seen.values()) == {2}


def test_validation_reads_whole_images_of_both_folders(tmp_path, roots):
    path = paired_file(tmp_path, roots)
    cfg = load_config(path, phase="val")
    assert (cfg.type, cfg.gt_size, cfg.dataset_enlarge_ratio) == ("PairedImageListDataset", None, 1)
    with dali_sr.build_loader(path, phase="val", device="cpu") as loader:
        batches = list(loader)
    assert len(batches) == 8 and batches[0]["lq"].shape == (1, 3, 24, 24) and batches[0]["gt"].shape == (1, 3, 96, 96)


def test_one_folder_as_a_string_and_meta_info(tmp_path, roots):
    meta = tmp_path / "meta.txt"
    names = sorted(os.listdir(roots["gt_a"]))[:3]
    meta.write_text("".join(f"{n} (96,96,3)\n" for n in names))
    section = {"type": "PairedImageDataset", "name": "s", "scale": 4, "lq_size": 8, "dataroot_gt": roots["gt_a"],
               "dataroot_lq": roots["lq_a"], "meta_info": str(meta), "dataset_enlarge_ratio": 1,
               "batch_size_per_gpu": 3, "accum_iter": 2}
    with dali_sr.build_loader(section, device="cpu") as loader:
        assert dialect_of(section) is REDUX
        batch = next(iter(loader))
    assert sorted(os.path.basename(p) for p in batch["gt_path"]) == names and batch["gt"].shape == (3, 3, 32, 32)


def test_list_mistakes_are_named(tmp_path, roots):
    section = {"type": "pairedimagedataset", "name": "s", "scale": 4, "lq_size": 8,
               "dataroot_gt": [roots["gt_a"], roots["gt_b"]], "dataroot_lq": [roots["lq_a"]]}
    with pytest.raises(ConfigError, match="dataroot_lq lists 1 folder.*dataroot_gt 2"):
        load_config(section)
    crossed = dict(section, dataroot_lq=[roots["lq_b"], roots["lq_a"]])  # the N-th GT pairs with the N-th LQ
    with pytest.raises(dali_sr.errors.DatasetError, match="s: 2 LQ partner\\(s\\) missing from .*b/lq: 0003_s001, "
                                                         "0004_s001; add them"):
        dali_sr.build_loader(crossed, device="cpu")


def test_folders_pair_as_theirs_do_by_name_without_extension_in_sub_folders(tmp_path):
    """`a.png` pairs with `a.jpg`, sub-folders are searched; with a filename_tmpl, GT without a partner is left
    out (traiNNer-redux's `paired_paths_from_folder`)."""
    rng = np.random.default_rng(1)
    for side, size, ext in (("hr", 32, ".png"), ("lr", 8, ".jpg")):
        for name in ("x/a", "x/b", "c", "d"):
            os.makedirs(tmp_path / side / os.path.dirname(name), exist_ok=True)
            if side == "lr" and name == "d":
                continue
            stem = name if side == "hr" else os.path.join(os.path.dirname(name), os.path.basename(name) + "x4")
            cv2.imwrite(str(tmp_path / side / (stem + ext)), (rng.random((size, size, 3)) * 255).astype(np.uint8))
    section = {"type": "pairedimagedataset", "name": "s", "scale": 4, "dataroot_gt": str(tmp_path / "hr"),
               "dataroot_lq": [str(tmp_path / "lr")], "filename_tmpl": "{}x4", "phase": "val"}
    with dali_sr.build_loader(section, device="cpu") as loader:
        pairs = [(b["gt_path"][0], b["lq_path"][0]) for b in loader]
    assert [(os.path.relpath(g, tmp_path), os.path.relpath(q, tmp_path)) for g, q in pairs] == [
        ("hr/c.png", "lr/cx4.jpg"), ("hr/x/a.png", "lr/x/ax4.jpg"), ("hr/x/b.png", "lr/x/bx4.jpg")]
    with pytest.raises(dali_sr.errors.DatasetError, match="3 GT partner\\(s\\) missing from .*hr: cx4, x/ax4, x/bx4"):
        dali_sr.build_loader({**section, "filename_tmpl": "{}"}, device="cpu")


# -- the on-the-fly degradation -----------------------------------------------------------------------------

def test_otf_keys_become_the_chain_in_their_order(tmp_path, roots):
    cfg = load_config(otf_file(tmp_path, roots))
    assert (cfg.type, cfg.gt_size, cfg.crop_pad_size, cfg.dataroot_lq, cfg.seed) == (
        "PairedImageListDataset", 64, 96, None, 1024)
    steps = cfg.degradation.steps
    assert [type(s) for s in steps] == [Blur, Resize, Noise, Jpeg, Blur, Resize, Noise, OneOf]
    blur1, resize1, noise1, jpeg1, blur2, resize2, noise2, last = steps
    assert (blur1.prob, blur1.kernel_sizes, blur1.sinc_prob, blur1.sigma) == (0.5, tuple(range(5, 18, 2)), 0.1,
                                                                              (0.2, 2.0))
    assert (blur2.prob, blur2.sigma, blur2.sinc_prob) == (0.3, (0.2, 1.0), 0.0)
    assert resize1.modes == ("bilinear", "bicubic", "nearest-exact", "lanczos") and resize1.to == "input"
    assert (resize1.updown_prob, resize1.scale_range) == ((0.2, 0.7, 0.1), (0.4, 1.5))
    assert (resize2.to, resize2.scale_range) == ("lq", (0.6, 1.2))
    assert (noise1.gaussian_prob, noise1.sigma, noise1.poisson_scale, noise1.gray_prob) == (0.5, (0, 10), (0, 1), 0.1)
    assert (jpeg1.prob, jpeg1.quality) == (1.0, (75, 95))
    first, second = last.options
    assert [type(s) for s in first] == [Resize, Sinc, Jpeg] and [type(s) for s in second] == [Jpeg, Resize, Sinc]
    assert first[1].prob == 0.8 and first[1].kernel_sizes == tuple(range(5, 18, 2)) and last.option_prob == (0.5, 0.5)


def test_lq_usm_draws_its_radius_as_usmsharp_rounds_it(tmp_path, roots):
    cfg = load_config(otf_file(tmp_path, roots, lq_usm=True))
    usm = cfg.degradation.steps[0]
    radii = {option[0].radius: p for option, p in zip(usm.options, usm.option_prob)}
    # radii 1..25, even ones made odd: 1 once, every other odd radius twice
    assert radii == {1: 1 / 25, **{r: 2 / 25 for r in range(3, 26, 2)}}
    assert all(isinstance(o[0], Usm) for o in usm.options)


def test_mode_probabilities_become_repeated_modes():
    from dali_sr.degrade.redux import _modes

    v = {"resize_mode_list": ["bilinear", "lanczos", "area"], "resize_mode_prob": [0.5, 0.2, 0.3]}
    assert Counter(_modes(v, "", "f")) == {"bilinear": 5, "lanczos": 2, "area": 3}
    with pytest.raises(ConfigError, match="resize_mode_prob.*multiples of 1/n"):
        _modes({**v, "resize_mode_prob": [0.5, 0.4999, 0.0001]}, "", "f")
    with pytest.raises(ConfigError, match="'resize_mode_list' has unknown 'lanczoz'; did you mean 'lanczos'"):
        _modes({**v, "resize_mode_list": ["bilinear", "lanczoz", "area"]}, "", "f")


@pytest.mark.parametrize("lq_usm", [False, True])
def test_otf_training_yields_batches_of_the_right_shapes(tmp_path, roots, lq_usm):
    path = otf_file(tmp_path, roots, lq_usm)
    with dali_sr.build_loader(path, device="cpu") as loader:
        assert len(loader) == 8 * auto_enlarge_ratio(8, 4) // 4
        it = iter(loader)
        for _ in range(3):
            batch = next(it)
            assert batch["lq"].shape == (4, 3, 16, 16) and batch["gt"].shape == (4, 3, 64, 64)
            lq = batch["lq"].numpy()
            assert lq.min() >= 0 and lq.max() <= 1
            assert ((lq * 255).round() == lq * 255).mean() > 0.99  # rounded to levels, as the model does


def test_otf_mistakes_name_their_key(tmp_path, roots):
    base = yaml.safe_load(Path(otf_file(tmp_path, roots)).read_text())
    cases = [
        ({"thicklines_prob": 0.2}, "'thicklines_prob' 0.2 is not available"),
        ({"resize_mode_prob": [0.5, 0.5]}, "'resize_mode_prob' must be a list of 4 probabilities"),
        ({"jpeg_range2": [95, 75]}, "'jpeg_range2' \\[95, 75\\] has its low end above its high end"),
        ({"resize_range": [1.2, 1.5]}, "'resize_range' \\[1.2, 1.5\\] must hold 1"),
    ]
    for change, message in cases:
        with pytest.raises(ConfigError, match=message):
            load_config({**base, **change})
    dataset = dict(base["datasets"]["train"], kernel_range=[4, 16])
    with pytest.raises(ConfigError, match="'kernel_range' \\[4, 16\\] must be odd"):
        load_config({**base, "datasets": {"train": dataset}})


# -- types, sizes and strictness ----------------------------------------------------------------------------

def test_lq_size_or_gt_size_exactly_one_for_training(roots):
    section = {"type": "pairedimagedataset", "name": "s", "scale": 4, "dataroot_gt": roots["gt_a"],
               "dataroot_lq": roots["lq_a"]}
    assert load_config({**section, "gt_size": 32}).gt_size == 32
    assert load_config({**section, "lq_size": 12}).gt_size == 48
    for sizes in ({}, {"gt_size": 32, "lq_size": 8}):
        with pytest.raises(ConfigError, match="exactly one of 'lq_size'"):
            load_config({**section, **sizes})


@pytest.mark.parametrize("change, message", [
    ({"high_order_degredation": True}, "unknown key 'high_order_degredation'; did you mean 'high_order_degradation'"),
    ({"train": {"total_iters": 5}}, "train: unknown key 'total_iters'; did you mean 'total_iter'"),
    ({"logger": {"wandb": {"projct": "x"}}}, "logger.wandb: unknown key 'projct'; did you mean 'project'"),
    ({"use_amp": "yes"}, "'use_amp' must be true/false, got 'yes'"),
    ({"num_gpu": "all"}, "'num_gpu' must be 'auto' or a number of GPUs, got 'all'"),
    ({"compile_mode": "fast"}, "'compile_mode' must be one of"),
    ({"datasets": {"train": {"type": "pairedimagedataset", "lq_sise": 8}}},
     "datasets.train: unknown key 'lq_sise'; did you mean 'lq_size'"),
    ({"datasets": {"train": {"type": "pairedimagedatset", "lq_size": 8, "dataroot_gt": "a", "dataroot_lq": "b"}}},
     "unknown traiNNer-redux dataset type 'pairedimagedatset'; did you mean 'pairedimagedataset'"),
])
def test_unknown_keys_are_refused_naming_the_closest(change, message):
    opts = {"name": "x", "scale": 4, "num_gpu": "auto", "datasets": {"train": {"type": "pairedimagedataset"}},
            **change}
    with pytest.raises(ConfigError, match=message):
        load_config(opts)


@pytest.mark.parametrize("kind, top, message", [
    ("singlevideodataset", {}, "singlevideodataset yields LQ clips without GT, to run a model on"),
    ("pairedvideodataset", {"high_order_degradation": True}, "use type realesrgandataset"),
    ("realesrganpaireddataset", {"high_order_degradation": True, "dataroot_lq_prob": 0.5},
     "realesrganpaireddataset mixes stored and degraded LQ per batch by 'dataroot_lq_prob' \\(0.5\\)"),
    ("realesrgandataset", {}, "realesrgandataset yields GT for the model to degrade"),
    ("pairedimagedataset", {"high_order_degradation": True}, "use type realesrgandataset"),
])
def test_what_dali_sr_does_not_read_is_refused_in_one_line(roots, kind, top, message):
    opts = {"name": "x", "scale": 4, "num_gpu": "auto", **top, "datasets": {"train": {
        "type": kind, "name": "t", "lq_size": 8, "dataroot_gt": roots["gt_a"], "dataroot_lq": roots["lq_a"]}}}
    with pytest.raises(ConfigError, match=message):
        load_config(opts)


def test_realesrganpaireddataset_with_stored_lq_only_and_singlegt_with_a_resize_mode(roots):
    opts = {"name": "x", "scale": 4, "num_gpu": "auto", "high_order_degradation": True, "dataroot_lq_prob": 1,
            "datasets": {"train": {"type": "RealESRGANPairedDataset", "name": "t", "lq_size": 8,
                                   "dataroot_gt": roots["gt_a"], "dataroot_lq": roots["lq_a"]}}}
    cfg = load_config(opts)
    assert (cfg.type, cfg.dataroot_lq, cfg.degradation) == ("PairedImageListDataset", roots["lq_a"], None)
    gt_only = {"type": "singlegtdataset", "name": "g", "scale": 4, "lq_size": 8, "dataroot_gt": [roots["gt_a"]],
               "lq_resize_mode": "nearest-exact", "batch_size_per_gpu": 2}
    cfg = load_config(gt_only)
    assert cfg.degradation.steps[0].modes == ("nearest-exact",) and cfg.degradation.steps[0].to == "lq"
    with dali_sr.build_loader(gt_only, device="cpu") as loader:
        batch = next(iter(loader))
    assert batch["lq"].shape == (2, 3, 8, 8) and batch["gt"].shape == (2, 3, 32, 32)


# -- video: flat folders of SCENE_FRAME files ---------------------------------------------------------------

@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> dict[str, str]:
    """Two folder pairs of 2 scenes x 7 frames (GT 32 x 32, LQ x4); scene s2 of the first lacks GT frame 3."""
    base = tmp_path_factory.mktemp("scenes")
    rng = np.random.default_rng(5)
    out = {}
    for root in ("a", "b"):
        for side in ("hr", "lr"):
            os.makedirs(base / root / side)
            out[f"{side}_{root}"] = str(base / root / side)
        for scene in ("s1", "s2"):
            for frame in range(7):
                hr = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
                name = f"{scene}_{frame:04d}.png"
                if not (root == "a" and scene == "s2" and frame == 3):
                    cv2.imwrite(str(base / root / "hr" / name), hr)
                cv2.imwrite(str(base / root / "lr" / name), cv2.resize(hr, (8, 8), interpolation=cv2.INTER_AREA))
    return out


def _video_file(tmp_path: Path, s: dict) -> str:
    return write(tmp_path, textwrap.dedent(f"""\
        name: 4x_TSCUNet
        scale: 4
        num_gpu: auto
        use_amp: true
        datasets:
          train:
            name: Train Dataset
            type: pairedvideodataset
            dataroot_gt: [{s['hr_a']}, {s['hr_b']}]
            dataroot_lq: [{s['lr_a']}, {s['lr_b']}]
            clip_size: 5
            lq_size: 4
            use_hflip: true
            use_rot: true
            num_worker_per_gpu: 2
            batch_size_per_gpu: 3
            accum_iter: 1
          val:
            name: Val Dataset
            type: pairedvideodataset
            dataroot_gt: [{s['hr_a']}, {s['hr_b']}]
            dataroot_lq: [{s['lr_a']}, {s['lr_b']}]
            clip_size: 5
        network_g:
          type: tscunet
          clip_size: 5
        """))


def _rgb(path: str) -> np.ndarray:
    return cv2.imread(path)[:, :, ::-1].astype(np.float32) / 255


def test_video_windows_slide_within_scenes_with_the_middle_frames_gt(tmp_path, scenes):
    path = _video_file(tmp_path, scenes)
    assert load_config(path).type == "SceneClipDataset"
    with dali_sr.build_loader(path, phase="val", device="cpu") as loader:
        batches = list(loader)
    # windows of 5 around centres 2..4 of each 7-frame scene, but not around a/s2's frame 3 (no GT): 3 + 2 + 3 + 3
    want = [(r, sc, c) for r in "ab" for sc in ("s1", "s2") for c in (2, 3, 4) if (r, sc, c) != ("a", "s2", 3)]
    assert len(batches) == len(want)
    for batch, (root, scene, centre) in zip(batches, want):
        assert batch["lq"].shape == (1, 5, 3, 8, 8) and batch["gt"].shape == (1, 3, 32, 32)
        assert batch["gt_path"] == [os.path.join(scenes[f"hr_{root}"], f"{scene}_{centre:04d}.png")]
        for t in range(5):
            frame = os.path.join(scenes[f"lr_{root}"], f"{scene}_{centre - 2 + t:04d}.png")
            np.testing.assert_array_equal(batch["lq"][0, t].numpy().transpose(1, 2, 0), _rgb(frame))
        np.testing.assert_array_equal(batch["gt"][0].numpy().transpose(1, 2, 0), _rgb(batch["gt_path"][0]))


def test_video_training_crops_every_frame_alike_with_the_auto_ratio(tmp_path, scenes):
    path = _video_file(tmp_path, scenes)
    cfg = load_config(path)
    assert (cfg.gt_size, cfg.options.num_frame) == (16, 5)
    with dali_sr.build_loader(path, device="cpu") as loader:
        assert len(loader) == 11 * auto_enlarge_ratio(11, 3) // 3
        batch = next(iter(loader))
    assert batch["lq"].shape == (3, 5, 3, 4, 4) and batch["gt"].shape == (3, 3, 16, 16)
    for lq, gt in zip(batch["lq"].numpy(), batch["gt"].numpy()):
        # the GT window is the middle LQ frame's window x 4, flipped alike: its area downscale is that frame
        gt8 = np.round(gt.transpose(1, 2, 0) * 255).astype(np.uint8)
        np.testing.assert_array_equal(cv2.resize(gt8, (4, 4), interpolation=cv2.INTER_AREA),
                                      np.round(lq[2].transpose(1, 2, 0) * 255).astype(np.uint8))


@pytest.mark.parametrize("workers", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_lists_of_lmdbs_read_and_resume(tmp_path, workers):
    """Also in a spawned source worker process: the joined storages travel to it."""
    a = make_paired_dataset(str(tmp_path / "a"), n=4, size=64, scale=4, lmdb=True)
    b = make_paired_dataset(str(tmp_path / "b"), n=3, size=64, scale=4, lmdb=True)
    section = {"type": "pairedimagedataset", "name": "l", "scale": 4, "lq_size": 8, "io_backend": {"type": "lmdb"},
               "dataroot_gt": [a["gt_lmdb"], b["gt_lmdb"]], "dataroot_lq": [a["lq_lmdb"], b["lq_lmdb"]],
               "batch_size_per_gpu": 2, "dataset_enlarge_ratio": 1, "drop_last": False, "seed": 3}
    with dali_sr.build_loader(section, device="cpu") as loader:
        plain = [batch for batch in loader]
    with dali_sr.build_loader({**section, "source_workers": workers}, device="cpu") as loader:
        it = iter(loader)
        first = next(it)
        state = loader.state_dict()
    # every key of both LMDBs once (an LMDB's `gt_path` is its key, as BasicSR's; both hold 0000..0002)
    assert len(plain) == 4 and Counter(p for b in plain for p in b["gt_path"]) == {
        "0000_s001": 2, "0001_s001": 2, "0002_s001": 2, "0003_s001": 1}
    assert first["gt_path"] == plain[0]["gt_path"] and (first["gt"] == plain[0]["gt"]).all()
    with dali_sr.build_loader(section, device="cpu") as loader:
        loader.load_state_dict(state)
        rest = list(loader)
    assert [b["gt_path"] for b in rest] == [b["gt_path"] for b in plain[1:]]
    assert all((x["lq"] == y["lq"]).all() for x, y in zip(rest, plain[1:]))
