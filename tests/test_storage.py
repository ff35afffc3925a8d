"""Storage backends: disk, BasicSR LMDB (shared environments, pickling, fork), old EDVR LMDBs, meta files."""
from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
import shutil
from pathlib import Path

import cv2
import lmdb
import numpy as np
import pytest
import torch

import dali_sr
from conftest import make_nn_pairs, nearest_upsample, paired_cfg
from dali_sr import DatasetError
from dali_sr.storage.meta_files import read_lmdb_meta, read_meta_info_file
from dali_sr.storage.backends import SHARED_ENVS, DiskStorage, LmdbStorage, check_relative_key

LQ_SIZES = [(10, 12)] * 4


def one_line(excinfo) -> str:
    msg = str(excinfo.value)
    assert msg and "\n" not in msg, f"not a one-line message: {msg!r}"
    return msg


def to_uint8(t) -> np.ndarray:
    """(..., C, H, W) float in [0, 1] -> (..., H, W, C) uint8, exact for x/255 values."""
    a = np.rint(t.numpy() * 255.0)
    assert np.abs(t.numpy() * 255.0 - a).max() < 1e-3
    return np.moveaxis(a.astype(np.uint8), -3, -1)


def lmdb_values(root: str) -> dict[str, bytes]:
    env = lmdb.open(root, readonly=True, lock=False)
    try:
        with env.begin() as txn:
            return {k.decode(): bytes(v) for k, v in txn.cursor()}
    finally:
        env.close()


@pytest.fixture
def pairs(tmp_path) -> dict[str, str]:
    return make_nn_pairs(tmp_path / "data", 2, LQ_SIZES, lmdb=True)


# -- DiskStorage ------------------------------------------------------------------------------------
def test_disk_storage_reads_files(pairs):
    store = DiskStorage(pairs["gt"])
    path = Path(pairs["gt"]) / "img001.png"
    data = store.get("img001.png")
    assert data.dtype == np.uint8 and data.tobytes() == path.read_bytes()
    assert store.has("img001.png") and not store.has("img999.png")
    assert store.label("img001.png") == str(path)
    store.close()


def test_disk_storage_errors_name_the_path(pairs, tmp_path):
    with pytest.raises(DatasetError) as e:
        DiskStorage(str(tmp_path / "nowhere"))
    assert str(tmp_path / "nowhere") in one_line(e)
    store = DiskStorage(pairs["lq"])
    with pytest.raises(DatasetError) as e:
        store.get("img999.png")
    assert str(Path(pairs["lq"]) / "img999.png") in one_line(e)


# -- LmdbStorage ------------------------------------------------------------------------------------
def test_lmdb_storage_reads_values(pairs):
    values = lmdb_values(pairs["lq_lmdb"])
    assert sorted(values) == ["img000", "img001", "img002", "img003"]
    base = SHARED_ENVS.open_count()
    store = LmdbStorage(pairs["lq_lmdb"])
    try:
        for key, value in values.items():
            got = store.get(key)
            assert got.dtype == np.uint8 and got.tobytes() == value
        assert store.has("img002") and not store.has("img999")
        assert store.missing(["img000", "nope", "img003", "gone"]) == ["nope", "gone"]
        assert store.label("img002") == "img002"
        assert SHARED_ENVS.open_count() == base + 1
        with pytest.raises(DatasetError) as e:
            store.get("img999")
        msg = one_line(e)
        assert "img999" in msg and pairs["lq_lmdb"] in msg
    finally:
        store.close()
    assert SHARED_ENVS.open_count() == base


def test_lmdb_storage_refuses_non_lmdb_folder(pairs):
    with pytest.raises(DatasetError) as e:
        LmdbStorage(pairs["gt"])
    assert pairs["gt"] in one_line(e)


