"""traiNNer-redux (YAML) and neosr (TOML) training option files, written in each project's own format with every
dataset and degradation key their published training files use, load and train a step: the loader they build
yields batches of the file's batch size, scale and patch size (and clip length), and one optimizer step of the
demo's network on a batch gives a finite loss and changes its parameters."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml

import dali_sr
from dali_sr.models import TinySR
from test_neosr_options import _otf_file, _paired_file, gt_only, pairs  # noqa: F401 (fixtures)
from test_redux_dialect import _video_file, otf_file, paired_file, roots, scenes  # noqa: F401 (fixtures)

# The keys traiNNer-redux's published training templates (options/_templates/train/*) use: the top-level
# degradation keys of the *_OTF_* files, and the train dataset keys of the OTF, the paired and the video files.
REDUX_OTF_TOP = {
    "high_order_degradation", "high_order_degradations_debug", "high_order_degradations_debug_limit", "lq_usm",
    "lq_usm_radius_range", "thicklines_prob", "queue_size",
    "blur_prob", "resize_prob", "resize_mode_list", "resize_mode_prob", "resize_range", "gaussian_noise_prob",
    "noise_range", "poisson_scale_range", "gray_noise_prob", "jpeg_prob", "jpeg_range",
    "blur_prob2", "resize_prob2", "resize_mode_list2", "resize_mode_prob2", "resize_range2", "gaussian_noise_prob2",
    "noise_range2", "poisson_scale_range2", "gray_noise_prob2", "jpeg_prob2", "jpeg_range2",
    "resize_mode_list3", "resize_mode_prob3"}
REDUX_OTF_TRAIN = {
    "name", "type", "dataroot_gt", "lq_size", "use_hflip", "use_rot", "num_worker_per_gpu", "batch_size_per_gpu",
    "accum_iter", "blur_kernel_size", "kernel_list", "kernel_prob", "kernel_range", "sinc_prob", "blur_sigma",
    "betag_range", "betap_range", "blur_kernel_size2", "kernel_list2", "kernel_prob2", "kernel_range2", "sinc_prob2",
    "blur_sigma2", "betag_range2", "betap_range2", "final_sinc_prob", "final_kernel_range"}
REDUX_PAIRED_TRAIN = {"name", "type", "dataroot_gt", "dataroot_lq", "lq_size", "use_hflip", "use_rot",
                      "num_worker_per_gpu", "batch_size_per_gpu", "accum_iter"}
REDUX_VIDEO_TRAIN = REDUX_PAIRED_TRAIN | {"clip_size"}
# The keys of neosr's published train_*.toml files (options/): [datasets.train] of `paired` and `otf`, and the
# [degradations] table of the otf files.
NEOSR_PAIRED_TRAIN = {"type", "dataroot_gt", "dataroot_lq", "patch_size", "batch_size", "augmentation", "aug_prob"}
NEOSR_OTF_TRAIN = {"type", "dataroot_gt", "patch_size", "batch_size", "augmentation", "aug_prob"}
NEOSR_DEGRADATIONS = {
    "resize_prob", "resize_range", "gaussian_noise_prob", "noise_range", "poisson_scale_range", "gray_noise_prob",
    "jpeg_range", "second_blur_prob", "resize_prob2", "resize_range2", "gaussian_noise_prob2", "noise_range2",
    "poisson_scale_range2", "gray_noise_prob2", "jpeg_range2", "blur_kernel_size", "kernel_list", "kernel_prob",
    "sinc_prob", "blur_sigma", "betag_range", "betap_range", "blur_kernel_size2", "kernel_list2", "kernel_prob2",
    "sinc_prob2", "blur_sigma2", "betag_range2", "betap_range2", "final_sinc_prob"}


def train_one_step(batch: dict, scale: int) -> tuple[float, bool]:
    """One Adam step of the demo's network (x `scale`) on the batch: (the step's L1 loss, whether every parameter
    tensor changed)."""
    torch.manual_seed(0)
    model = TinySR(scale=scale, features=8)
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = F.l1_loss(model(batch["lq"]), batch["gt"])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    changed = all(not torch.equal(b, p.detach()) for b, p in zip(before, model.parameters()))
    return float(loss.detach()), changed


def assert_trains_a_step(path: str, scale: int, lq_patch: int, batch_size: int, frames: int = 0) -> None:
    """The file's train loader gives (batch, C, lq_patch, lq_patch) LQ (with `frames`, (batch, frames, C, ...)
    clips) and x `scale` GT in [0, 1], and a step on it trains (on the middle frame of clips)."""
    with dali_sr.build_loader(path, device="cpu", num_threads=2) as loader:
        batch = next(iter(loader))
    assert tuple(batch["lq"].shape) == (batch_size,) + ((frames,) if frames else ()) + (3, lq_patch, lq_patch)
    assert tuple(batch["gt"].shape) == (batch_size, 3, lq_patch * scale, lq_patch * scale)
    for side in ("lq", "gt"):
        assert batch[side].dtype == torch.float32 and 0 <= batch[side].min() and batch[side].max() <= 1
    if frames:
        batch = {"lq": batch["lq"][:, frames // 2], "gt": batch["gt"]}
    loss, changed = train_one_step(batch, scale)
    assert torch.isfinite(torch.tensor(loss)) and loss > 0
    assert changed


def _redux(path: str) -> tuple[dict, dict]:
    opts = yaml.safe_load(Path(path).read_text())
    return opts, opts["datasets"]["train"]


def test_redux_paired_template_trains_a_step(tmp_path, roots):  # noqa: F811
    path = paired_file(tmp_path, roots)
    opts, train = _redux(path)
    assert REDUX_PAIRED_TRAIN <= set(train) and train["type"] == "pairedimagedataset"
    assert_trains_a_step(path, opts["scale"], train["lq_size"], train["batch_size_per_gpu"])


def test_redux_video_template_trains_a_step(tmp_path, scenes):  # noqa: F811
    path = _video_file(tmp_path, scenes)
    opts, train = _redux(path)
    assert REDUX_VIDEO_TRAIN <= set(train) and train["type"] == "pairedvideodataset"
    assert_trains_a_step(path, opts["scale"], train["lq_size"], train["batch_size_per_gpu"], train["clip_size"])


@pytest.mark.parametrize("lq_usm", [False, True])
def test_redux_otf_template_trains_a_step(tmp_path, roots, lq_usm):  # noqa: F811
    path = otf_file(tmp_path, roots, lq_usm=lq_usm)
    opts, train = _redux(path)
    assert REDUX_OTF_TOP <= set(opts) and REDUX_OTF_TRAIN <= set(train) and opts["high_order_degradation"] is True
    assert opts["lq_usm"] is lq_usm
    assert_trains_a_step(path, opts["scale"], train["lq_size"], train["batch_size_per_gpu"])


def _neosr(path: str) -> tuple[dict, dict]:
    with open(path, "rb") as f:
        opts = tomllib.load(f)
    return opts, opts["datasets"]["train"]


def test_neosr_paired_file_with_augmentations_trains_a_step(tmp_path, pairs):  # noqa: F811
    path = _paired_file(tmp_path, pairs, 4)
    opts, train = _neosr(path)
    assert NEOSR_PAIRED_TRAIN <= set(train) and train["type"] == "paired"
    assert set(train["augmentation"]) == {"none", "mixup", "cutmix", "resizemix", "cutblur"}
    assert_trains_a_step(path, opts["scale"], train["patch_size"], train["batch_size"])


@pytest.mark.slow  # neosr's otf degrades 512 x 512 windows: 3 to 14 s on 2 busy CPU cores
def test_neosr_otf_file_trains_a_step(tmp_path, gt_only):  # noqa: F811
    path = _otf_file(tmp_path, gt_only)
    opts, train = _neosr(path)
    assert NEOSR_OTF_TRAIN <= set(train) and train["type"] == "otf" and NEOSR_DEGRADATIONS <= set(opts["degradations"])
    assert_trains_a_step(path, opts["scale"], train["patch_size"], train["batch_size"])
