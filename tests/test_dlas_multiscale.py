"""`MultiScaleDataset` (DL-Art-School's tile trees): every tile of every sample of an epoch against a reference
computed here as DL-Art-School computes it (cv2 reads, the loader's recorded flips and square offsets, cv2
INTER_AREA, the recursive quarters, torch's area downscale for LQ), over image shapes, tile sizes, depths and
scales; and bad input as one-line errors."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import dali_sr
from dali_sr import ConfigError, DatasetError
from dali_sr.datasets.dlas.multiscale import sample_generator, square_offset
from test_dlas_image_folder import SIZES, make_folder


def dlas_square(img: np.ndarray, offset: float) -> np.ndarray:
    """DL-Art-School's `get_square_image` for a given offset (the start kept inside the image)."""
    h, w = img.shape[:2]
    diff = abs(h - w)
    centre = diff // 2
    start = min(max(int(centre + offset * (centre - 2)), 0), diff)
    return img[start:start + w] if h > w else img[:, start:start + h]


def dlas_tree(img: np.ndarray, tile: int, num_scales: int) -> list[np.ndarray]:
    """The whole image resized to the tile, then recursively each quarter's tile and its own quarters."""
    cap = tile * 2 ** num_scales
    tiles = [cv2.resize(img, (tile, tile), interpolation=cv2.INTER_AREA)]

    def quarters(x: np.ndarray, depth: int) -> None:
        if depth >= num_scales:
            return
        n = cap // 2 ** depth
        parts = [x[:n, :n], x[:n, n:], x[n:, :n], x[n:, n:]]
        tiles.extend(cv2.resize(np.ascontiguousarray(p), (tile, tile), interpolation=cv2.INTER_AREA) for p in parts)
        for p in parts:
            quarters(p, depth + 1)

    quarters(img, 1)
    return tiles


def reference(path: str, flags: np.ndarray, offset: float, tile: int, num_scales: int, scale: int):
    img = cv2.cvtColor(cv2.imread(path), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    if flags[0]:
        img = img[:, ::-1]
    if flags[1]:
        img = img[::-1]
    if flags[2]:
        img = img.transpose(1, 0, 2)
    cap = tile * 2 ** num_scales
    full = cv2.resize(np.ascontiguousarray(dlas_square(img, offset)), (cap, cap), interpolation=cv2.INTER_AREA)
    hq = torch.stack([torch.from_numpy(t.transpose(2, 0, 1)) for t in dlas_tree(full, tile, num_scales)])
    lq = torch.stack([F.interpolate(t[None], scale_factor=1 / scale, mode="area")[0] for t in hq])
    return hq.numpy(), lq.numpy()


@pytest.mark.parametrize("tile, num_scales, scale, batch", [pytest.param(4, 3, 2, 2, marks=pytest.mark.slow),
                                                        pytest.param(6, 2, 3, 5, marks=pytest.mark.slow), (9, 1, 1, 1),
                                                        pytest.param(2, 4, 2, 5, marks=pytest.mark.slow)])
def test_every_tile_of_an_epoch_is_dlas_tile(tmp_path, tile, num_scales, scale, batch):
    root = make_folder(tmp_path / "imgs", SIZES)
    cfg = {"type": "MultiScaleDataset", "paths": [str(root)], "hq_tile_size": tile, "num_scales": num_scales,
           "scale": scale, "batch_size_per_gpu": batch, "seed": 3}
    with dali_sr.build_loader(cfg) as loader:
        batches = list(loader)
        plan = loader.sampling.plan(0)
    n = (4 ** num_scales - 1) // 3
    rows = [(b, j) for b in batches for j in range(len(b["GT_path"]))]
    assert len(rows) == len(plan.indices) // batch * batch
    offsets = []
    for k, (b, j) in enumerate(rows):
        offset = square_offset(sample_generator(3, 0, int(plan.positions[k])))
        offsets.append(offset)
        hq, lq = reference(b["GT_path"][j], plan.flips[k], offset, tile, num_scales, scale)
        assert b["hq"][j].shape == (n, 3, tile, tile) and b["lq"][j].shape == (n, 3, tile // scale, tile // scale)
        np.testing.assert_allclose(b["hq"][j].numpy(), hq, atol=1e-4, err_msg=b["GT_path"][j])
        np.testing.assert_allclose(b["lq"][j].numpy(), lq, atol=1e-4, err_msg=b["GT_path"][j])
    assert len({round(o, 3) for o in offsets}) == len(offsets)  # every sample its own offset
    assert plan.flips[:len(rows)].any(axis=0).all() and not plan.flips[:len(rows)].all(axis=0).any()


@pytest.mark.parametrize("keys, message", [
    (dict(hq_tile_size=5, scale=2), r"hq_tile_size 5 is not a multiple of scale 2$"),
    (dict(num_scales=None), r"MultiScaleDataset needs 'num_scales'$"),
    (dict(target_size=16), r"unknown key 'target_size'"),
    (dict(gt_size=16), r"MultiScaleDataset does not read 'gt_size'; remove it$"),
    (dict(random_corruptions=["noize"], num_corrupts_per_image=1), r"unknown corruption 'noize'"),
])
def test_a_bad_option_is_a_one_line_config_error(tmp_path, keys, message):
    cfg = {"type": "MultiScaleDataset", "paths": [str(tmp_path)], "hq_tile_size": 4, "num_scales": 2, "scale": 2}
    with pytest.raises(ConfigError, match=message) as e:
        dali_sr.load_config({k: v for k, v in {**cfg, **keys}.items() if v is not None})
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("setup, message", [
    ("missing", r"image folder .*/nowhere does not exist; fix 'paths'$"),
    pytest.param("small", r"img_00.png is 40x53, its square smaller than hq_tile_size x 2\^num_scales 64 .*; remove it "
                          r"or lower hq_tile_size$", marks=pytest.mark.slow),
])
def test_bad_data_is_a_one_line_dataset_error(tmp_path, setup, message):
    root = tmp_path / ("nowhere" if setup == "missing" else "imgs")
    if setup == "small":
        make_folder(root, SIZES)
    cfg = {"type": "MultiScaleDataset", "paths": [str(root)], "hq_tile_size": 8, "num_scales": 3, "scale": 2,
           "batch_size_per_gpu": 1, "shuffle": False}
    with pytest.raises(DatasetError, match=message) as e:
        with dali_sr.build_loader(cfg) as loader:
            list(loader)
    assert "\n" not in str(e.value)