def test_lmdb_storages_share_one_environment_per_path(pairs):
    values = lmdb_values(pairs["gt_lmdb"])  # read before dali_sr opens it (one handle per path and process)
    base = SHARED_ENVS.open_count()
    a, b, c = LmdbStorage(pairs["gt_lmdb"]), LmdbStorage(pairs["gt_lmdb"]), LmdbStorage(pairs["lq_lmdb"])
    try:
        a.get("img000"), b.get("img001"), c.get("img000")
        assert SHARED_ENVS.open_count() == base + 2
        a.close()
        assert SHARED_ENVS.open_count() == base + 2
        assert b.get("img003").tobytes() == values["img003"]
        b.close()
        assert SHARED_ENVS.open_count() == base + 1
        b.close()  # closing twice must not release someone else's reference
        assert SHARED_ENVS.open_count() == base + 1
    finally:
        for s in (a, b, c):
            s.close()
    assert SHARED_ENVS.open_count() == base


def test_lmdb_storage_pickles_without_environment(pairs):
    values = lmdb_values(pairs["gt_lmdb"])
    base = SHARED_ENVS.open_count()
    store = LmdbStorage(pairs["gt_lmdb"])
    assert store.get("img001").tobytes() == values["img001"]  # environment open
    data = pickle.dumps(store)  # an lmdb.Environment cannot be pickled: this fails if it is included
    assert len(data) < 1000
    clone = pickle.loads(data)
    try:
        assert clone.root == store.root
        for key, value in values.items():
            assert clone.get(key).tobytes() == value
        assert SHARED_ENVS.open_count() == base + 1  # the clone shares the open environment
        clone.close()
        assert SHARED_ENVS.open_count() == base + 1  # still held by `store`
        assert store.get("img002").tobytes() == values["img002"]
    finally:
        clone.close()
        store.close()
    assert SHARED_ENVS.open_count() == base


def _read_in_child(storage, keys, conn):
    try:
        digests = [hashlib.sha256(storage.get(k).tobytes()).hexdigest() for k in keys]
        opened = SHARED_ENVS.open_count()
        storage.close()
        conn.send(("ok", digests, opened, SHARED_ENVS.open_count()))
    except BaseException as e:  # noqa: BLE001 - report anything to the parent
        conn.send(("error", repr(e), -1, -1))
    finally:
        conn.close()


def _fork_and_read(store: LmdbStorage, keys: list[str]):
    ctx = multiprocessing.get_context("fork")
    parent_end, child_end = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_read_in_child, args=(store, keys, child_end))
    proc.start()
    child_end.close()
    try:
        assert parent_end.poll(60), "forked child did not answer"
        answer = parent_end.recv()
    finally:
        proc.join(30)
    assert proc.exitcode == 0
    return answer


def test_forked_child_opens_environment_of_unopened_storage(pairs):
    values = lmdb_values(pairs["lq_lmdb"])
    keys = sorted(values)
    store = LmdbStorage(pairs["lq_lmdb"])  # not opened in the parent
    status, digests, opened_in_child, after_close = _fork_and_read(store, keys)
    assert status == "ok", digests
    assert digests == [hashlib.sha256(values[k]).hexdigest() for k in keys]
    assert opened_in_child == 1 and after_close == 0


def test_forked_child_reopens_its_own_environment(pairs):
    values = lmdb_values(pairs["lq_lmdb"])
    keys = sorted(values)
    base = SHARED_ENVS.open_count()
    store = LmdbStorage(pairs["lq_lmdb"])
    try:
        assert store.get(keys[0]).tobytes() == values[keys[0]]  # open in the parent before the fork
        status, digests, opened_in_child, after_close = _fork_and_read(store, keys)
        assert status == "ok", digests
        assert digests == [hashlib.sha256(values[k]).hexdigest() for k in keys]
        assert opened_in_child == 1  # the child opened its own environment, not the parent's
        assert after_close == 0
        # the parent's environment is untouched by the child
        assert SHARED_ENVS.open_count() == base + 1
        assert store.get(keys[-1]).tobytes() == values[keys[-1]]
    finally:
        store.close()
    assert SHARED_ENVS.open_count() == base


# -- loaders sharing LMDB environments -----------------------------------------------------------
def _check_train_batch(batch, scale: int):
    lq, gt = to_uint8(batch["lq"]), to_uint8(batch["gt"])
    for j in range(lq.shape[0]):
        np.testing.assert_array_equal(gt[j], nearest_upsample(lq[j], scale))


