"""GT-only training with degradation chains through the loader: `RealESRGANDataset` from a Real-ESRGAN option file
and `degradation:` lists on `PairedImageDataset`. Outputs checked against the loader's own GT with independent
references; draws per sample; the same batches from the same seed, across thread counts and after a resume."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

import dali_sr
from dali_sr import ConfigError, DatasetError
from dali_sr.degrade import kernels
from dali_sr.degrade.chain import Blur, Jpeg, Noise, OneOf, Resize, Sinc, Usm
from dali_sr.storage.lmdb_writer import write_lmdb
from test_degrade_ops import torch_filter2d, torch_usm

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def gt_lmdb(root: Path, sizes: list[tuple[int, int]], seed: int = 0, flat: bool = False) -> str:
    """An LMDB of smooth random PNG GT images (or one flat gray image repeated) in BasicSR's layout."""
    rng = np.random.default_rng(seed)
    items = []
    for k, (h, w) in enumerate(sizes):
        if flat:
            img = np.full((h, w, 3), 128, np.uint8)
        else:
            img = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3)).astype(np.uint8), (0, 0), 2.0)
        items.append((f"img{k:03d}", cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes(),
                      img.shape))
    path = str(root / "gt.lmdb")
    write_lmdb(path, items)
    return path


def realesrgan_cfg(dataroot: str, **extra) -> dict:
    """A small RealESRGANDataset section: x4, GT 32 from 48 x 48 windows (Real-ESRGAN: 256 from 400)."""
    cfg = {"type": "RealESRGANDataset", "name": "resr", "scale": 4, "dataroot_gt": dataroot,
           "io_backend": {"type": "lmdb"}, "gt_size": 32, "crop_pad_size": 48, "use_hflip": True, "use_rot": False,
           "batch_size_per_gpu": 4, "device": "cpu", "num_threads": 2, "l1_gt_usm": True, "seed": 5}
    cfg.update(extra)
    return cfg


def batches(cfg: dict, n: int, **kw) -> list[dict]:
    with dali_sr.build_loader(cfg, **kw) as loader:
        out = []
        for b in loader:
            out.append({k: v.clone() if torch.is_tensor(v) else v for k, v in b.items()})
            if len(out) == n:
                break
    return out


def assert_same(a: list[dict], b: list[dict]) -> None:
    for x, y in zip(a, b):
        for key in ("lq", "gt", "gt_usm"):
            if key in x:
                assert torch.equal(x[key], y[key]), key


@pytest.fixture(scope="module")
def gts(tmp_path_factory) -> str:
    return gt_lmdb(tmp_path_factory.mktemp("resr"), [(40, 60), (64, 64), (50, 33), (72, 90), (48, 48), (60, 41)])


def test_an_option_file_is_read_unchanged(tmp_path):
    option = yaml.safe_load((CONFIGS / "realesrgan_x4plus.yml").read_text())
    option["datasets"]["train"].update(dataroot_gt=gt_lmdb(tmp_path, [(64, 64)]), io_backend={"type": "lmdb"})
    option["datasets"]["train"].pop("meta_info")
    cfg = dali_sr.load_config(option)
    steps = {s.id: s for s in cfg.degradation.walk()}
    assert isinstance(steps["d0"], Usm)  # RealESRGANModel degrades its sharpened GT
    b1, b2 = steps["d1"], steps["d5"]
    assert isinstance(b1, Blur) and b1.kernel_prob == (0.45, 0.25, 0.12, 0.03, 0.12, 0.03) and b1.sinc_prob == 0.1
    assert b1.sigma == (0.2, 3.0) and b2.sigma == (0.2, 1.5) and b2.prob == 0.8 and b1.kernel_sizes[-1] == 21
    assert steps["d2"].updown_prob == (0.2, 0.7, 0.1) and steps["d2"].scale_range == (0.15, 1.5)
    assert steps["d6"].to == "lq" and steps["d6"].updown_prob == (0.3, 0.4, 0.3)
    assert steps["d3"].sigma == (1.0, 30.0) and steps["d7"].sigma == (1.0, 25.0) and steps["d7"].poisson_scale == (0.05, 2.5)
    assert steps["d4"].quality == (30.0, 95.0) and isinstance(steps["d8"], OneOf)
    assert isinstance(steps["d8o0s1"], Sinc) and steps["d8o0s1"].prob == 0.8 and isinstance(steps["d8o1s0"], Jpeg)
    assert cfg.crop_pad_size == 400 and cfg.gt_size == 256 and cfg.gt_usm and not cfg.sharpen_gt
    assert cfg.batch_size == 12 and cfg.use_hflip and not cfg.use_rot


