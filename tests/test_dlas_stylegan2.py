"""`Stylegan2Dataset` (DL-Art-School's StyleGAN2 folders): every sample of an epoch against PIL's resizes of the
image (torchvision's Resize, CenterCrop and RandomResizedCrop on PIL images) at the loader's recorded crops, over
image shapes, target sizes and aug_prob; and bad input as one-line errors.

The loader resizes with DALI's antialiased bilinear filter, PIL with its own: the values differ by a few 8-bit
levels (`LEVELS`), while a crop one pixel off differs by far more on these noisy images (checked below)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import dali_sr
from dali_sr import ConfigError, DatasetError
from dali_sr.datasets.dlas.stylegan2 import crop_draw, resized_size
from test_dlas_image_folder import SIZES, make_folder

LEVELS = 4  # the largest difference from PIL, in 8-bit levels
MEAN_LEVELS = 0.6  # the mean absolute difference from PIL, in 8-bit levels


def reference(path: str, size: int, seed: int, epoch: int, position: int, aug_prob: float) -> np.ndarray:
    img = Image.open(path).convert("RGB")
    h, w = resized_size((img.height, img.width), size)
    if (h, w) != (img.height, img.width):
        img = img.resize((w, h), Image.BILINEAR)
    c = crop_draw(seed, epoch, position, (h, w), size, aug_prob)
    img = img.crop((c.left, c.top, c.left + c.w, c.top + c.h))
    if c.resized:
        img = img.resize((size, size), Image.BILINEAR)
    return np.asarray(img, np.float32).transpose(2, 0, 1)


@pytest.mark.parametrize("size, aug_prob, batch", [(24, 0.5, 2), (31, 1.0, 5), (16, 0.0, 1), (80, 0.5, 5)])
def test_every_sample_is_pils_resize_and_crop(tmp_path, size, aug_prob, batch):
    root = make_folder(tmp_path / "imgs", SIZES)
    cfg = {"type": "Stylegan2Dataset", "path": str(root), "target_size": size, "aug_prob": aug_prob,
           "batch_size_per_gpu": batch, "seed": 4}
    with dali_sr.build_loader(cfg) as loader:
        batches = list(loader)
        plan = loader.sampling.plan(0)
    rows = [(b, j) for b in batches for j in range(len(b["GT_path"]))]
    assert len(rows) == len(plan.indices) // batch * batch
    crops = set()
    for k, (b, j) in enumerate(rows):
        assert b["lq"][j] is b["hq"][j] or np.array_equal(b["lq"][j].numpy(), b["hq"][j].numpy())
        got = b["hq"][j].numpy() * 255
        want = reference(b["GT_path"][j], size, 4, 0, int(plan.positions[k]), aug_prob)
        assert got.shape == want.shape == (3, size, size)
        diff = np.abs(got - want)
        assert diff.max() <= LEVELS and diff.mean() <= MEAN_LEVELS, (b["GT_path"][j], diff.max(), diff.mean())
        shifted = np.abs(got[:, :, 1:] - want[:, :, :-1]).mean()
        assert shifted > 3 * MEAN_LEVELS  # a crop one column off would fail the bound above
        crops.add(crop_draw(4, 0, int(plan.positions[k]), (1000, 1000), size, aug_prob).resized)
    assert crops == {True, False} if 0 < aug_prob < 1 else crops == {aug_prob == 1.0}


@pytest.mark.parametrize("keys, message", [
    (dict(transparent=True), r"'transparent' \(RGBA images\) is not available; remove it$"),
    (dict(aug_prob=None), r"Stylegan2Dataset needs 'aug_prob'$"),
    (dict(aug_prob=2), r"'aug_prob' must be a number in \[0, 1\]"),
    (dict(scale=2), r"Stylegan2Dataset yields lq = hq; remove 'scale'$"),
    (dict(gt_size=8), r"Stylegan2Dataset does not read 'gt_size'; remove it$"),
    (dict(paths=["/x"]), r"unknown key 'paths'; did you mean 'path'"),
])
def test_a_bad_option_is_a_one_line_config_error(tmp_path, keys, message):
    cfg = {"type": "Stylegan2Dataset", "path": str(tmp_path), "target_size": 16, "aug_prob": 0.5, **keys}
    with pytest.raises(ConfigError, match=message) as e:
        dali_sr.load_config({k: v for k, v in cfg.items() if v is not None})
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("setup, message", [("missing", r"image folder .*/nowhere does not exist; fix 'path'$"),
                                            ("empty", r"holds no .jpg, .jpeg, .png or .webp image; fix 'path'$")])
def test_a_missing_or_empty_folder_is_a_one_line_dataset_error(tmp_path, setup, message):
    root = tmp_path / ("nowhere" if setup == "missing" else "empty")
    if setup == "empty":
        root.mkdir()
        (root / "a.ppm").write_bytes(b"P6 1 1 255 abc")
    with pytest.raises(DatasetError, match=message):
        dali_sr.build_loader({"type": "Stylegan2Dataset", "path": str(root), "target_size": 16, "aug_prob": 0.5})
