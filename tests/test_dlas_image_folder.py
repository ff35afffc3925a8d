"""`ImageFolderDataset` (DL-Art-School's image folders): every output key of every sample of an epoch against a
reference computed here as DL-Art-School computes it (cv2 reads, centre crop, the loader's recorded flips, centre
square, cv2 INTER_AREA, the cut to a multiple, INTER_AREA LQ, torchvision's normalization), over odd, even, small
and large images, scales and options; and each bad input as a one-line error."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import cv2
import numpy as np
import pytest
import torch

import dali_sr
from dali_sr import ConfigError, DatasetError

SIZES = [(40, 53), (61, 45), (48, 48), (33, 70), (36, 51)]  # (h, w): odd, even, wide, tall, square
MEANS = {"stylegan2_norm": ((0.5,) * 3, (0.5,) * 3), "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))}


def smooth_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A photo-like uint8 BGR image: a low-frequency field plus noise."""
    low = cv2.resize(rng.random((4, 4, 3)), (w, h), interpolation=cv2.INTER_CUBIC) * 200 + 20
    return np.clip(low + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)


def make_folder(root: Path, sizes: list[tuple[int, int]], seed: int = 0, ext: str = "png") -> Path:
    """Images of `sizes` in `root`, the last one in a subfolder (folders are searched recursively)."""
    rng = np.random.default_rng(seed)
    for i, (h, w) in enumerate(sizes):
        path = root / ("sub" if i == len(sizes) - 1 else "") / f"img_{i:02d}.{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), smooth_image(rng, h, w))
    (root / "notes.txt").write_text("not an image")
    return root


