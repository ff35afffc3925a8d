"""SingleImageDataset over chunk folders written here by hand in DL-Art-School's layout from two real photographs:
every output key against references computed with cv2 / NumPy from the tile files and centers.pt."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Optional

import cv2
import lmdb
import numpy as np
import pytest
import torch

import dali_sr
from conftest import BASICSR_FIXTURES
from dali_sr import ConfigError, DatasetError, load_config
from dali_sr.degrade.chain import parse_chain
from dali_sr.degrade.dlas_names import NAMES

PHOTOS = ("baboon", "comic")


def photos() -> dict[str, np.ndarray]:
    """The two Set14 photographs of the BasicSR fixture (BGR uint8)."""
    env = lmdb.open(str(BASICSR_FIXTURES / "gt.lmdb"), readonly=True, lock=False)
    with env.begin() as txn:
        images = {k: cv2.imdecode(np.frombuffer(txn.get(k.encode()), np.uint8), cv2.IMREAD_COLOR) for k in PHOTOS}
    env.close()
    return images


def write_chunks(root: Path, tile: int, grid: int = 2, first_id: int = 0) -> dict[str, dict]:
    """DL-Art-School's layout: per photo a folder of `grid` x `grid` tiles (`%08d.jpg`, JPEG 95) cut from its
    centre square and resized to `tile` px, `ref.jpg` (the square at `tile` px) and `centers.pt`
    ({id: ((y, x), width)} in ref.jpg pixels). Returns each folder's centres."""
    written = {}
    tile_id = first_id
    for name, img in photos().items():
        h, w = img.shape[:2]
        side = min(h, w)
        square = img[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
        folder = root / name
        folder.mkdir(parents=True)
        cv2.imwrite(str(folder / "ref.jpg"), cv2.resize(square, (tile, tile), interpolation=cv2.INTER_AREA),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        crop = side // grid
        centers = {}
        for y in range(0, grid * crop, crop):
            for x in range(0, grid * crop, crop):
                piece = cv2.resize(square[y:y + crop, x:x + crop], (tile, tile), interpolation=cv2.INTER_AREA)
                cv2.imwrite(str(folder / f"{tile_id:08d}.jpg"), piece, [cv2.IMWRITE_JPEG_QUALITY, 95])
                centers[tile_id] = (((y + crop // 2) * tile // side, (x + crop // 2) * tile // side),
                                    crop * tile // side)
                tile_id += 1
        torch.save(centers, folder / "centers.pt")
        written[name] = centers
    return written


def read_rgb(path: str) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def moved(point: tuple[int, int], old: int, new: int) -> tuple[int, int]:
    return int(new / old * point[0]), int(new / old * point[1])


def area(image: np.ndarray, side: int) -> np.ndarray:
    out = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)
    return out[:, :, None] if out.ndim == 2 else out


def reference(tile_path: str, center: tuple[int, int], width: int, target: Optional[int], multiple: int,
              scale: int, need_ref: bool) -> dict[str, np.ndarray]:
    """DL-Art-School's sample, computed with cv2 from the files: HQ at target_size, cut to a multiple of
    force_multiple x scale, LQ by INTER_AREA; the reference with its mask as a 4th channel."""
    hq = read_rgb(tile_path)
    tile = hq.shape[0]
    if need_ref:
        mask = np.full((tile, tile, 1), 0.1, np.float32)
        (y, x), half = center, width // 2
        mask[max(y - half, 0):y + half, max(x - half, 0):x + half] = 1
        ref = np.concatenate([read_rgb(os.path.join(os.path.dirname(tile_path), "ref.jpg")), mask], axis=2)
    else:
        ref, center = np.zeros((tile, tile, 4), np.float32), (0, 0)
    side = tile
    if target is not None and target != tile:
        hq, ref, center, side = area(hq, target), area(ref, target), moved(center, tile, target), target
    cut = side - side % (multiple * scale)
    hq, ref, center = hq[:cut, :cut], ref[:cut, :cut], moved(center, side, cut)
    lq, lq_ref = area(hq, cut // scale), area(ref, cut // scale)
    chw = (lambda a: np.ascontiguousarray(a.transpose(2, 0, 1)))
    return {"hq": chw(hq), "lq": chw(lq), "gt_fullsize_ref": chw(ref), "lq_fullsize_ref": chw(lq_ref),
            "gt_center": np.array(center), "lq_center": np.array(moved(center, cut, cut // scale))}


def chunk_cfg(paths, scale: int, **extra) -> dict:
    cfg = {"mode": "single_image_extensible", "name": "chunks", "paths": paths, "scale": scale, "phase": "val",
           "batch_size": 16, "device": "cpu", "n_workers": 2}
    cfg.update(extra)
    return cfg


def one_batch(cfg) -> dict:
    with dali_sr.build_loader(cfg) as loader:
        return next(iter(loader))


def assert_matches(batch: dict, target: Optional[int], multiple: int, scale: int, need_ref: bool,
                   centers: dict[int, tuple]) -> None:
    assert batch["LQ_path"] == batch["GT_path"]
    for j, path in enumerate(batch["GT_path"]):
        center, width = centers[int(Path(path).stem)]
        want = reference(path, center, width, target, multiple, scale, need_ref)
        for key, value in want.items():
            got = batch[key][j].numpy()
            assert got.shape == value.shape, (key, path)
            np.testing.assert_allclose(got, value, atol=2e-6, rtol=0, err_msg=f"{key} of {path}")
    assert batch["gt_center"].dtype == batch["lq_center"].dtype == torch.int64


# (tile side, target_size, scale, force_multiple): even and odd sides, scales 1 to 4, target_size on and off, a
# force_multiple that cuts the HQ image, with and without target_size
# Whole factors by halvings (2, 4, 8) and by block means (3, 5); a 2048 px tile.
CASES = [(32, None, 2, 1), (32, 16, 4, 1), (36, None, 4, 8), (27, 9, 1, 1), (30, 15, 3, 1), (36, 18, 4, 4),
         (64, 16, 8, 1), (45, 9, 3, 1), (2048, 256, 2, 4)]


@pytest.mark.parametrize("tile,target,scale,multiple", CASES)
def test_every_output_matches_cv2_references(tmp_path, tile, target, scale, multiple):
    centers = write_chunks(tmp_path, tile)
    batch = one_batch(chunk_cfg(str(tmp_path), scale, target_size=target, force_multiple=multiple,
                                need_ref=True, strict=True))
    assert batch["GT_path"] == [str(tmp_path / name / f"{i:08d}.jpg") for name, ids in
                                zip(PHOTOS, ([0, 1, 2, 3], [4, 5, 6, 7])) for i in ids]
    assert_matches(batch, target, multiple, scale, True, {k: v for c in centers.values() for k, v in c.items()})


def test_tiles_of_several_sides_meet_at_target_size(tmp_path):
    """Folders of 32 px and of 48 px tiles reduced to one target_size: each sample its own whole factor."""
    small, large = write_chunks(tmp_path / "a", 32), write_chunks(tmp_path / "b", 48, first_id=8)
    batch = one_batch(chunk_cfg([str(tmp_path / "a"), str(tmp_path / "b")], 2, target_size=16, need_ref=True,
                                strict=True))
    assert {Path(p).parent.parent.name for p in batch["GT_path"]} == {"a", "b"}
    assert_matches(batch, 16, 1, 2, True, {k: v for c in (*small.values(), *large.values()) for k, v in c.items()})


@pytest.mark.parametrize("name", sorted(NAMES))
def test_each_corruption_name_alone_runs_on_the_chunk_graph(tmp_path, name):
    """Every corruption name as the only one, after the box downscale: a batch of the LQ's shape in [0, 1] (noise
    aside), and the names that do nothing leave the plain INTER_AREA LQ."""
    centers = write_chunks(tmp_path, 32)
    batch = one_batch(chunk_cfg(str(tmp_path), 2, target_size=16, fixed_corruptions=[name]))
    assert batch["lq"].shape == (8, 3, 8, 8) and torch.isfinite(batch["lq"]).all()
    if NAMES[name] == "none":
        assert_matches(batch, 16, 1, 2, False, {k: v for c in centers.values() for k, v in c.items()})


def test_without_need_ref_references_and_centres_are_zeros(tmp_path):
    centers = write_chunks(tmp_path, 32)
    batch = one_batch(chunk_cfg(str(tmp_path), 2, target_size=16))
    assert not batch["gt_fullsize_ref"].any() and not batch["lq_fullsize_ref"].any()
    assert batch["gt_fullsize_ref"].shape == (8, 4, 16, 16) and batch["lq_fullsize_ref"].shape == (8, 4, 8, 8)
    assert_matches(batch, 16, 1, 2, False, {k: v for c in centers.values() for k, v in c.items()})


def test_without_strict_the_fixed_centre_is_used(tmp_path):
    write_chunks(tmp_path, 32)
    batch = one_batch(chunk_cfg(str(tmp_path), 2, need_ref=True))
    fixed = {i: ((128, 128), 256) for i in range(8)}  # DL-Art-School's centre and side without centers.pt
    assert_matches(batch, None, 1, 2, True, fixed)


def test_eval_makes_lq_the_hq_image(tmp_path):
    centers = write_chunks(tmp_path, 32)
    batch = one_batch(chunk_cfg(str(tmp_path), 4, target_size=16, eval=True, need_ref=True, strict=True))
    assert torch.equal(batch["lq"], batch["hq"]) and torch.equal(batch["lq_center"], batch["gt_center"])
    assert_matches(batch, 16, 1, 1, True, {k: v for c in centers.values() for k, v in c.items()})


def test_a_chain_corrupts_the_lq_around_the_box_downscale(tmp_path):
    """The chain's steps run on the HQ image before its resize to the LQ size and on the LQ after it (here a gray
    conversion before and a colour quantization after)."""
    write_chunks(tmp_path, 32)
    cfg = load_config(chunk_cfg(str(tmp_path), 2))
    chain = parse_chain([{"type": "gray"}, {"type": "resize", "to": "lq", "modes": ["area"]},
                         {"type": "quantize", "divisors": [16]}], 2, "test")
    batch = one_batch(replace(cfg, degradation=chain))
    weights = np.array([0.299, 0.587, 0.114], np.float32)
    for j, path in enumerate(batch["GT_path"]):
        gray = (read_rgb(path) * weights).sum(axis=2, keepdims=True).repeat(3, axis=2)
        want = np.floor(area(gray, 16) * 255 / 16) * 16 / 255
        np.testing.assert_allclose(batch["lq"][j].numpy(), want.transpose(2, 0, 1), atol=1e-5, rtol=0)


def test_weights_repeat_folders_and_ignore_first_skips_tiles(tmp_path):
    write_chunks(tmp_path / "a", 16)
    write_chunks(tmp_path / "b", 16, first_id=8)
    cfg = chunk_cfg([str(tmp_path / "a"), str(tmp_path / "b")], 1, weights=[2, 1], ignore_first=1)
    batch = one_batch(cfg)
    a = [str(tmp_path / "a" / name / f"{i:08d}.jpg") for name, ids in zip(PHOTOS, ([1, 2, 3], [5, 6, 7])) for i in ids]
    b = [str(tmp_path / "b" / name / f"{i:08d}.jpg") for name, ids in zip(PHOTOS, ([9, 10, 11], [13, 14, 15]))
         for i in ids]
    assert batch["GT_path"] == a + a + b[:4]
    with dali_sr.build_loader(cfg) as loader:
        assert sum(len(b["GT_path"]) for b in loader) == 18


def test_training_batches_cover_every_tile(tmp_path):
    write_chunks(tmp_path, 16)
    cfg = chunk_cfg(str(tmp_path), 2, phase="train", batch_size=4)
    with dali_sr.build_loader(cfg) as loader:
        seen = sorted(p for b in loader for p in b["GT_path"])
    assert seen == sorted(str(p) for p in tmp_path.glob("*/0*.jpg"))


def test_a_resumed_loader_gives_the_same_next_batches(tmp_path):
    write_chunks(tmp_path, 16)
    cfg = chunk_cfg(str(tmp_path), 2, phase="train", batch_size=3, seed=7, need_ref=True, strict=True)
    with dali_sr.build_loader(cfg) as loader:
        batches = iter(loader)
        next(batches)
        state = loader.state_dict()
        rest = list(batches)
    with dali_sr.build_loader(cfg) as loader:
        loader.load_state_dict(state)
        resumed = list(loader)
    assert [b["GT_path"] for b in resumed] == [b["GT_path"] for b in rest] and len(rest) == 1
    for a, b in zip(resumed, rest):
        assert all(torch.equal(a[k], b[k]) for k in ("lq", "hq", "gt_fullsize_ref", "gt_center"))


# -- bad input --------------------------------------------------------------------------------------------------

def index_error(cfg: dict) -> str:
    with pytest.raises(DatasetError) as e:
        dali_sr.build_loader(cfg)
    message = str(e.value)
    assert "\n" not in message
    return message


def test_a_tile_missing_from_centers_is_named(tmp_path):
    write_chunks(tmp_path, 16)
    centers = torch.load(tmp_path / "comic" / "centers.pt")
    del centers[6]
    torch.save(centers, tmp_path / "comic" / "centers.pt")
    message = index_error(chunk_cfg(str(tmp_path), 1, need_ref=True, strict=True))
    assert f"{tmp_path / 'comic' / 'centers.pt'} has no entry for tile 6 (00000006.jpg)" in message
    one_batch(chunk_cfg(str(tmp_path), 1, need_ref=True))  # without strict, centers.pt is not read


class Pickled:
    pass


@pytest.mark.parametrize("content,reason", [({0: Pickled()}, "not a plain-data centers file"),
                                            ({0: [(1, 2), 3]}, "expected a dict of tile id"),
                                            ({"0": ((1, 2), 3)}, "expected a dict of tile id"),
                                            ([1, 2], "expected a dict of tile id")])
def test_a_centers_file_that_is_not_plain_data_is_refused(tmp_path, content, reason):
    write_chunks(tmp_path, 16)
    torch.save(content, tmp_path / "baboon" / "centers.pt")
    message = index_error(chunk_cfg(str(tmp_path), 1, needs_metadata=True, need_ref=True))
    assert message.startswith(f"{tmp_path / 'baboon' / 'centers.pt'}: ") and reason in message


def test_a_missing_centers_file_is_an_error_only_when_read(tmp_path):
    write_chunks(tmp_path, 16)
    (tmp_path / "baboon" / "centers.pt").unlink()
    assert "centers.pt is missing" in index_error(chunk_cfg(str(tmp_path), 1, strict=True, need_ref=True))
    assert len(one_batch(chunk_cfg(str(tmp_path), 1))["GT_path"]) == 8


def test_a_tile_of_another_size_is_named(tmp_path):
    write_chunks(tmp_path, 16)
    cv2.imwrite(str(tmp_path / "comic" / "00000005.jpg"), np.zeros((18, 18, 3), np.uint8))
    message = index_error(chunk_cfg(str(tmp_path), 1))
    assert message.startswith(f"{tmp_path / 'comic' / '00000005.jpg'}: tile is 18x18 but 00000004.jpg")


def test_folders_without_tiles_are_skipped_but_a_dataset_without_any_is_an_error(tmp_path):
    write_chunks(tmp_path / "data", 16)
    (tmp_path / "data" / "empty").mkdir()
    (tmp_path / "data" / "only_ref").mkdir()
    cv2.imwrite(str(tmp_path / "data" / "only_ref" / "ref.jpg"), np.zeros((16, 16, 3), np.uint8))
    assert len(one_batch(chunk_cfg(str(tmp_path / "data"), 1))["GT_path"]) == 8
    (tmp_path / "none" / "a").mkdir(parents=True)
    assert "no tiles under" in index_error(chunk_cfg(str(tmp_path / "none"), 1))


def test_folders_of_different_sizes_need_target_size(tmp_path):
    write_chunks(tmp_path / "a", 16)
    write_chunks(tmp_path / "b", 32, first_id=8)
    paths = [str(tmp_path / "a"), str(tmp_path / "b")]
    assert "a batch needs one size: set target_size" in index_error(chunk_cfg(paths, 1))
    assert one_batch(chunk_cfg(paths, 1, target_size=8))["hq"].shape == (16, 3, 8, 8)


def test_a_target_size_that_is_no_whole_factor_is_refused(tmp_path):
    write_chunks(tmp_path, 16)
    assert "target_size 12 is not a whole-factor reduction" in index_error(chunk_cfg(str(tmp_path), 1, target_size=12))


def test_a_missing_reference_is_an_error_with_need_ref(tmp_path):
    write_chunks(tmp_path, 16)
    (tmp_path / "comic" / "ref.jpg").unlink()
    assert "no ref.jpg, which need_ref reads" in index_error(chunk_cfg(str(tmp_path), 1, need_ref=True))


@pytest.mark.parametrize("extra,match", [
    ({"weights": [1]}, "'weights' has 1 entries for 2 'paths'"),
    ({"target_size": 20, "force_multiple": 8}, "not a multiple of force_multiple"),
    ({"fixed_corruptions": ["jpg"]}, "unknown corruption 'jpg'")])
def test_option_errors_are_one_line(tmp_path, extra, match):
    with pytest.raises(ConfigError, match=match):
        load_config(chunk_cfg(["/a", "/b"], 2, **extra))


@pytest.mark.gpu
def test_gpu_batches_are_within_one_level_of_cpu(tmp_path):
    """GPU JPEG decoding is within one level of the CPU decoder; box means and masks keep that bound."""
    write_chunks(tmp_path, 32)
    cfg = chunk_cfg(str(tmp_path), 2, target_size=16, need_ref=True, strict=True)
    cpu, gpu = one_batch(cfg), one_batch({**cfg, "device": "gpu"})
    assert gpu["hq"].is_cuda and gpu["GT_path"] == cpu["GT_path"]
    for key in ("lq", "hq", "gt_fullsize_ref", "lq_fullsize_ref", "gt_center", "lq_center"):
        torch.testing.assert_close(gpu[key].cpu(), cpu[key], rtol=0, atol=1 / 255 + 1e-6)
