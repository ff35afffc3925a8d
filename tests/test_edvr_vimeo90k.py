"""Vimeo90K LMDBs written by old EDVR's own scripts: raw BGR frames keyed `00001_0001_4`, and a `meta_info.pkl`
whose keys are the clip names (a set in create_lmdb_mp.py, `list(key_set)` in create_lmdb.py). An EDVR option file
with `mode: Vimeo90K` reads them unchanged; its batches equal EDVR's Vimeo90KDataset arithmetic on the loader's
draws. The scripts are written out here with cv2, lmdb and pickle."""
from __future__ import annotations

import glob
import os.path as osp
import pickle
import textwrap
from pathlib import Path

import cv2
import lmdb
import numpy as np
import pytest

import dali_sr
from dali_sr.errors import DatasetError
from dali_sr.storage.meta_files import read_lmdb_meta

from test_edvr_tutorial import edvr_crop_augment, photographs

CLIPS = ("00001/0001", "00001/0002", "00002/0001")


def make_septuplets(root: Path, h: int, w: int, scale: int) -> Path:
    """Vimeo90K's layout under `root`: `sequences/<a>/<b>/im1..7.png` (GT, a camera panning over a photograph),
    `sequences_LRx{scale}/...` (area-downscaled), and `sep_trainlist.txt`."""
    photos = photographs()
    for c, clip in enumerate(CLIPS):
        photo = photos[c % len(photos)]
        for f in range(7):
            gt = np.ascontiguousarray(photo[3 * f + c:3 * f + c + h, 2 * f:2 * f + w])
            lq = cv2.resize(gt, (w // scale, h // scale), interpolation=cv2.INTER_AREA)
            for folder, img in (("sequences", gt), (f"sequences_LRx{scale}", lq)):
                path = root / folder / clip / f"im{f + 1}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(path), img)
    (root / "sep_trainlist.txt").write_text("".join(f"{clip}\n" for clip in CLIPS))
    return root


def edvr_vimeo90k_lmdb(img_folder: Path, lmdb_save_path: Path, txt_file: Path, mode: str, as_set: bool) -> None:
    """EDVR's vimeo90k(): GT keeps only im4 (`_4` keys), LR all seven; `meta_info.pkl`'s keys are the clip names,
    a set (create_lmdb_mp.py) or `list(key_set)` (create_lmdb.py)."""
    with open(txt_file) as f:
        train_l = [v.strip() for v in f.readlines()]
    all_img_list, keys = [], []
    for line in train_l:
        folder, sub_folder = line.split("/")[0], line.split("/")[1]
        all_img_list.extend(glob.glob(osp.join(img_folder, folder, sub_folder, "*")))
        for j in range(7):
            keys.append("{}_{}_{}".format(folder, sub_folder, j + 1))
    all_img_list, keys = sorted(all_img_list), sorted(keys)
    if mode == "GT":
        all_img_list = [v for v in all_img_list if v.endswith("im4.png")]
        keys = [v for v in keys if v.endswith("_4")]
    first = cv2.imread(all_img_list[0], cv2.IMREAD_UNCHANGED)
    env = lmdb.open(str(lmdb_save_path), map_size=max(first.nbytes * len(all_img_list) * 10, 1 << 24))  # tiny frames
    txn = env.begin(write=True)
    for path, key in zip(all_img_list, keys):
        data = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        assert data.shape == first.shape
        txn.put(key.encode("ascii"), data)
    txn.commit()
    env.close()
    H, W, C = first.shape
    key_set = set()
    for key in keys:
        a, b, _ = key.split("_")
        key_set.add("{}_{}".format(a, b))
    meta_info = {"name": f"Vimeo90K_train_{mode}", "resolution": f"{C}_{H}_{W}",
                 "keys": key_set if as_set else list(key_set)}
    # EDVR ran on Python 3.6/3.7, whose default protocol 3 names `builtins.set` for a set
    pickle.dump(meta_info, open(osp.join(lmdb_save_path, "meta_info.pkl"), "wb"), protocol=3)


def option_file(folder: Path, gt: Path, lq: Path, n_frames: int, gt_size: int, batch: int) -> Path:
    """EDVR's train_EDVR_M.yml with its train section in Vimeo90K mode (interval_list and random_reverse are
    given, and ignored by EDVR's Vimeo90K dataset)."""
    path = folder / "train_EDVR_Vimeo.yml"
    path.write_text(textwrap.dedent(f"""\
        name: EDVR_Vimeo90K
        model: video_base
        scale: 4
        datasets:
          train:
            name: Vimeo90K
            mode: Vimeo90K
            interval_list: [1]
            random_reverse: true
            border_mode: false
            dataroot_GT: {gt}
            dataroot_LQ: {lq}
            cache_keys: ~
            N_frames: {n_frames}
            use_shuffle: true
            n_workers: 2
            batch_size: {batch}
            GT_size: {gt_size}
            LQ_size: {gt_size // 4}
            use_flip: true
            use_rot: true
            color: RGB
        train:
          manual_seed: 10
        """))
    return path


def stored(path: Path) -> dict:
    """Every value of an LMDB by key (read before the loader opens it: py-lmdb allows one handle per path)."""
    env = lmdb.open(str(path), readonly=True, lock=False)
    try:
        with env.begin() as txn:
            return {bytes(k).decode(): bytes(v) for k, v in txn.cursor()}
    finally:
        env.close()


def edvr_vimeo_sample(loader, values: dict, slot: int, plan, opts: dict, sizes: dict) -> tuple:
    """One sample as EDVR's Vimeo90KDataset.__getitem__ computes it (LMDB branch) on the loader's draws."""
    key = loader.index.clips[int(plan.indices[slot])]
    LQ_frames_list = [i + (9 - opts["N_frames"]) // 2 for i in range(opts["N_frames"])]

    def read_img(side, k, size):  # EDVR's _read_img_lmdb, then read_img's scaling
        C, H, W = size
        return np.frombuffer(values[side][k], dtype=np.uint8).reshape(H, W, C).astype(np.float32) / 255.

    img_GT = read_img("gt", key + "_4", sizes["gt"])
    img_LQ_l = [read_img("lq", key + "_{}".format(v), sizes["lq"]) for v in LQ_frames_list]
    lqs, gt = edvr_crop_augment(img_LQ_l, img_GT, slot, plan, opts)
    return lqs, gt, key


@pytest.mark.parametrize("as_set, n_frames", [(True, 7), (False, 5), (True, 3)])
def test_edvr_vimeo90k_lmdbs_load_unchanged_with_edvr_batches(tmp_path, as_set, n_frames):
    h, w, scale, gt_size, batch = 48, 64, 4, 32, 2
    data = make_septuplets(tmp_path / "vimeo90k", h, w, scale)
    gt_lmdb, lq_lmdb = tmp_path / "vimeo90k_train_GT.lmdb", tmp_path / "vimeo90k_train_LR7frames.lmdb"
    edvr_vimeo90k_lmdb(data / "sequences", gt_lmdb, data / "sep_trainlist.txt", "GT", as_set)
    edvr_vimeo90k_lmdb(data / f"sequences_LRx{scale}", lq_lmdb, data / "sep_trainlist.txt", "LR", as_set)
    assert sorted(read_lmdb_meta(str(gt_lmdb)).keys) == ["00001_0001", "00001_0002", "00002_0001"]
    opts = {"N_frames": n_frames, "GT_size": gt_size, "LQ_size": gt_size // scale, "scale": scale,
            "use_flip": True, "use_rot": True}
    sizes = {"gt": (3, h, w), "lq": (3, h // scale, w // scale)}
    values = {"gt": stored(gt_lmdb), "lq": stored(lq_lmdb)}
    assert len(values["gt"]) == 3 and len(values["lq"]) == 21
    with dali_sr.build_loader(str(option_file(tmp_path, gt_lmdb, lq_lmdb, n_frames, gt_size, batch)),
                              device="cpu", num_threads=2) as loader:
        assert loader.cfg.type == "Vimeo90KDataset" and len(loader.index) == len(CLIPS)
        assert loader.index.lq_keys[0] == [f"00001_0001_{k}" for k in range(1, 8)]
        seen = []
        for e in range(3):
            loader.set_epoch(e)
            plan = loader.sampling.plan(e)
            for b, out in enumerate(loader):
                rows = range(*plan.batch(b).indices(len(plan.indices)))
                assert out["lq"].shape == (len(rows), n_frames, 3, gt_size // scale, gt_size // scale)
                for k, slot in enumerate(rows):
                    lqs, gt, key = edvr_vimeo_sample(loader, values, slot, plan, opts, sizes)
                    assert out["key"][k] == key
                    np.testing.assert_array_equal(out["lq"][k].numpy(), lqs)
                    np.testing.assert_array_equal(out["gt"][k].numpy(), gt)
                    seen.append(key)
    assert sorted(set(seen)) == ["00001_0001", "00001_0002", "00002_0001"]


def test_a_listed_clip_without_frames_is_refused(tmp_path):
    data = make_septuplets(tmp_path / "vimeo90k", 16, 16, 4)
    gt_lmdb, lq_lmdb = tmp_path / "gt.lmdb", tmp_path / "lq.lmdb"
    edvr_vimeo90k_lmdb(data / "sequences", gt_lmdb, data / "sep_trainlist.txt", "GT", True)
    edvr_vimeo90k_lmdb(data / "sequences_LRx4", lq_lmdb, data / "sep_trainlist.txt", "LR", True)
    pkl = lq_lmdb / "meta_info.pkl"
    meta = pickle.loads(pkl.read_bytes())
    meta["keys"].add("00009_0009")
    pkl.write_bytes(pickle.dumps(meta, protocol=3))
    with pytest.raises(DatasetError, match=r"lq.lmdb: meta_info.pkl lists clip\(s\) 00009_0009 with no frames") as e:
        dali_sr.build_loader(str(option_file(tmp_path, gt_lmdb, lq_lmdb, 7, 16, 1)), device="cpu")
    assert "\n" not in str(e.value)


def test_a_set_of_anything_but_plain_values_is_refused(tmp_path):
    pkl = tmp_path / "meta_info.pkl"
    # protocol 2 spells a set as builtins.set applied to a list; a set built from a non-list is refused
    pkl.write_bytes(b"\x80\x02}X\x04\x00\x00\x00keyscbuiltins\nset\nX\x03\x00\x00\x00abc\x85Rs.")
    with pytest.raises(DatasetError, match="meta_info.pkl: refused to unpickle: the file holds a set made from str"):
        read_lmdb_meta(str(tmp_path))


@pytest.mark.parametrize("protocol", [0, 2, 3, 4, 5])
@pytest.mark.parametrize("kind", [set, frozenset, list])
def test_clip_names_are_read_from_a_set_or_list_at_every_protocol(tmp_path, protocol, kind):
    clips = ["00002_0001", "00001_0002", "00001_0001"]
    meta = {"name": "Vimeo90K_train_GT", "resolution": "3_256_448", "keys": kind(clips)}
    (tmp_path / "meta_info.pkl").write_bytes(pickle.dumps(meta, protocol=protocol))
    got = read_lmdb_meta(str(tmp_path))
    assert got.keys == (clips if kind is list else sorted(clips)) and got.raw_shape == (256, 448, 3)