def test_realesrnet_sharpens_the_gt_it_degrades():
    cfg = dali_sr.load_config(CONFIGS / "realesrnet_x4plus.yml", dataroot_gt="unused")
    assert cfg.sharpen_gt and not cfg.gt_usm
    assert not any(isinstance(s, Usm) for s in cfg.degradation.walk())


def test_batches_hold_lq_levels_gt_windows_and_sharpened_gt(gts, tmp_path):
    b = batches(realesrgan_cfg(gts, use_hflip=False), 2)
    with dali_sr.build_loader(realesrgan_cfg(gts, use_hflip=False)) as loader:
        index = loader.index
        images = {k: cv2.cvtColor(cv2.imdecode(index.gt.get(k), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
                  for k in index.gt_keys}
    for batch in b:
        assert batch["lq"].shape == (4, 3, 8, 8) and batch["gt"].shape == (4, 3, 32, 32)
        levels = batch["lq"] * 255
        assert torch.equal(levels, levels.round())
        for i, key in enumerate(batch["gt_path"]):
            gt = (batch["gt"][i].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            img = images[key]
            padded = cv2.copyMakeBorder(img, 0, max(48 - img.shape[0], 0), 0, max(48 - img.shape[1], 0),
                                        cv2.BORDER_REFLECT_101)
            windows = np.lib.stride_tricks.sliding_window_view(padded, (32, 32, 3))[:, :, 0]
            assert (windows == gt).all(axis=(2, 3, 4)).any(), f"{key}: GT patch is not a window of the image"
            ref_usm = torch_usm(batch["gt"][i].permute(1, 2, 0).numpy())
            got_usm = batch["gt_usm"][i].permute(1, 2, 0).numpy()
            assert np.abs(got_usm - ref_usm).max() < 1e-4  # BasicSR sharpens the cropped GT patch


@pytest.mark.slow
def test_the_same_seed_gives_the_same_batches_on_any_thread_count(gts):
    a = batches(realesrgan_cfg(gts), 3)
    assert_same(a, batches(realesrgan_cfg(gts), 3))
    assert_same(a, batches(realesrgan_cfg(gts, num_threads=1), 3))
    other = batches(realesrgan_cfg(gts, seed=6), 1)
    assert not torch.equal(a[0]["lq"], other[0]["lq"])


def test_resume_continues_the_same_batches(gts):
    cfg = realesrgan_cfg(gts, dataset_enlarge_ratio=3)
    with dali_sr.build_loader(cfg) as loader:
        it = iter(loader)
        next(it), next(it)
        state = loader.state_dict()
        want = [next(it), next(it)]
        want = [{k: v.clone() for k, v in b.items() if torch.is_tensor(v)} for b in want]
    assert "dali_checkpoint" in state
    with dali_sr.build_loader(cfg) as resumed:
        resumed.load_state_dict(state)
        resumed.set_epoch(state["epoch"])
        it = iter(resumed)
        assert_same(want, [next(it), next(it)])


def test_every_sample_of_a_batch_gets_its_own_degradation(tmp_path):
    flat = gt_lmdb(tmp_path, [(48, 48)] * 8, flat=True)
    b = batches(realesrgan_cfg(flat, batch_size_per_gpu=8), 1)[0]
    assert torch.equal(b["gt"], b["gt"][:1].expand_as(b["gt"]))  # the same GT everywhere
    lq = b["lq"].reshape(8, -1)
    assert all(not torch.equal(lq[i], lq[j]) for i in range(8) for j in range(i))
    with dali_sr.build_loader(realesrgan_cfg(flat, batch_size_per_gpu=8)) as loader:
        source = loader.spec.dataset.make_source(loader.cfg, loader.index, loader.sampling)
        columns = source.assemble(0, 0).columns
    assert len({tuple(k.shape) + tuple(k.ravel()[:3]) for k in columns["d1_kernel"]}) == 8
    assert len({tuple(s) for s in columns["d2_size"]}) > 1


def test_a_deterministic_chain_is_the_formula_of_the_loaders_own_gt(tmp_path):
    """blur by a fixed Gaussian, then bilinear to the LQ size: both exact in DALI, so the LQ is the rounded
    reference of the yielded GT, but where a value sits on a rounding boundary."""
    root = gt_lmdb(tmp_path, [(40, 52), (36, 36), (64, 48)])
    chain = [{"type": "blur", "kernel_size": 7, "blur_sigma": [1.3, 1.3]},
             {"type": "resize", "to": "lq", "modes": ["bilinear"]}]
    cfg = {"type": "PairedImageDataset", "scale": 2, "dataroot_gt": root, "io_backend": {"type": "lmdb"},
           "gt_size": 24, "use_hflip": True, "use_rot": True, "batch_size_per_gpu": 3, "device": "cpu",
           "degradation": chain}
    kernel = kernels.gaussian(7, 1.3, 1.3, 0.0)
    for batch in batches(cfg, 2):
        for gt, lq in zip(batch["gt"], batch["lq"]):
            x = gt.permute(1, 2, 0).numpy()
            blurred = torch_filter2d(x, kernel)
            ref = F.interpolate(torch.from_numpy(blurred.transpose(2, 0, 1))[None], size=(12, 12), mode="bilinear")
            ref = ref[0].numpy() * 255
            got = lq.numpy() * 255
            differ = np.abs(np.round(got) - np.clip(np.round(ref), 0, 255)) > 0
            on_boundary = np.abs(ref - np.floor(ref) - 0.5) < 1e-3
            assert not (differ & ~on_boundary).any()


@pytest.mark.parametrize("extra, message", [
    ({"dataroot_lq": "x"}, "RealESRGANDataset makes its LQ from GT; remove 'dataroot_lq'"),
    ({"degradation": "bicubic"}, "remove 'degradation'"),
    ({"phase": "val"}, "RealESRGANDataset is for training"),
    ({"crop_pad_size": 30}, "'crop_pad_size' 30 must be at least gt_size 32"),
    ({"kernel_prob": [1, 0]}, "'kernel_prob' must be a list of 6 probabilities"),
    ({"model_type": "SRModel"}, "model_type 'SRModel'"),
])
def test_bad_realesrgan_configs_are_named(gts, extra, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        dali_sr.load_config(realesrgan_cfg(gts, **extra))


def test_option_file_and_section_gt_size_must_agree(tmp_path):
    option = yaml.safe_load((CONFIGS / "realesrgan_x4plus.yml").read_text())
    option["datasets"]["train"]["gt_size"] = 128
    with pytest.raises(ConfigError, match="'gt_size' is 256 at the top level .* but 128 in the dataset section"):
        dali_sr.load_config(option)


def test_chains_are_for_training_images(tmp_path):
    chain = [{"type": "noise"}]
    base = {"type": "PairedImageDataset", "scale": 2, "dataroot_gt": str(tmp_path), "gt_size": 16,
            "degradation": chain}
    with pytest.raises(ConfigError, match="a degradation list draws new LQ on every pass, so it is for training"):
        dali_sr.load_config({**base, "phase": "val"})
    with pytest.raises(ConfigError, match="clip types make LQ from GT with 'degradation: bicubic'"):
        dali_sr.load_config({**base, "type": "REDSDataset", "num_frame": 5})


def test_a_gt_too_small_to_mirror_is_named(tmp_path):
    root = gt_lmdb(tmp_path, [(20, 60), (48, 48)])
    with pytest.raises(DatasetError, match="GT key 'img000' of .* is 20x60, smaller than half of crop_pad_size 48 plus one"):
        batches(realesrgan_cfg(root, batch_size_per_gpu=2, seed=1), 1)


def test_the_dl_art_school_preset_runs(tmp_path):
    option = yaml.safe_load((CONFIGS / "dlas_corruptions_x4.yml").read_text())
    option.update(dataroot_gt=gt_lmdb(tmp_path, [(40, 40)] * 4), gt_size=32, batch_size_per_gpu=4, device="cpu")
    b = batches(option, 2)
    assert b[0]["lq"].shape == (4, 3, 8, 8) and torch.equal(b[0]["lq"] * 255, (b[0]["lq"] * 255).round())
