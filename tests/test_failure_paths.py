"""Failure paths of the loader: when errors surface, as what, and what a resumed or closed loader does."""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import dali_sr
from conftest import make_nn_pairs, paired_cfg
from dali_sr import ConfigError, DaliSRError, DatasetError
from dali_sr.datasets.paired.source import PairedSource
from dali_sr.storage.backends import SHARED_ENVS, LmdbStorage
from faults import one_line

SIZES = [(10, 12)] * 8  # 8 pairs: 4 batches of 2 in index order (no shuffle)
BAD = 6  # the first sample of batch 3


def _cfg(roots: dict, **extra) -> dict:
    return paired_cfg(roots, 2, batch_size_per_gpu=2, shuffle=False, **extra)


def _delivered_before_error(cfg: dict) -> tuple[int, str]:
    """Batches a new loader delivers before it raises a `DatasetError`, and the error's message."""
    delivered = 0
    with dali_sr.build_loader(cfg) as loader:
        with pytest.raises(DatasetError) as e:
            for _ in loader:
                delivered += 1
    return delivered, one_line(str(e.value))


def _break_gt(roots: dict, how: str) -> str:
    """Make pair BAD unreadable in the source: a text file, a GT too small for its LQ, a 16-bit PNG, a cut file."""
    import cv2

    path = Path(roots["gt"]) / f"img{BAD:03d}.png"
    if how == "text":
        path.write_text("not an image, just text with a .png name")
    elif how == "window":
        path.write_bytes(Path(roots["lq"], path.name).read_bytes())  # GT of LQ's size: the GT window leaves it
    elif how == "16bit":
        cv2.imwrite(str(path), cv2.imread(str(path)).astype(np.uint16) * 257)
    else:
        data = path.read_bytes()
        path.write_bytes(data[:len(data) // 2])
    return str(path)


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("how", ["text", "window", "16bit", "truncated"])
def test_a_data_error_in_batch_k_comes_after_batches_before_it(tmp_path, depth, how):
    roots = make_nn_pairs(tmp_path, 2, SIZES)
    bad = _break_gt(roots, how)
    delivered, message = _delivered_before_error(_cfg(roots, prefetch_queue_depth=depth))
    assert delivered == BAD // 2
    assert bad in message


def test_a_value_missing_from_an_lmdb_comes_after_the_batches_before_it(tmp_path):
    import lmdb

    roots = make_nn_pairs(tmp_path, 2, SIZES, lmdb=True)
    with lmdb.open(roots["gt_lmdb"]) as env, env.begin(write=True) as txn:
        txn.delete(f"img{BAD:03d}".encode())
    cfg = _cfg(roots, io_backend={"type": "lmdb"}, dataroot_gt=roots["gt_lmdb"], dataroot_lq=roots["lq_lmdb"])
    # build_loader checks the keys; the value disappears afterwards, as from an LMDB rewritten under a loader
    with lmdb.open(roots["gt_lmdb"]) as env, env.begin(write=True) as txn:
        txn.put(f"img{BAD:03d}".encode(), b"\x89PNG\r\n\x1a\n")
    with dali_sr.build_loader(cfg, prefetch_queue_depth=3) as loader:
        delivered = 0
        with pytest.raises(DatasetError, match=f"img{BAD:03d}"):
            for _ in loader:
                delivered += 1
    assert delivered == BAD // 2


def test_a_bug_in_the_source_surfaces_as_itself(tmp_path, monkeypatch):
    roots = make_nn_pairs(tmp_path, 2, SIZES)
    original = PairedSource._read

    def buggy(self, i):
        if i == BAD:
            return [][i]  # an IndexError, as a bug in dali_sr would raise it
        return original(self, i)

    monkeypatch.setattr(PairedSource, "_read", buggy)
    with dali_sr.build_loader(_cfg(roots)) as loader:
        with pytest.raises(IndexError) as e:
            list(loader)
    assert any(frame.name == "buggy" for frame in e.traceback), "the traceback reaches the failing code"


def test_iterating_again_after_a_data_error_fails_the_same_way(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, SIZES)
    _break_gt(roots, "text")
    with dali_sr.build_loader(_cfg(roots)) as loader:
        messages = []
        for _ in range(2):
            with pytest.raises(DatasetError) as e:
                for _ in loader:
                    pass
            messages.append(str(e.value))
        assert loader.state_dict()["batch"] == BAD // 2
    assert messages[0] == messages[1]


# -- resuming ------------------------------------------------------------------------------------
@pytest.fixture
def state_and_roots(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, [(10, 12)] * 10, lmdb=True)
    cfg = paired_cfg(roots, 2, lmdb=True, batch_size_per_gpu=2)
    with dali_sr.build_loader(cfg) as loader:
        it = iter(loader)
        next(it)
        state = loader.state_dict()
    return state, roots, cfg


@pytest.mark.parametrize("change, key", [
    ({"batch_size_per_gpu": 3}, "batch_size"),
    ({"dataset_enlarge_ratio": 2}, "dataset_enlarge_ratio"),
    ({"shuffle": False}, "shuffle"),
    ({"drop_last": False}, "drop_last"),
    ({"seed": 5}, "seed"),
])
def test_load_state_dict_refuses_another_setting_naming_it(state_and_roots, change, key):
    state, _, cfg = state_and_roots
    with dali_sr.build_loader({**cfg, **change}) as loader:
        with pytest.raises(ConfigError) as e:
            loader.load_state_dict(state)
    message = one_line(str(e.value))
    assert f"state_dict was saved with {key}={state[key]!r}, this loader has {key}=" in message
    assert message.endswith("; resume with the config and data it was saved with")


def test_load_state_dict_refuses_another_type_and_another_dataset(state_and_roots, tmp_path):
    state, roots, cfg = state_and_roots
    with dali_sr.build_loader(cfg) as loader:
        with pytest.raises(ConfigError, match="saved with type='REDSDataset', this loader has type='PairedImageDataset'"):
            loader.load_state_dict({**state, "type": "REDSDataset"})
    other = make_nn_pairs(tmp_path / "other", 2, [(10, 12)] * 10, lmdb=True, tmpl="{}x2")  # other LQ names
    with dali_sr.build_loader({**cfg, "dataroot_lq": other["lq"], "dataroot_gt": other["gt"],
                               "io_backend": {"type": "disk"}, "filename_tmpl": "{}x2"}) as loader:
        with pytest.raises(ConfigError, match=r"state_dict was saved over other samples \(dataset [0-9a-f]{16}, this "
                                              r"loader's [0-9a-f]{16}: the keys differ\)"):
            loader.load_state_dict(state)


def test_set_epoch_keeps_only_the_restored_position(state_and_roots):
    state, _, cfg = state_and_roots
    with dali_sr.build_loader(cfg) as loader:
        reference = [b["gt_path"] for b in loader]
        loader.set_epoch(1)
        reference1 = [b["gt_path"] for b in loader]
    with dali_sr.build_loader(cfg) as loader:
        loader.load_state_dict(state)
        loader.set_epoch(0)  # the restored epoch: resume after batch 1
        assert [b["gt_path"] for b in loader] == reference[1:]
    with dali_sr.build_loader(cfg) as loader:
        loader.load_state_dict(state)
        loader.set_epoch(1)  # another epoch: from its first batch
        assert [b["gt_path"] for b in loader] == reference1
    with dali_sr.build_loader(cfg) as loader:
        next(iter(loader))  # part-way through epoch 0, not restored
        loader.set_epoch(0)
        assert [b["gt_path"] for b in loader] == reference


# -- environments and closing --------------------------------------------------------------------
def test_two_threads_opening_one_lmdb_share_one_environment(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, [(10, 12)] * 4, lmdb=True)
    base = SHARED_ENVS.open_count()
    for _ in range(20):  # the race needs both threads inside the first open at once
        storages = [LmdbStorage(roots["gt_lmdb"]) for _ in range(2)]
        shared = LmdbStorage(roots["gt_lmdb"])
        barrier = threading.Barrier(4)
        seen: list = []

        def read(store: LmdbStorage) -> None:
            barrier.wait()
            seen.append(bytes(store.get("img000")[:8]))

        threads = [threading.Thread(target=read, args=(s,)) for s in storages + [shared, shared]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert seen == [b"\x89PNG\r\n\x1a\n"] * 4
        assert SHARED_ENVS.open_count() == base + 1
        for store in storages + [shared]:
            store.close()
        assert SHARED_ENVS.open_count() == base, "an environment outlived every storage that opened it"


def test_a_closed_loader_refuses_to_iterate_and_leaks_nothing(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, [(10, 12)] * 4, lmdb=True)
    base = SHARED_ENVS.open_count()
    loader = dali_sr.build_loader(paired_cfg(roots, 2, lmdb=True, batch_size_per_gpu=2))
    next(iter(loader))
    loader.close()
    with pytest.raises(DaliSRError) as e:
        next(iter(loader))
    assert one_line(str(e.value)) == "nn: this loader was closed; build a new one with build_loader"
    assert SHARED_ENVS.open_count() == base


# -- BasicSR's floats, bit for bit -----------------------------------------------------------------
def _basicsr_float(path: str) -> np.ndarray:
    """BasicSR's `imfrombytes(..., float32=True)` then `img2tensor(bgr2rgb=True)`: CHW RGB float32."""
    import cv2

    img = cv2.imread(path, cv2.IMREAD_COLOR).astype(np.float32) / 255.
    return img[:, :, ::-1].transpose(2, 0, 1)


def _basicsr_y(path: str) -> np.ndarray:
    """BasicSR's `bgr2ycbcr(img, y_only=True)[..., None]` of the float image, as its code computes it."""
    import cv2

    img = cv2.imread(path, cv2.IMREAD_COLOR).astype(np.float32) / 255.
    y = np.dot(img, [24.966, 128.553, 65.481]) + 16.0
    y /= 255.
    return y.astype(np.float32)[None]


def test_validation_floats_equal_basicsr_bit_for_bit(tmp_path):
    rng = np.random.default_rng(1)
    roots = make_nn_pairs(tmp_path, 2, [(31, 17)], seed=int(rng.integers(100)))
    path = f"{roots['lq']}/img000.png"
    with dali_sr.build_loader(paired_cfg(roots, 2, phase="val")) as loader:
        rgb = next(iter(loader))["lq"][0].numpy()
    with dali_sr.build_loader(paired_cfg(roots, 2, phase="val", color="y")) as loader:
        y = next(iter(loader))["lq"][0].numpy()
    mean, std = [0.4488, 0.4371, 0.4040], [0.229, 0.224, 0.225]
    with dali_sr.build_loader(paired_cfg(roots, 2, phase="val", mean=mean, std=std)) as loader:
        normalized = next(iter(loader))["lq"][0]
    np.testing.assert_array_equal(rgb, _basicsr_float(path))
    np.testing.assert_array_equal(y, _basicsr_y(path))
    want = torch.from_numpy(_basicsr_float(path).copy())
    want.sub_(torch.tensor(mean)[:, None, None]).div_(torch.tensor(std)[:, None, None])  # torchvision's normalize
    assert torch.equal(normalized, want)
