"""Bad input fails with one-line `DatasetError`s naming the file / LMDB key and the dataset; nothing hangs.

Every case builds a good nearest-neighbour dataset with `make_nn_pairs`, injects one fault,
and expects the error either at `build_loader` (index problems) or while iterating (image
problems). After each error a new loader over good data must still run a full epoch.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import lmdb
import numpy as np
import pytest

import dali_sr
from conftest import make_nn_pairs, nearest_upsample, paired_cfg
from faults import Fault, iteration_error, one_line, trigger
from dali_sr import DatasetError
from dali_sr.storage.backends import SHARED_ENVS

NAME = "faulty_set_x2"
SCALE = 2
SIZES = [(10, 12)] * 4  # LQ 10x12, GT 20x24; patch gt_size 16 -> LQ 8x8


def to_uint8(t) -> np.ndarray:
    a = np.rint(t.numpy() * 255.0)
    return np.moveaxis(a.astype(np.uint8), -3, -1)


def cfg_for(roots, lmdb_: bool = False, **extra) -> dict:
    extra.setdefault("batch_size_per_gpu", 2)
    extra.setdefault("gt_size", 8 * SCALE)
    return paired_cfg(roots, SCALE, lmdb=lmdb_, name=NAME, **extra)


def truncate(path: Path, keep: float = 0.6) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def put_lmdb(root: str, key: str, value: bytes | None) -> None:
    """Overwrite (or delete, for None) one value of an LMDB written by `make_nn_pairs`."""
    env = lmdb.open(root, map_size=1 << 26)
    try:
        with env.begin(write=True) as txn:
            if value is None:
                txn.delete(key.encode())
            else:
                txn.put(key.encode(), value)
    finally:
        env.close()


def assert_full_epoch(tmp: Path, lmdb_: bool = False, epochs: int = 1) -> None:
    """A fresh loader over good data yields every batch of an epoch, exactly aligned."""
    roots = make_nn_pairs(tmp, SCALE, SIZES, seed=5, lmdb=lmdb_)
    base = SHARED_ENVS.open_count()
    with dali_sr.build_loader(cfg_for(roots, lmdb_)) as loader:
        assert len(loader) == 2
        for epoch in range(epochs):
            loader.set_epoch(epoch)
            n = 0
            for batch in loader:
                assert batch["lq"].shape == (2, 3, 8, 8) and batch["gt"].shape == (2, 3, 16, 16)
                lq, gt = to_uint8(batch["lq"]), to_uint8(batch["gt"])
                for j in range(2):
                    np.testing.assert_array_equal(gt[j], nearest_upsample(lq[j], SCALE))
                n += 1
            assert n == 2
    assert SHARED_ENVS.open_count() == base


def _roots(tmp: Path, **kw) -> dict:
    return make_nn_pairs(tmp / "data", SCALE, kw.pop("sizes", SIZES), **kw)


def _d(tmp: Path, side: str, name: str) -> str:
    return str(tmp / "data" / side / name)


# -- image faults on disk (found while iterating) --------------------------------------------------------
def _truncated_png_gt(tmp):
    r = _roots(tmp)
    truncate(Path(r["gt"]) / "img001.png")
    return cfg_for(r), "train"


def _truncated_png_lq(tmp):
    r = _roots(tmp)
    truncate(Path(r["lq"]) / "img002.png")
    return cfg_for(r), "train"


def _truncated_png_lq_val(tmp):
    r = _roots(tmp)
    truncate(Path(r["lq"]) / "img002.png")
    return cfg_for(r, batch_size_per_gpu=1), "val"


def _garbage_after_ihdr(tmp):
    r = _roots(tmp)
    p = Path(r["gt"]) / "img003.png"
    data = p.read_bytes()
    p.write_bytes(data[:33] + bytes(np.random.default_rng(1).integers(0, 256, len(data) - 33, dtype=np.uint8)))
    return cfg_for(r), "train"


def _truncated_jpeg(tmp):
    r = _roots(tmp, ext=".jpg")
    truncate(Path(r["gt"]) / "img001.jpg")
    return cfg_for(r), "train"


def _gt_not_scale(tmp):
    r = _roots(tmp)
    cv2.imwrite(str(Path(r["gt"]) / "img001.png"), np.zeros((22, 24, 3), np.uint8))
    return cfg_for(r), "train"


def _lq_smaller_than_patch(tmp):
    r = _roots(tmp, sizes=[(10, 12), (6, 12), (10, 12), (10, 12)])
    return cfg_for(r), "train"


def _bmp_bytes(tmp):
    r = _roots(tmp)
    (Path(r["lq"]) / "img001.png").write_bytes(cv2.imencode(".bmp", np.zeros((10, 12, 3), np.uint8))[1].tobytes())
    return cfg_for(r), "train"


def _webp_bytes(tmp):
    r = _roots(tmp)
    data = cv2.imencode(".webp", np.zeros((20, 24, 3), np.uint8), [cv2.IMWRITE_WEBP_QUALITY, 101])[1].tobytes()
    (Path(r["gt"]) / "img002.png").write_bytes(data)
    return cfg_for(r), "train"


def _bmp_files(tmp):
    r = _roots(tmp)
    img = np.random.default_rng(3).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    cv2.imwrite(str(Path(r["lq"]) / "img004.bmp"), img)
    cv2.imwrite(str(Path(r["gt"]) / "img004.bmp"), nearest_upsample(img, SCALE))
    return cfg_for(r), "train"


def _png16(tmp):
    r = _roots(tmp)
    cv2.imwrite(str(Path(r["gt"]) / "img001.png"), np.full((20, 24, 3), 1000, np.uint16))
    return cfg_for(r), "train"


def _empty_file(tmp):
    r = _roots(tmp)
    (Path(r["gt"]) / "img001.png").write_bytes(b"")
    return cfg_for(r), "train"


def _val_mixed_sizes(tmp):
    r = _roots(tmp, sizes=[(10, 12), (12, 10), (10, 12), (10, 12)])
    return cfg_for(r, batch_size_per_gpu=2), "val"


# -- image faults in LMDB values (found while iterating; named by key) ----------------------------------
def _lmdb_truncated_value(tmp):
    r = _roots(tmp, lmdb=True)
    data = (Path(r["lq"]) / "img001.png").read_bytes()
    put_lmdb(r["lq_lmdb"], "img001", data[: int(len(data) * 0.6)])
    return cfg_for(r, True), "train"


def _lmdb_gt_not_scale(tmp):
    r = _roots(tmp, lmdb=True)
    put_lmdb(r["gt_lmdb"], "img002", cv2.imencode(".png", np.zeros((20, 26, 3), np.uint8))[1].tobytes())
    return cfg_for(r, True), "train"


def _lmdb_bmp_value(tmp):
    r = _roots(tmp, lmdb=True)
    put_lmdb(r["gt_lmdb"], "img003", cv2.imencode(".bmp", np.zeros((20, 24, 3), np.uint8))[1].tobytes())
    return cfg_for(r, True), "train"


def _lmdb_empty_value(tmp):
    r = _roots(tmp, lmdb=True)
    put_lmdb(r["lq_lmdb"], "img000", b"")
    return cfg_for(r, True), "train"


# -- index faults (found by build_loader) -----------------------------------------------------------------
def _lmdb_key_sets_differ(tmp):
    r = _roots(tmp, lmdb=True)
    put_lmdb(r["lq_lmdb"], "img003", None)
    meta = Path(r["lq_lmdb"]) / "meta_info.txt"
    meta.write_text("".join(line + "\n" for line in meta.read_text().splitlines() if "img003" not in line))
    return cfg_for(r, True), "train"


def _lmdb_key_in_meta_not_in_data(tmp):
    r = _roots(tmp, lmdb=True)
    put_lmdb(r["gt_lmdb"], "img002", None)
    return cfg_for(r, True), "train"


def _lmdb_without_meta_info(tmp):
    r = _roots(tmp, lmdb=True)
    os.remove(Path(r["gt_lmdb"]) / "meta_info.txt")
    return cfg_for(r, True), "train"


def _lq_partner_missing(tmp):
    r = _roots(tmp)
    os.remove(Path(r["lq"]) / "img001.png")
    return cfg_for(r), "train"


def _lq_partner_missing_tmpl(tmp):
    r = _roots(tmp, tmpl="{}x2")
    os.remove(Path(r["lq"]) / "img002x2.png")
    return cfg_for(r, filename_tmpl="{}x2"), "train"


def _lq_without_gt(tmp):
    r = _roots(tmp)
    os.remove(Path(r["gt"]) / "img001.png")
    return cfg_for(r), "train"


def _meta_info_missing_gt(tmp):
    r = _roots(tmp)
    meta = tmp / "meta_info_gt.txt"
    meta.write_text("img000.png (20,24,3)\nimg009.png (20,24,3)\n")
    return cfg_for(r, meta_info_file=str(meta)), "train"


def _meta_info_missing_lq(tmp):
    r = _roots(tmp)
    meta = tmp / "meta_info_pair.txt"
    meta.write_text("img000.png, img000.png\nimg001.png, img001_lost.png\n")
    return cfg_for(r, meta_info_file=str(meta)), "train"


def _meta_info_file_absent(tmp):
    r = _roots(tmp)
    return cfg_for(r, meta_info_file=str(tmp / "no_such_meta.txt")), "train"


def _empty_folders(tmp):
    (tmp / "data" / "gt").mkdir(parents=True)
    (tmp / "data" / "lq").mkdir(parents=True)
    (tmp / "data" / "gt" / "notes.txt").write_text("not an image")
    return cfg_for({"gt": str(tmp / "data" / "gt"), "lq": str(tmp / "data" / "lq")}), "train"


def _nonexistent_dataroot(tmp):
    r = _roots(tmp)
    r["gt"] = str(tmp / "data" / "no_such_gt")
    return cfg_for(r), "train"


def _nonexistent_lmdb(tmp):
    r = _roots(tmp, lmdb=True)
    r["lq_lmdb"] = str(tmp / "data" / "no_such_lq.lmdb")
    return cfg_for(r, True), "train"


FAULTS: dict[str, Fault] = {
    "truncated-png-gt": Fault(_truncated_png_gt, lambda t: [_d(t, "gt", "img001.png")], False,
                              lambda t: [_d(t, "lq", "img001.png")]),
    "truncated-png-lq": Fault(_truncated_png_lq, lambda t: [_d(t, "lq", "img002.png")], False,
                              lambda t: [_d(t, "gt", "img002.png")]),
    "truncated-png-lq-val": Fault(_truncated_png_lq_val, lambda t: [_d(t, "lq", "img002.png")], False,
                                  lambda t: [_d(t, "gt", "img002.png")]),
    "garbage-after-ihdr": Fault(_garbage_after_ihdr, lambda t: [_d(t, "gt", "img003.png")], False,
                                lambda t: [_d(t, "lq", "img003.png")]),
    "truncated-jpeg": Fault(_truncated_jpeg, lambda t: [_d(t, "gt", "img001.jpg")], False,
                            lambda t: [_d(t, "lq", "img001.jpg")]),
    "gt-not-scale-x-lq": Fault(_gt_not_scale, lambda t: [_d(t, "gt", "img001.png"), _d(t, "lq", "img001.png"),
                                                         "22x24", "10x12"], False),
    "lq-smaller-than-patch": Fault(_lq_smaller_than_patch, lambda t: [_d(t, "lq", "img001.png"), "6x12"], False),
    "bmp-bytes": Fault(_bmp_bytes, lambda t: [_d(t, "lq", "img001.png"), "BMP"], False),
    "webp-bytes": Fault(_webp_bytes, lambda t: [_d(t, "gt", "img002.png"), "WebP"], False),
    "bmp-files": Fault(_bmp_files, lambda t: [_d(t, "gt", "img004.bmp"), "not BMP", "dali-sr pack"], True),
    "png-16-bit": Fault(_png16, lambda t: [_d(t, "gt", "img001.png"), "16"], False),
    "empty-file": Fault(_empty_file, lambda t: [_d(t, "gt", "img001.png")], False),
    "val-batch-mixes-sizes": Fault(_val_mixed_sizes, lambda t: [_d(t, "lq", "img000.png"), _d(t, "lq", "img001.png")],
                                   False),
    "lmdb-truncated-value": Fault(_lmdb_truncated_value, lambda t: ["img001"], False),
    "lmdb-gt-not-scale-x-lq": Fault(_lmdb_gt_not_scale, lambda t: ["img002", "20x26", "10x12"], False),
    "lmdb-bmp-value": Fault(_lmdb_bmp_value, lambda t: ["img003", "BMP"], False),
    "lmdb-empty-value": Fault(_lmdb_empty_value, lambda t: ["img000"], False),
    "lmdb-key-sets-differ": Fault(_lmdb_key_sets_differ, lambda t: ["img003", str(t / "data" / "gt.lmdb")], True),
    "lmdb-key-not-in-data": Fault(_lmdb_key_in_meta_not_in_data, lambda t: ["img002", str(t / "data" / "gt.lmdb")],
                                  True),
    "lmdb-without-meta-info": Fault(_lmdb_without_meta_info, lambda t: [str(t / "data" / "gt.lmdb"), "meta_info.txt"],
                                    True),
    "lq-partner-missing": Fault(_lq_partner_missing, lambda t: [_d(t, "lq", "img001.png")], True),
    "lq-partner-missing-tmpl": Fault(_lq_partner_missing_tmpl, lambda t: [_d(t, "lq", "img002x2.png")], True),
    "lq-without-gt": Fault(_lq_without_gt, lambda t: [_d(t, "lq", "img001.png")], True),
    "meta-info-lists-missing-gt": Fault(_meta_info_missing_gt, lambda t: [_d(t, "gt", "img009.png")], True),
    "meta-info-lists-missing-lq": Fault(_meta_info_missing_lq, lambda t: [_d(t, "lq", "img001_lost.png")], True),
    "meta-info-file-absent": Fault(_meta_info_file_absent, lambda t: [str(t / "no_such_meta.txt")], True),
    "empty-dataset": Fault(_empty_folders, lambda t: [str(t / "data" / "gt")], True),
    "nonexistent-dataroot": Fault(_nonexistent_dataroot, lambda t: [str(t / "data" / "no_such_gt")], True),
    "nonexistent-lmdb": Fault(_nonexistent_lmdb, lambda t: [str(t / "data" / "no_such_lq.lmdb")], True),
}

@pytest.mark.parametrize("case", list(FAULTS))
def test_bad_input_fails_with_one_line_naming_the_culprit(case, tmp_path):
    fault = FAULTS[case]
    msg = one_line(trigger(fault, tmp_path))
    for needle in fault.needles(tmp_path):
        assert needle in msg, f"{needle!r} not in {msg!r}"
    for wrong in fault.absent(tmp_path):
        assert wrong not in msg, f"error blames the good partner {wrong!r}: {msg!r}"
    # after the error, a new loader over good data runs a whole epoch
    assert_full_epoch(tmp_path / "good", lmdb_=case.startswith("lmdb"))


@pytest.mark.parametrize("case", list(FAULTS))
def test_bad_input_error_names_the_dataset(case, tmp_path):
    msg = one_line(trigger(FAULTS[case], tmp_path))
    assert NAME in msg, f"dataset name {NAME!r} not in {msg!r}"


def test_error_then_new_loader_runs_full_epochs(tmp_path):
    bad = make_nn_pairs(tmp_path / "bad", SCALE, SIZES, lmdb=True)
    truncate(Path(bad["gt"]) / "img000.png")
    data = (Path(bad["lq"]) / "img002.png").read_bytes()
    put_lmdb(bad["lq_lmdb"], "img002", data[:20] + b"\x00" * (len(data) - 20))
    for lmdb_, culprit in ((False, str(Path(bad["gt"]) / "img000.png")), (True, "img002")):
        assert culprit in iteration_error(cfg_for(bad, lmdb_))
        assert_full_epoch(tmp_path / f"good_{lmdb_}", lmdb_=lmdb_, epochs=2)


def test_fixing_the_file_lets_a_new_loader_on_the_same_folder_run(tmp_path):
    roots = make_nn_pairs(tmp_path, SCALE, SIZES)
    path = Path(roots["lq"]) / "img003.png"
    good = path.read_bytes()
    truncate(path)
    with dali_sr.build_loader(cfg_for(roots, batch_size_per_gpu=4)) as loader:
        with pytest.raises(DatasetError) as e:
            next(iter(loader))
        assert str(path) in one_line(str(e.value))
    path.write_bytes(good)
    with dali_sr.build_loader(cfg_for(roots, batch_size_per_gpu=4)) as loader:
        batches = list(loader)
    assert len(batches) == 1
    assert sorted(batches[0]["lq_path"]) == [str(Path(roots["lq"]) / f"img{k:03d}.png") for k in range(4)]
    lq, gt = to_uint8(batches[0]["lq"]), to_uint8(batches[0]["gt"])
    for j in range(4):
        np.testing.assert_array_equal(gt[j], nearest_upsample(lq[j], SCALE))


def test_batches_before_the_bad_sample_are_delivered(tmp_path):
    """Nothing is skipped silently: the good batch comes out, then the bad one fails (no shuffle)."""
    roots = make_nn_pairs(tmp_path, SCALE, SIZES)
    truncate(Path(roots["gt"]) / "img003.png")
    delivered = []
    with dali_sr.build_loader(cfg_for(roots, shuffle=False)) as loader:
        with pytest.raises(DatasetError) as e:
            for batch in loader:
                delivered.append(batch["gt_path"])
    assert delivered == [[str(Path(roots["gt"]) / "img000.png"), str(Path(roots["gt"]) / "img001.png")]]
    assert str(Path(roots["gt"]) / "img003.png") in one_line(str(e.value))


def test_config_error_before_any_data_is_read(tmp_path):
    roots = make_nn_pairs(tmp_path, SCALE, SIZES)
    with pytest.raises(dali_sr.ConfigError) as e:
        dali_sr.build_loader(cfg_for(roots, gt_szie=16))
    msg = one_line(str(e.value))
    assert "'gt_szie'" in msg and "'gt_size'" in msg
    with pytest.raises(dali_sr.ConfigError) as e:
        dali_sr.build_loader(cfg_for(roots, gt_size=15))
    assert "'gt_size'" in one_line(str(e.value))
    assert_full_epoch(tmp_path / "good")


@pytest.mark.parametrize("rank, world_size", [(0, 1), (1, 2)])
def test_the_largest_seed_prefetch_depth_and_thread_count_run_a_loader(tmp_path, rank, world_size):
    roots = make_nn_pairs(tmp_path, SCALE, SIZES, seed=3)
    cfg = cfg_for(roots, seed=2 ** 63 - 1, prefetch_queue_depth=32, num_threads=256)
    with dali_sr.build_loader(cfg, rank=rank, world_size=world_size) as loader:
        batches = list(loader)
    assert len(batches) == 2 // world_size
    for batch in batches:
        lq, gt = to_uint8(batch["lq"]), to_uint8(batch["gt"])
        for j in range(len(lq)):
            np.testing.assert_array_equal(gt[j], nearest_upsample(lq[j], SCALE))