def reference(path: str, flip: bool, opt: dict, whole: bool = False) -> dict[str, Optional[np.ndarray]]:
    """DL-Art-School's ImageFolderDataset sample of `path`, its flip given, as CHW float32 arrays (`whole`: only
    resized and cut, as it treats the next frame of a video)."""
    hq = cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    side = None if whole else opt.get("center_crop_hq_sz")
    if side is not None:
        y, x = hq.shape[0] // 2 - side // 2, hq.shape[1] // 2 - side // 2
        hq = hq[y:y + side, x:x + side]
    if flip:
        hq = hq[:, ::-1]
    if opt.get("force_square", True) and not whole:
        h, w = hq.shape[:2]
        dim = min(h, w)
        hq = hq[(h - dim) // 2:(h - dim) // 2 + dim, (w - dim) // 2:(w - dim) // 2 + dim]
    target, scale = opt.get("target_size"), opt["scale"]
    if target is not None and target != hq.shape[0]:
        hq = cv2.resize(np.ascontiguousarray(hq), (target, target), interpolation=cv2.INTER_AREA)
    multiple = opt.get("force_multiple", 1) * scale
    h, w = hq.shape[:2]
    hq = np.ascontiguousarray(hq[:h - h % multiple, :w - w % multiple])
    lq = None
    if not opt.get("skip_lq", False):
        lq = cv2.resize(hq, (hq.shape[1] // scale, hq.shape[0] // scale), interpolation=cv2.INTER_AREA)
    out = {}
    for key, x in (("hq", hq), ("lq", lq)):
        if x is None:
            continue
        x = x.transpose(2, 0, 1)
        if "normalize" in opt:
            mean, std = (np.array(v, np.float32)[:, None, None] for v in MEANS[opt["normalize"]])
            x = (x - mean) / std
        out[key] = x * 2 - 1 if opt.get("rgb_n1_to_1") else x
    return out


def epoch_batches(cfg: dict) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """Every batch of epoch 0, and the plan's sample order and horizontal-flip draws."""
    with dali_sr.build_loader(cfg) as loader:
        batches = list(loader)
        plan = loader.sampling.plan(0)
    return batches, plan.indices, plan.flips[:, 0]


def check_epoch(cfg: dict, opt: dict) -> list[tuple[bool, tuple[int, int]]]:
    """Compare every sample of an epoch with its reference; the flip each sample took and its image's (h, w)."""
    batches, _, flips = epoch_batches(cfg)
    rows = [(b, j) for b in batches for j in range(len(b["HQ_path"]))]
    batch = cfg["batch_size_per_gpu"]
    assert len(rows) == len(flips) // batch * batch  # training drops the last partial batch
    taken = []
    for (batch, j), flip in zip(rows, flips):
        flip = bool(flip) and not opt.get("disable_flip", False)
        path = batch["HQ_path"][j]
        taken.append((flip, cv2.imread(path).shape[:2]))
        assert batch["LQ_path"][j] == path and not batch["has_alt"][j]
        ref = reference(path, flip, opt)
        assert ("lq" in batch) == ("lq" in ref)
        for key, want in ref.items():
            got = batch[key][j].numpy()
            assert got.shape == want.shape, (key, path)
            np.testing.assert_allclose(got, want, atol=2e-5 if key == "hq" and "target_size" not in opt else 2e-4,
                                       err_msg=f"{key} of {path}")
    return taken


CASES = {
    "target_even_scale2": dict(scale=2, target_size=32, batch_size_per_gpu=2),
    "target_halving_scale2": dict(scale=2, target_size=24, batch_size_per_gpu=5),  # 48 halved, mirrored or not
    "target_quarter_scale3": dict(scale=3, target_size=12, batch_size_per_gpu=5),  # 48 / 4, 36 / 3, fractions
    "target_odd_scale3": dict(scale=3, target_size=21, batch_size_per_gpu=5),
    "no_target_scale4_multiple2": dict(scale=4, force_multiple=2, batch_size_per_gpu=1),
    "not_square_no_flip": dict(scale=2, force_square=False, disable_flip=True, batch_size_per_gpu=1),
    "center_crop_imagenet_n1": dict(scale=2, center_crop_hq_sz=31, target_size=16, normalize="imagenet",
                                    rgb_n1_to_1=True, batch_size_per_gpu=5),
    "skip_lq_stylegan2_scale1": dict(scale=1, target_size=30, skip_lq=True, normalize="stylegan2_norm",
                                     batch_size_per_gpu=5),
}


SLOW_CASES = ("target_odd_scale3", "no_target_scale4_multiple2")  # in the full run only


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW_CASES else c for c in CASES])
def test_every_sample_of_an_epoch_is_dlas_sample(tmp_path, case):
    opt = CASES[case]
    root = make_folder(tmp_path / "imgs", SIZES)
    cfg = {"type": "ImageFolderDataset", "paths": str(root), "seed": 5, **opt}
    taken = check_epoch(cfg, opt)
    if not opt.get("disable_flip"):
        # the seed flips some samples and not others, and flips one whose square is off-centre by an odd margin
        # (its square then starts a column further left: DL-Art-School flips before it cuts the square)
        assert any(f for f, _ in taken) and not all(f for f, _ in taken)
        assert any(f and (w - h) % 2 for f, (h, w) in taken)


@pytest.mark.parametrize("target", [24, 12])
def test_mirrored_halvings_and_quarters_are_dlas_samples(tmp_path, target):
    """A 48 px square halved (target 24) or quartered (12) takes its flip inside the resize: mirrored and not."""
    opt = dict(scale=2, target_size=target, batch_size_per_gpu=2)
    root = make_folder(tmp_path / "imgs", [(48, 48), (48, 64)])
    taken = [t for seed in range(4) for t in check_epoch({"type": "ImageFolderDataset", "paths": str(root),
                                                          "seed": seed, **opt}, opt)]
    assert {f for f, _ in taken} == {True, False}


@pytest.mark.slow  # worker processes
def test_source_workers_make_the_same_hq_pixels(tmp_path):
    """On the CPU with target_size the source makes the HQ pixels; in worker processes it makes the same."""
    root = make_folder(tmp_path / "imgs", SIZES)
    cfg = {"type": "ImageFolderDataset", "paths": str(root), "scale": 2, "target_size": 24, "batch_size_per_gpu": 2,
           "fixed_corruptions": ["jpeg-broad"], "seed": 1}
    alone, workers = epoch_batches(cfg)[0], epoch_batches({**cfg, "source_workers": 2})[0]
    assert len(alone) == len(workers) == 2
    for a, b in zip(alone, workers):
        assert a["HQ_path"] == b["HQ_path"] and torch.equal(a["hq"], b["hq"]) and torch.equal(a["lq"], b["lq"])


def test_large_images_and_ppm_files_resized_by_non_integer_factors(tmp_path):
    opt = dict(scale=4, target_size=96, batch_size_per_gpu=2)
    root = make_folder(tmp_path / "big", [(300, 257), (515, 700), (97, 130)], seed=2, ext="ppm")
    check_epoch({"type": "ImageFolderDataset", "paths": str(root), **opt}, opt)


@pytest.mark.slow
def test_weights_repeat_each_folders_images(tmp_path):
    a = make_folder(tmp_path / "a", SIZES[:2], seed=1)
    b = make_folder(tmp_path / "b", SIZES[2:4], seed=2)
    opt = dict(scale=2, target_size=16, batch_size_per_gpu=4, shuffle=False)
    cfg = {"type": "ImageFolderDataset", "paths": [str(a), str(b)], "weights": [3, 1], **opt}
    batches, _, _ = epoch_batches(cfg)
    paths = [p for batch in batches for p in batch["HQ_path"]]
    want = [str(a / "img_00.png"), str(a / "sub" / "img_01.png")] * 3 + [str(b / "img_00.png"),
                                                                         str(b / "sub" / "img_01.png")]
    assert paths == want
    check_epoch(cfg, opt)


@pytest.mark.slow
def test_the_next_epoch_draws_new_flips_and_resumes_alike(tmp_path):
    root = make_folder(tmp_path / "imgs", SIZES)
    cfg = {"type": "ImageFolderDataset", "paths": str(root), "scale": 2, "target_size": 16, "batch_size_per_gpu": 5}
    with dali_sr.build_loader(cfg) as loader:
        first = next(iter(loader))
        state = loader.state_dict()
        second = next(iter(loader))
        flips = [loader.sampling.plan(e).flips[:, 0] for e in (0, 1)]
    assert not np.array_equal(flips[0], flips[1])
    with dali_sr.build_loader(cfg) as loader:
        loader.load_state_dict(state)
        again = next(iter(loader))
    assert again["HQ_path"] == second["HQ_path"] and torch.equal(again["hq"], second["hq"])
    assert torch.equal(again["lq"], second["lq"]) and not torch.equal(first["hq"], second["hq"])


@pytest.mark.slow
def test_fetch_alt_image_yields_the_next_frame_or_the_image_itself(tmp_path):
    rng = np.random.default_rng(3)
    names = {"clip_00000478.png": (40, 53), "clip_00000479.png": (61, 45), "clip_00000481.png": (48, 48),
             "still.png": (36, 51), "abc_00000999.png": (33, 70), "abc_00001000.png": (50, 40)}
    root = tmp_path / "frames"
    root.mkdir()
    for name, (h, w) in names.items():
        cv2.imwrite(str(root / name), smooth_image(rng, h, w))
    opt = dict(scale=2, target_size=16, batch_size_per_gpu=3, normalize="stylegan2_norm")
    cfg = {"type": "ImageFolderDataset", "paths": str(root), "fetch_alt_image": True, "seed": 1, **opt}
    batches, _, flips = epoch_batches(cfg)
    found = {}
    for k, (batch, j) in enumerate((b, j) for b in batches for j in range(3)):
        path = batch["HQ_path"][j]
        name = Path(path).name
        following = {"clip_00000478.png": "clip_00000479.png", "abc_00000999.png": "abc_00001000.png"}.get(name)
        found[name] = bool(batch["has_alt"][j])
        own = reference(path, bool(flips[k]), opt)
        alt = reference(str(root / following), False, opt, whole=True) if following else own
        for key in ("hq", "lq"):
            np.testing.assert_allclose(batch[key][j].numpy(), own[key], atol=2e-4, err_msg=f"{key} of {name}")
            np.testing.assert_allclose(batch[f"alt_{key}"][j].numpy(), alt[key], atol=2e-4, err_msg=name)
    assert found == {name: name in ("clip_00000478.png", "abc_00000999.png") for name in names}


@pytest.mark.slow
def test_a_next_frame_of_another_size_is_named(tmp_path):
    root = tmp_path / "frames"
    root.mkdir()
    cv2.imwrite(str(root / "v_00000001.png"), np.zeros((20, 30, 3), np.uint8))
    cv2.imwrite(str(root / "v_00000002.png"), np.zeros((20, 30, 3), np.uint8))
    cfg = {"type": "ImageFolderDataset", "paths": str(root), "scale": 2, "target_size": 20, "fetch_alt_image": True,
           "batch_size_per_gpu": 1, "shuffle": False}
    with pytest.raises(DatasetError, match=r"v_00000002.png: the next frame's HQ is 20x30, not 20x20 as .*"
                                           r"v_00000001.png's; give frames of one size$"):
        with dali_sr.build_loader(cfg) as loader:
            list(loader)


def _load(tmp_path, **keys):
    root = make_folder(tmp_path / "imgs", SIZES)
    return {"type": "ImageFolderDataset", "paths": str(root), "scale": 2, **keys}


@pytest.mark.parametrize("keys, message", [
    (dict(fetch_alt_image=True), r"fetch_alt_image needs 'target_size' \(the next frame is resized whole to it\)$"),
    (dict(fetch_alt_image=True, fetch_alt_tiled_image=True, target_size=16), r"'fetch_alt_tiled_image': another"),
    (dict(fetch_alt_tiled_image=True), r"'fetch_alt_tiled_image': another tile .* is not available"),
    (dict(labeler={"type": "patch_labels"}), r"'labeler': patch labels are not available"),
    (dict(all_image_color_jitter=0.1), r"'all_image_color_jitter': HQ colour jitter is not available"),
    (dict(fixed_parameters={"a": 1}), r"'fixed_parameters': fixed per-sample tensors are not available"),
    (dict(dataroot_gt="/x"), r"does not read 'dataroot_gt'; use paths$"),
    (dict(gt_size=32), r"does not read 'gt_size'; use target_size$"),
    (dict(use_hflip=True), r"does not read 'use_hflip'; use disable_flip$"),
    (dict(eval=True), r"does not read 'eval'"),
    (dict(normalize="imagenet", mean=[0.5], std=[0.5]), r"give 'normalize' or 'mean' / 'std', not both$"),
    (dict(normalize="cifar"), r"'normalize' must be"),
    (dict(target_size=30, force_multiple=4), r"target_size 30 / scale 2 = 15 is not a multiple of force_multiple 4"),
    (dict(random_corruptions=["jpg"], num_corrupts_per_image=1), r"unknown corruption 'jpg'"),
    (dict(color="y"), r"ImageFolderDataset yields RGB; remove 'color'$"),
])
def test_a_bad_option_is_a_one_line_config_error(tmp_path, keys, message):
    with pytest.raises(ConfigError, match=message) as e:
        dali_sr.load_config(_load(tmp_path, **keys))
    assert "\n" not in str(e.value)


def test_paths_are_required_and_weights_must_match_them(tmp_path):
    with pytest.raises(ConfigError, match=r"needs 'paths'"):
        dali_sr.load_config({"type": "ImageFolderDataset", "scale": 2})
    a, b = make_folder(tmp_path / "a", SIZES[:1]), make_folder(tmp_path / "b", SIZES[:1])
    with pytest.raises(ConfigError, match=r"'weights' has 1 entries for 2 'paths'; give one integer per folder$"):
        dali_sr.build_loader({"type": "ImageFolderDataset", "paths": [str(a), str(b)], "weights": [1], "scale": 2})
    with pytest.raises(ConfigError, match=r"'weights' \[1, 2\] given with a single path; give 'paths' as a list"):
        dali_sr.build_loader({"type": "ImageFolderDataset", "paths": str(a), "weights": [1, 2], "scale": 2})


@pytest.mark.parametrize("setup, keys, message", [
    ("missing", {}, r"image folder .*/nowhere does not exist; fix 'paths'$"),
    ("empty", {}, r"image folder .*/empty holds no image .*; fix 'paths'$"),
    ("images", dict(target_size=50), r"img_00.png: its HQ is 40x40, smaller than target_size 50 .*; remove it or "
                                     r"lower target_size$"),
    ("images", dict(center_crop_hq_sz=46), r"img_00.png is 40x53, smaller than center_crop_hq_sz 46"),
    ("images", dict(batch_size_per_gpu=2), r"one batch mixes HQ sizes \(.*img_00.png and .*img_01.png\); "
                                                          r"set target_size or use batch_size_per_gpu: 1$"),
])
def test_bad_data_is_a_one_line_dataset_error(tmp_path, setup, keys, message):
    root = {"missing": tmp_path / "nowhere", "empty": tmp_path / "empty",
            "images": tmp_path / "imgs"}[setup]
    if setup == "empty":
        root.mkdir()
        (root / "a.txt").write_text("x")
    if setup == "images":
        make_folder(root, SIZES)
    cfg = {"type": "ImageFolderDataset", "paths": str(root), "scale": 2, "batch_size_per_gpu": 1, "shuffle": False,
           **keys}
    with pytest.raises(DatasetError, match=message) as e:
        with dali_sr.build_loader(cfg) as loader:
            list(loader)
    assert "\n" not in str(e.value)