def test_train_and_val_loaders_share_one_lmdb(pairs):
    base = SHARED_ENVS.open_count()
    stored_lq = {k: cv2.cvtColor(cv2.imdecode(np.frombuffer(v, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
                 for k, v in lmdb_values(pairs["lq_lmdb"]).items()}
    train = dali_sr.build_loader(paired_cfg(pairs, 2, lmdb=True, batch_size_per_gpu=2))
    val = dali_sr.build_loader(paired_cfg(pairs, 2, lmdb=True, batch_size_per_gpu=1), phase="val")
    try:
        assert SHARED_ENVS.open_count() == base + 2  # gt.lmdb and lq.lmdb, once each
        assert len(train) == 2 and len(val) == 4
        it_train, it_val = iter(train), iter(val)
        seen_val = []
        for _ in range(2):  # interleave: both pipelines read the same environments at once
            _check_train_batch(next(it_train), 2)
            for _ in range(2):
                b = next(it_val)
                seen_val += b["lq_path"]
                np.testing.assert_array_equal(to_uint8(b["lq"])[0], stored_lq[b["lq_path"][0]])
        assert next(it_train, None) is None and next(it_val, None) is None
        assert seen_val == ["img000", "img001", "img002", "img003"]
        assert SHARED_ENVS.open_count() == base + 2
        train.close()
        assert SHARED_ENVS.open_count() == base + 2  # val still holds them
        assert [b["gt_path"][0] for b in val] == seen_val  # val works after train closed
    finally:
        train.close()
        val.close()
    assert SHARED_ENVS.open_count() == base  # 0 when no earlier test leaked an environment
    for root in (pairs["gt_lmdb"], pairs["lq_lmdb"]):  # py-lmdb refuses a path still open in this process
        assert sorted(lmdb_values(root)) == ["img000", "img001", "img002", "img003"]

    again = dali_sr.build_loader(paired_cfg(pairs, 2, lmdb=True, batch_size_per_gpu=2))
    try:
        batches = list(again)
        assert len(batches) == 2
        for b in batches:
            _check_train_batch(b, 2)
    finally:
        again.close()
    assert SHARED_ENVS.open_count() == base


def test_loader_close_releases_lmdb_after_a_full_epoch(pairs):
    base = SHARED_ENVS.open_count()
    with dali_sr.build_loader(paired_cfg(pairs, 2, lmdb=True, batch_size_per_gpu=2)) as loader:
        assert sum(1 for _ in loader) == 2
        assert SHARED_ENVS.open_count() == base + 2
    assert SHARED_ENVS.open_count() == base


# -- old EDVR LMDBs (raw BGR values, meta_info.pkl) ----------------------------------------------
def write_edvr_lmdb(path: Path, images: dict[str, np.ndarray], name: str) -> None:
    """Raw HWC BGR uint8 values, keys as given, `meta_info.pkl` = {'name', 'resolution', 'keys'}."""
    h, w, c = next(iter(images.values())).shape
    env = lmdb.open(str(path), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for key, img in images.items():
            assert img.shape == (h, w, c) and img.dtype == np.uint8
            txn.put(key.encode("ascii"), np.ascontiguousarray(img).tobytes())
    env.close()
    with open(path / "meta_info.pkl", "wb") as f:
        pickle.dump({"name": name, "resolution": f"{c}_{h}_{w}", "keys": list(images)}, f)
    assert not (path / "meta_info.txt").exists()


@pytest.fixture
def edvr(tmp_path):
    rng = np.random.default_rng(7)
    keys = ["000_00000000", "000_00000001", "011_00000000", "011_00000001"]
    lq_bgr = {k: rng.integers(0, 256, (10, 12, 3), dtype=np.uint8) for k in keys}
    gt_bgr = {k: nearest_upsample(v, 2) for k, v in lq_bgr.items()}
    write_edvr_lmdb(tmp_path / "lq.lmdb", lq_bgr, "REDS_LQ")
    write_edvr_lmdb(tmp_path / "gt.lmdb", gt_bgr, "REDS_GT")
    roots = {"lq_lmdb": str(tmp_path / "lq.lmdb"), "gt_lmdb": str(tmp_path / "gt.lmdb")}
    return roots, lq_bgr, gt_bgr


def test_edvr_meta_is_read(edvr):
    roots, lq_bgr, _ = edvr
    meta = read_lmdb_meta(roots["lq_lmdb"])
    assert meta.keys == list(lq_bgr)
    assert meta.raw_shape == (10, 12, 3)


def _dihedral(img: np.ndarray):
    for t in (img, img.transpose(1, 0, 2)):
        for v in (t, t[::-1]):
            yield v
            yield v[:, ::-1]


def _found_in(crop: np.ndarray, image: np.ndarray) -> bool:
    ph, pw = crop.shape[:2]
    for cand in _dihedral(crop):
        if cand.shape[:2] != (ph, pw):
            continue
        for top in range(image.shape[0] - ph + 1):
            for left in range(image.shape[1] - pw + 1):
                if np.array_equal(image[top:top + ph, left:left + pw], cand):
                    return True
    return False


def test_edvr_lmdb_training_crops_are_exact_and_rgb(edvr):
    roots, lq_bgr, _ = edvr
    cfg = paired_cfg(roots, 2, lmdb=True, batch_size_per_gpu=2, gt_size=16)
    with dali_sr.build_loader(cfg) as loader:
        seen = []
        for epoch in range(2):
            loader.set_epoch(epoch)
            for batch in loader:
                assert batch["lq"].shape == (2, 3, 8, 8) and batch["gt"].shape == (2, 3, 16, 16)
                lq, gt = to_uint8(batch["lq"]), to_uint8(batch["gt"])
                for j, key in enumerate(batch["lq_path"]):
                    assert batch["gt_path"][j] == key
                    np.testing.assert_array_equal(gt[j], nearest_upsample(lq[j], 2))
                    rgb = lq_bgr[key][:, :, ::-1]
                    assert _found_in(lq[j], rgb), f"LQ crop of {key} is not a window of the stored image in RGB"
                    seen.append(key)
        assert sorted(set(seen)) == sorted(lq_bgr)


def test_edvr_lmdb_validation_returns_stored_images_as_rgb(edvr):
    roots, lq_bgr, gt_bgr = edvr
    cfg = paired_cfg(roots, 2, lmdb=True, batch_size_per_gpu=1)
    with dali_sr.build_loader(cfg, phase="val") as loader:
        batches = list(loader)
    assert [b["lq_path"] for b in batches] == [[k] for k in sorted(lq_bgr)]
    for b in batches:
        key = b["lq_path"][0]
        assert b["gt_path"] == [key]
        want_lq = np.ascontiguousarray(lq_bgr[key][:, :, ::-1].transpose(2, 0, 1)).astype(np.float32) / 255.0
        want_gt = np.ascontiguousarray(gt_bgr[key][:, :, ::-1].transpose(2, 0, 1)).astype(np.float32) / 255.0
        assert b["lq"].shape == (1, 3, 10, 12) and b["gt"].shape == (1, 3, 20, 24)
        np.testing.assert_allclose(b["lq"][0].numpy(), want_lq, rtol=0, atol=1e-6)
        np.testing.assert_allclose(b["gt"][0].numpy(), want_gt, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(to_uint8(b["lq"])[0], lq_bgr[key][:, :, ::-1])


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_meta_info_pkl_is_refused_and_not_executed(edvr, tmp_path):
    roots, _, _ = edvr
    marker = tmp_path / "PWNED_MARKER"
    pkl = Path(roots["gt_lmdb"]) / "meta_info.pkl"
    pkl.write_bytes(pickle.dumps({"name": "x", "resolution": "3_20_24", "keys": [_Evil(marker)]}))
    with pytest.raises(DatasetError) as e:
        read_lmdb_meta(roots["gt_lmdb"])
    assert str(pkl) in one_line(e)
    base = SHARED_ENVS.open_count()
    with pytest.raises(DatasetError) as e:
        dali_sr.build_loader(paired_cfg(edvr[0], 2, lmdb=True, gt_size=16))
    assert str(pkl) in one_line(e)
    assert not marker.exists()
    assert SHARED_ENVS.open_count() == base


def test_pickled_global_is_refused_even_if_harmless(edvr):
    roots, _, _ = edvr
    import collections

    pkl = Path(roots["lq_lmdb"]) / "meta_info.pkl"
    pkl.write_bytes(pickle.dumps(collections.OrderedDict(name="x", resolution="3_10_12", keys=["000_00000000"])))
    with pytest.raises(DatasetError) as e:
        read_lmdb_meta(roots["lq_lmdb"])
    assert str(pkl) in one_line(e)


@pytest.mark.parametrize("data", [
    pytest.param(b"", id="empty"),
    pytest.param(b"garbage", id="garbage"),
    pytest.param(pickle.dumps({"name": "x", "resolution": "3_10_12", "keys": ["a"]})[:-5], id="truncated"),
    pytest.param(pickle.dumps(["a", "b"]), id="list"),
    pytest.param(pickle.dumps({"name": "x", "resolution": "3x10x12", "keys": ["a"]}), id="bad-resolution"),
    pytest.param(pickle.dumps({"name": "x", "resolution": "3_10_12"}), id="no-keys"),
    pytest.param(b"\x80\x04\x8c\x02\xff\xfe.", id="bad-utf8"),
    pytest.param(b"\x80\x04N)R.", id="reduce-none"),
    pytest.param(b"\x80\x04}}\x8c\x01a\x8c\x01bsb.", id="build-on-dict"),
])
def test_corrupt_meta_info_pkl_is_a_dataset_error(edvr, data):
    roots, _, _ = edvr
    pkl = Path(roots["lq_lmdb"]) / "meta_info.pkl"
    pkl.write_bytes(data)
    with pytest.raises(DatasetError) as e:
        read_lmdb_meta(roots["lq_lmdb"])
    assert str(pkl) in one_line(e)


# -- keys and meta files ----------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["../secret.png", "a/../../b.png", "..", "/etc/hostname", "", "..\\up.png",
                                 "sub/../../x.png"])
def test_escaping_keys_are_rejected(key):
    with pytest.raises(DatasetError) as e:
        check_relative_key(key, "/data/root")
    one_line(e)


@pytest.mark.parametrize("key", ["a.png", "sub/dir/b.png", "x..y.png", "..hidden.png", "000/00000000"])
def test_relative_keys_are_accepted(key):
    check_relative_key(key, "/data/root")


@pytest.mark.parametrize("line, bad", [
    ("../outside.png", "../outside.png"),
    ("/etc/hostname", "/etc/hostname"),
    ("sub/../../outside.png", "sub/../../outside.png"),
    ("img000.png, ../lq/img000.png", "../lq/img000.png"),
])
def test_meta_info_file_keys_escaping_the_root_are_rejected(pairs, tmp_path, line, bad):
    outside = Path(pairs["gt"]).parent / "outside.png"
    shutil.copy(Path(pairs["gt"]) / "img000.png", outside)  # exists, so only the escape check can refuse it
    meta = tmp_path / "meta_info_evil.txt"
    meta.write_text(f"img001.png (20,24,3)\n{line}\n")
    cfg = paired_cfg(pairs, 2, meta_info_file=str(meta), batch_size_per_gpu=2)
    with pytest.raises(DatasetError) as e:
        dali_sr.build_loader(cfg)
    msg = one_line(e)
    assert bad in msg


def test_meta_info_file_gt_in_a_subfolder_pairs_with_the_lq_basename(pairs, tmp_path):
    sub = Path(pairs["gt"]) / "sub"
    sub.mkdir()
    shutil.move(str(Path(pairs["gt"]) / "img001.png"), sub / "img001.png")
    meta = tmp_path / "meta_info_sub.txt"
    meta.write_text("sub/img001.png\n")
    with dali_sr.build_loader(paired_cfg(pairs, 2, meta_info_file=str(meta)), phase="val") as loader:
        batch = next(iter(loader))
    assert batch["lq_path"] == [str(Path(pairs["lq"]) / "img001.png")]  # BasicSR: basename at the LQ root
    assert batch["gt_path"] == [str(sub / "img001.png")]
    assert torch.equal(batch["gt"][0, :, ::2, ::2], batch["lq"][0])


@pytest.mark.parametrize("text, rows", [
    ("a.png\nb.png (20, 24, 3)\n", [["a.png"], ["b.png"]]),
    ("gt/a.png, lq/a.png\n", [["gt/a.png", "lq/a.png"]]),
])
def test_meta_info_file_lines(tmp_path, text, rows):
    meta = tmp_path / "meta.txt"
    meta.write_text(text)
    assert read_meta_info_file(str(meta)) == rows


def test_meta_info_file_pair_without_lq_is_named(tmp_path):
    meta = tmp_path / "meta.txt"
    meta.write_text("a.png,\n")
    with pytest.raises(DatasetError) as e:
        read_meta_info_file(str(meta))
    assert "'a.png,'" in one_line(e) and str(meta) in one_line(e)


def test_meta_info_keys_end_at_the_first_dot_for_the_loader_and_verify(tmp_path):
    """BasicSR's paths_from_lmdb: `line.split('.')[0]`. A name with two dots keys its value by the first part."""
    from dali_sr.prep.verify import verify

    img = cv2.imencode(".png", np.zeros((4, 6, 3), np.uint8))[1].tobytes()
    root = tmp_path / "x.lmdb"
    with lmdb.open(str(root), map_size=1 << 20) as env, env.begin(write=True) as txn:
        txn.put(b"a", img)
    (root / "meta_info.txt").write_text("a.b.png (4,6,3) 1\n")
    assert read_lmdb_meta(str(root)).keys == ["a"]
    report = verify(str(root), progress=False)
    assert report.ok, report.problems


# -- BasicSR's own fixture LMDBs ----------------------------------------------------------------------
def test_basicsr_meta_info_keys_despite_wrong_shape(basicsr_fixtures):
    assert "(80,60,3)" in (basicsr_fixtures / "lq.lmdb" / "meta_info.txt").read_text()
    assert read_lmdb_meta(str(basicsr_fixtures / "lq.lmdb")).keys == ["baboon", "comic"]
    assert read_lmdb_meta(str(basicsr_fixtures / "gt.lmdb")).keys == ["baboon", "comic"]
    assert read_lmdb_meta(str(basicsr_fixtures / "gt.lmdb")).raw_shape is None


def test_basicsr_fixture_validation_trusts_decoded_size(basicsr_fixtures):
    roots = {"gt_lmdb": str(basicsr_fixtures / "gt.lmdb"), "lq_lmdb": str(basicsr_fixtures / "lq.lmdb")}
    stored = {side: lmdb_values(roots[f"{side}_lmdb"]) for side in ("lq", "gt")}
    cfg = paired_cfg(roots, 4, lmdb=True, name="basicsr_fixture", batch_size_per_gpu=1)
    base = SHARED_ENVS.open_count()
    with dali_sr.build_loader(cfg, phase="val") as loader:
        batches = list(loader)
    assert SHARED_ENVS.open_count() == base
    assert [b["lq_path"] for b in batches] == [["baboon"], ["comic"]]
    assert [tuple(b["lq"].shape) for b in batches] == [(1, 3, 120, 123), (1, 3, 90, 60)]
    assert [tuple(b["gt"].shape) for b in batches] == [(1, 3, 480, 492), (1, 3, 360, 240)]
    for b in batches:
        key = b["lq_path"][0]
        for side in ("lq", "gt"):
            want = cv2.cvtColor(cv2.imdecode(np.frombuffer(stored[side][key], np.uint8), cv2.IMREAD_COLOR),
                                cv2.COLOR_BGR2RGB)
            np.testing.assert_array_equal(to_uint8(b[side])[0], want)
