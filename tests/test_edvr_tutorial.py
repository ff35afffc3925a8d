"""The EDVR tutorial as its users run it: `input/` and `gt/` clip folders of JPEG frames made from real photographs,
packed by `dali-sr pack --format edvr` (checked against EDVR's create_lmdb_mp.py written out here with cv2, lmdb and
pickle) or `--codec source`, and its EDVR option file (mode REDS, GT_size == LQ_size) loaded unchanged, its batches
equal to EDVR's REDSDataset arithmetic applied to the loader's draws."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import lmdb
import numpy as np
import pytest

import dali_sr
from dali_sr.errors import DatasetError
from dali_sr.prep.pack import pack, partial_path

from conftest import BASICSR_FIXTURES

REPO = Path(__file__).resolve().parents[1]


def photographs() -> list[np.ndarray]:
    """The two BasicSR test photographs (baboon 480x492, comic 360x240), BGR."""
    env = lmdb.open(str(BASICSR_FIXTURES / "gt.lmdb"), readonly=True, lock=False)
    try:
        with env.begin() as txn:
            return [cv2.imdecode(np.frombuffer(txn.get(k), np.uint8), cv2.IMREAD_COLOR) for k in (b"baboon", b"comic")]
    finally:
        env.close()


def make_tutorial(root: Path, frames: int, h: int, w: int, clips: int = 2, width: int = 6, scale: int = 1,
                  ext: str = ".jpg") -> Path:
    """EDVR's tutorial layout under `root`: `gt/<clip>/<frame>.jpg` (sharp, a camera panning over a photograph) and
    `input/<clip>/<frame>.jpg` (blurred; `scale` > 1: also downscaled), `width`-digit names."""
    photos = photographs()
    for c in range(clips):
        photo = photos[c % len(photos)]
        big = cv2.copyMakeBorder(photo, 0, max(0, h + 2 * frames - photo.shape[0]), 0,
                                 max(0, w + 3 * frames - photo.shape[1]), cv2.BORDER_REFLECT)
        for f in range(frames):
            gt = np.ascontiguousarray(big[2 * f:2 * f + h, 3 * f:3 * f + w])
            lq = cv2.GaussianBlur(gt, (7, 7), 1.6)
            if scale > 1:
                lq = cv2.resize(lq, (w // scale, h // scale), interpolation=cv2.INTER_AREA)
            name = f"{c:0{width}d}/{f:0{width}d}{ext}"
            for side, img in (("gt", gt), ("input", lq)):
                path = root / side / name
                path.parent.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return root


def edvr_reference_lmdb(img_folder: Path, lmdb_save_path: Path, name: str) -> None:
    """EDVR's create_lmdb_mp.py REDS(), as its tutorial edits it (the frames' own extension split off)."""
    all_img_list = []
    for dirpath, _, fnames in sorted(os.walk(img_folder)):
        for fname in sorted(fnames):
            all_img_list.append(os.path.join(dirpath, fname))
    keys = []
    for img_path in all_img_list:
        split_rlt = img_path.split("/")
        keys.append(split_rlt[-2] + "_" + os.path.splitext(split_rlt[-1])[0])
    first = cv2.imread(all_img_list[0], cv2.IMREAD_UNCHANGED)
    env = lmdb.open(str(lmdb_save_path), map_size=first.nbytes * len(all_img_list) * 10)
    txn = env.begin(write=True)
    for path, key in zip(all_img_list, keys):
        data = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        assert data.shape == first.shape
        txn.put(key.encode("ascii"), data)
    txn.commit()
    env.close()
    H, W, C = first.shape
    meta_info = {"name": name, "resolution": f"{C}_{H}_{W}", "keys": keys}
    pickle.dump(meta_info, open(os.path.join(lmdb_save_path, "meta_info.pkl"), "wb"))


def lmdb_items(path: Path) -> list[tuple[bytes, bytes]]:
    env = lmdb.open(str(path), readonly=True, lock=False)
    try:
        with env.begin() as txn:
            return [(bytes(k), bytes(v)) for k, v in txn.cursor()]
    finally:
        env.close()


# -- pack --format edvr ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("width,ext", [(6, ".jpg"), (8, ".png")])
def test_pack_edvr_equals_edvr_script_byte_for_byte(tmp_path, width, ext):
    make_tutorial(tmp_path, frames=4, h=24, w=32, clips=3, width=width, ext=ext)
    for side in ("input", "gt"):
        ours, ref = tmp_path / f"{side}.lmdb", tmp_path / "ref" / f"{side}.lmdb"
        ref.parent.mkdir(exist_ok=True)
        report = pack(str(tmp_path / side), str(ours), fmt="edvr", progress=False, workers=2)
        edvr_reference_lmdb(tmp_path / side, ref, side)
        assert report.images == 12
        assert lmdb_items(ours) == lmdb_items(ref)
        assert (ours / "meta_info.pkl").read_bytes() == (ref / "meta_info.pkl").read_bytes()
        assert sorted(p.name for p in ours.iterdir()) == ["data.mdb", "lock.mdb", "meta_info.pkl"]
        meta = pickle.loads((ours / "meta_info.pkl").read_bytes())
        assert meta["keys"][:2] == [f"{0:0{width}d}_{0:0{width}d}", f"{0:0{width}d}_{1:0{width}d}"]
        assert meta["resolution"] == "3_24_32"


def test_a_frame_of_another_shape_is_named_and_nothing_is_left(tmp_path):
    make_tutorial(tmp_path, frames=4, h=24, w=32)
    odd = tmp_path / "gt" / "000001" / "000002.jpg"
    cv2.imwrite(str(odd), np.zeros((24, 30, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "gt" / "000001" / "000003.jpg"), np.zeros((20, 32, 3), np.uint8))
    with pytest.raises(DatasetError) as e:
        pack(str(tmp_path / "gt"), str(tmp_path / "gt.lmdb"), fmt="edvr", progress=False)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(odd)) and "24x30 differs from 24x32" in msg
    assert str(tmp_path / "gt" / "000000" / "000000.jpg") in msg  # the first frame, whose shape rules
    assert not (tmp_path / "gt.lmdb").exists() and not partial_path(str(tmp_path / "gt.lmdb")).exists()


def test_a_gray_frame_of_the_same_size_is_named_after_writing_began_and_nothing_is_left(tmp_path):
    make_tutorial(tmp_path, frames=3, h=24, w=32)
    gray = tmp_path / "gt" / "000001" / "000001.png"
    (tmp_path / "gt" / "000001" / "000001.jpg").unlink()
    cv2.imwrite(str(gray), np.zeros((24, 32), np.uint8))
    with pytest.raises(DatasetError, match=r"000001\.png: 1 channel\(s\)"):
        pack(str(tmp_path / "gt"), str(tmp_path / "gt.lmdb"), fmt="edvr", progress=False)
    assert not (tmp_path / "gt.lmdb").exists() and not partial_path(str(tmp_path / "gt.lmdb")).exists()


@pytest.mark.parametrize("option,value", [("codec", "jpeg"), ("preset", "reds"), ("shards", 2), ("resume", True)])
def test_options_that_do_not_apply_to_edvr_are_refused(tmp_path, option, value):
    make_tutorial(tmp_path, frames=3, h=24, w=32, clips=1)
    with pytest.raises(dali_sr.ConfigError, match="edvr"):
        pack(str(tmp_path / "gt"), str(tmp_path / "gt.lmdb"), fmt="edvr", progress=False, **{option: value})


def test_a_killed_pack_leaves_no_loadable_dataset(tmp_path):
    """The process dies after every value is written, before meta_info.pkl: DST does not exist and DST.partial is
    refused by the loader; a rerun needs --force and then finishes."""
    make_tutorial(tmp_path, frames=3, h=24, w=32, clips=1)
    dst = tmp_path / "gt.lmdb"
    script = textwrap.dedent(f"""
        import os
        from dali_sr.prep import edvr_lmdb
        edvr_lmdb._write_meta = lambda folder, meta: os._exit(9)
        from dali_sr.prep.pack import pack
        pack({str(tmp_path / 'gt')!r}, {str(dst)!r}, fmt="edvr", progress=False)
    """)
    run = subprocess.run([sys.executable, "-c", script], env={**os.environ, "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True)
    assert run.returncode == 9, run.stderr
    partial = partial_path(str(dst))
    assert not dst.exists() and (partial / "data.mdb").is_file() and not (partial / "meta_info.pkl").exists()
    assert len(lmdb_items(partial)) == 3
    section = {"type": "REDSDataset", "scale": 1, "dataroot_gt": str(partial), "dataroot_lq": str(partial),
               "io_backend": {"type": "lmdb"}, "num_frame": 3, "gt_size": 16, "device": "cpu"}
    with pytest.raises(DatasetError, match="still being written"):
        dali_sr.build_loader(section)
    with pytest.raises(DatasetError, match="--force"):
        pack(str(tmp_path / "gt"), str(dst), fmt="edvr", progress=False)
    pack(str(tmp_path / "gt"), str(dst), fmt="edvr", progress=False, force=True)
    assert (dst / "meta_info.pkl").is_file() and not partial.exists()


def test_force_replaces_an_edvr_lmdb_and_nothing_else(tmp_path):
    make_tutorial(tmp_path, frames=3, h=24, w=32, clips=1)
    dst = tmp_path / "gt.lmdb"
    pack(str(tmp_path / "gt"), str(dst), fmt="edvr", progress=False)
    with pytest.raises(DatasetError, match="already exists; pass --force"):
        pack(str(tmp_path / "gt"), str(dst), fmt="edvr", progress=False)
    cv2.imwrite(str(tmp_path / "gt" / "000000" / "000003.jpg"), np.zeros((24, 32, 3), np.uint8))
    pack(str(tmp_path / "gt"), str(dst), fmt="edvr", progress=False, force=True)
    assert len(pickle.loads((dst / "meta_info.pkl").read_bytes())["keys"]) == 4
    (tmp_path / "other.lmdb").mkdir()
    (tmp_path / "other.lmdb" / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="other.lmdb is not an EDVR LMDB folder .*notes.txt"):
        pack(str(tmp_path / "gt"), str(tmp_path / "other.lmdb"), fmt="edvr", progress=False, force=True)
    with pytest.raises(dali_sr.ConfigError, match="must end with '.lmdb'"):
        pack(str(tmp_path / "gt"), str(tmp_path / "gt_lmdb"), fmt="edvr", progress=False)


def test_cli_pack_format_edvr(tmp_path):
    make_tutorial(tmp_path, frames=3, h=24, w=32, clips=1)
    run = subprocess.run([sys.executable, "-m", "dali_sr", "pack", str(tmp_path / "gt"), str(tmp_path / "gt.lmdb"),
                          "--format", "edvr", "--quiet"], env={**os.environ, "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "packed 3 images" in run.stdout
    edvr_reference_lmdb(tmp_path / "gt", tmp_path / "ref.lmdb", "gt")
    assert lmdb_items(tmp_path / "gt.lmdb") == lmdb_items(tmp_path / "ref.lmdb")


# -- the tutorial's option file ----------------------------------------------------------------------------------
def option_file(folder: Path, gt: str, lq: str, gt_size: int, lq_size: int, n_frames: int, batch: int,
                intervals=(1,), reverse=False, scale: int = 4, cache_keys: str = "meta_info.pkl",
                border_mode: bool = False, color: str = "RGB") -> Path:
    """The tutorial's option file: EDVR's train_EDVR_woTSA_M.yml with its dataset section edited."""
    path = folder / "options" / "train" / "train_EDVR_woTSA_M.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(f"""\
        #### general settings
        name: 001_EDVRwoTSA_scratch_lr4e-4_600k_custom_deblur
        use_tb_logger: true
        model: VideoSR_base
        distortion: sr
        scale: {scale}
        gpu_ids: [0]

        #### datasets
        datasets:
          train:
            name: custom
            mode: REDS
            interval_list: {list(intervals)}
            random_reverse: {str(reverse).lower()}
            border_mode: {str(border_mode).lower()}
            dataroot_GT: {gt}
            dataroot_LQ: {lq}
            cache_keys: {cache_keys}

            N_frames: {n_frames}
            use_shuffle: true
            n_workers: 2  # per GPU
            batch_size: {batch}
            GT_size: {gt_size}
            LQ_size: {lq_size}
            use_flip: true
            use_rot: true
            color: {color}

        #### network structures
        network_G:
          which_model_G: EDVR
          nf: 64
          nframes: {n_frames}
          groups: 8
          front_RBs: 5
          back_RBs: 10
          predeblur: true
          HR_in: {str(gt_size == lq_size).lower()}
          w_TSA: false

        #### path
        path:
          pretrain_model_G: ~
          strict_load: true
          resume_state: ~

        #### training settings: learning rate scheme, loss
        train:
          lr_G: !!float 4e-4
          lr_scheme: CosineAnnealingLR_Restart
          niter: 600000
          pixel_criterion: cb
          manual_seed: 0
          val_freq: !!float 5e3
        """))
    return path


def edvr_sample(loader, frames: dict, slot: int, plan, opts: dict) -> tuple[np.ndarray, np.ndarray, str]:
    """One sample as EDVR's REDSDataset.__getitem__ computes it (LMDB branch), with its random choices taken from
    the loader's draws: the interval, the replacement centre (EDVR redraws until the window fits: uniform among
    those that fit) or with border_mode the direction, the reversal, the crop corner and the three flips."""
    ix = loader.index
    i = int(plan.indices[slot])
    ci = int(ix.sample_clip[i])
    name_a, count = ix.clips[ci], ix.count(ci)
    center_frame_idx = int(ix.sample_frame[i])
    u_interval, u_centre, u_reverse = plan.clip_draws[slot]
    intervals = opts["interval_list"]
    interval = intervals[min(int(u_interval * len(intervals)), len(intervals) - 1)]
    half, N_frames = opts["N_frames"] // 2, opts["N_frames"]
    if opts.get("border_mode"):
        # EDVR: `random() < 0.5`, then `choice([0, 1])`; given the first, 2 * u_reverse is the second uniform
        direction = 1  # 1: forward; 0: backward
        if opts["random_reverse"] and u_reverse < 0.5:
            direction = [0, 1][min(int(2 * u_reverse * 2), 1)]
        if center_frame_idx + interval * (N_frames - 1) > count - 1:  # EDVR's `> 99`
            direction = 0
        elif center_frame_idx - interval * (N_frames - 1) < 0:
            direction = 1
        if direction == 1:
            neighbor_list = list(range(center_frame_idx, center_frame_idx + interval * N_frames, interval))
        else:
            neighbor_list = list(range(center_frame_idx, center_frame_idx - interval * N_frames, -interval))
        center_frame_idx = neighbor_list[0]  # EDVR's name_b; its LMDB branch reads `key`: the same frame
    else:
        if center_frame_idx + half * interval > count - 1 or center_frame_idx - half * interval < 0:
            fits = list(range(half * interval, count - half * interval))
            center_frame_idx = fits[min(int(u_centre * len(fits)), len(fits) - 1)]
        neighbor_list = list(range(center_frame_idx - half * interval, center_frame_idx + half * interval + 1,
                                   interval))
        if opts["random_reverse"] and u_reverse < 0.5:
            neighbor_list.reverse()
    assert all(0 <= v < count for v in neighbor_list)  # the window stays in its clip, of any length
    width = len(ix.stems[ci][0])
    name_b = f"{center_frame_idx:0{width}d}"
    img_GT = frames["gt"][f"{name_a}_{name_b}"].astype(np.float32) / 255.
    img_LQ_l = [frames["lq"][f"{name_a}_{v:0{width}d}"].astype(np.float32) / 255. for v in neighbor_list]
    img_LQs, img_GT = edvr_crop_augment(img_LQ_l, img_GT, slot, plan, opts)
    return img_LQs, img_GT, f"{name_a}_{name_b}"


def edvr_crop_augment(img_LQ_l: list, img_GT: np.ndarray, slot: int, plan, opts: dict) -> tuple:
    """The training half of EDVR's REDS and Vimeo90K `__getitem__` (one crop corner, then flip and rotate shared by
    every frame, then RGB CHW) on the loader's draws for `slot`: (LQs (N, C, h, w), GT (C, H, W))."""
    GT_size, scale = opts["GT_size"], opts["scale"]
    H, W = img_LQ_l[0].shape[:2]
    u_h, u_w = plan.uniforms[slot]
    if GT_size != opts["LQ_size"]:  # LR input
        LQ_size = GT_size // scale
        rnd_h, rnd_w = int(u_h * (H - LQ_size + 1)), int(u_w * (W - LQ_size + 1))
        img_LQ_l = [v[rnd_h:rnd_h + LQ_size, rnd_w:rnd_w + LQ_size, :] for v in img_LQ_l]
        img_GT = img_GT[rnd_h * scale:rnd_h * scale + GT_size, rnd_w * scale:rnd_w * scale + GT_size, :]
    else:
        rnd_h, rnd_w = int(u_h * (H - GT_size + 1)), int(u_w * (W - GT_size + 1))
        img_LQ_l = [v[rnd_h:rnd_h + GT_size, rnd_w:rnd_w + GT_size, :] for v in img_LQ_l]
        img_GT = img_GT[rnd_h:rnd_h + GT_size, rnd_w:rnd_w + GT_size, :]
    hflip, vflip, rot90 = plan.flips[slot]
    hflip, vflip, rot90 = opts["use_flip"] and hflip, opts["use_rot"] and vflip, opts["use_rot"] and rot90

    def _augment(img):
        if hflip:
            img = img[:, ::-1, :]
        if vflip:
            img = img[::-1, :, :]
        if rot90:
            img = img.transpose(1, 0, 2)
        return img

    img_LQ_l.append(img_GT)
    rlt = [_augment(img) for img in img_LQ_l]
    img_LQs, img_GT = np.stack(rlt[:-1], axis=0), rlt[-1]
    img_GT = np.transpose(img_GT[:, :, [2, 1, 0]], (2, 0, 1))
    img_LQs = np.transpose(img_LQs[:, :, :, [2, 1, 0]], (0, 3, 1, 2))
    return img_LQs, img_GT


def read_frames(root: Path) -> dict:
    """Every frame as EDVR's LMDB script stores it (`cv2.imread(path, IMREAD_UNCHANGED)`), by EDVR key."""
    frames = {}
    for side, folder in (("gt", "gt"), ("lq", "input")):
        frames[side] = {f"{p.parent.name}_{p.stem}": cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
                        for p in (root / folder).glob("*/*")}
    return frames


def equal_to_edvr(loader, frames: dict, opts: dict, epochs: int, levels: int = 0) -> list[dict]:
    """The loader's batches of `epochs` epochs, each sample checked to equal `edvr_sample` (within `levels` of
    255: exactly by default)."""
    batches = []
    for e in range(epochs):
        loader.set_epoch(e)
        plan = loader.sampling.plan(e)
        for b, out in enumerate(loader):
            rows = range(*plan.batch(b).indices(len(plan.indices)))
            patch = opts["GT_size"] // opts["scale"]
            assert out["lq"].shape == (len(rows), opts["N_frames"], 3, patch, patch)
            for k, slot in enumerate(rows):
                lqs, gt, key = edvr_sample(loader, frames, slot, plan, opts)
                assert out["key"][k].replace("/", "_") == key
                for got, want in ((out["lq"][k].numpy(), lqs), (out["gt"][k].numpy(), gt)):
                    if levels:
                        np.testing.assert_allclose(got, want, rtol=0, atol=(levels + 0.01) / 255)
                    else:
                        np.testing.assert_array_equal(got, want)
            batches.append(out)
    return batches


TUTORIAL_CASES = {
    # frames per clip, h, w, clips, name width, scale, GT_size, LQ_size, N_frames, batch, intervals, reverse
    "deblur_small": (7, 40, 56, 3, 6, 1, 32, 32, 3, 4, (1, 2), True),
    "sr_x4_8_digit_names": (6, 48, 64, 2, 8, 4, 32, 8, 3, 3, (1,), False),
    "deblur_480x640": (5, 480, 640, 1, 6, 1, 256, 256, 5, 2, (1,), False),
}


@pytest.mark.parametrize("case", list(TUTORIAL_CASES))
def test_tutorial_option_file_gives_edvr_reds_batches(tmp_path, monkeypatch, case):
    count, h, w, clips, width, scale, gt_size, lq_size, n_frames, batch, intervals, reverse = TUTORIAL_CASES[case]
    data = make_tutorial(tmp_path / "datasets" / "custom", count, h, w, clips=clips, width=width, scale=scale)
    for side, name in (("gt", "train_gt.lmdb"), ("input", "train_input.lmdb")):
        pack(str(data / side), str(data / name), fmt="edvr", progress=False)
    monkeypatch.chdir(tmp_path)  # EDVR's dataroots are relative to where training starts
    opt = option_file(tmp_path, "datasets/custom/train_gt.lmdb", "datasets/custom/train_input.lmdb", gt_size,
                      lq_size, n_frames, batch, intervals, reverse, scale=4 if scale == 1 else scale)
    opts = {"interval_list": list(intervals), "random_reverse": reverse, "N_frames": n_frames, "GT_size": gt_size,
            "LQ_size": lq_size, "scale": scale, "use_flip": True, "use_rot": True}
    with dali_sr.build_loader(str(opt), device="cpu", num_threads=2) as loader:
        assert loader.cfg.batch_size == batch and loader.cfg.scale == scale and loader.cfg.shuffle
        assert len(loader.index) == clips * count  # a sample per frame: the frame count comes from the keys
        batches = equal_to_edvr(loader, read_frames(data), opts, epochs=2 if count * clips < 12 else 1)
    assert sum(len(b["key"]) for b in batches) >= clips * count - batch


@pytest.mark.parametrize("count, intervals, reverse, n_frames, color", [
    (10, (1, 2), True, 3, "RGB"),
    (8, (1,), False, 5, "gray"),  # 8 frames: the fewest for 5-frame windows both ways; color gray gives RGB, as
                                  # EDVR's video datasets (they never read color) give it
])
def test_border_mode_windows_run_from_the_key_frame_as_edvr(tmp_path, monkeypatch, count, intervals, reverse,
                                                             n_frames, color):
    """border_mode: true: the window starts at the key frame and runs forward (backward at the clip's end, or a
    quarter of the time with random_reverse); the GT is the key frame on both EDVR branches."""
    data = make_tutorial(tmp_path / "datasets" / "custom", count, 40, 56, clips=2)
    for side, name in (("gt", "train_gt.lmdb"), ("input", "train_input.lmdb")):
        pack(str(data / side), str(data / name), fmt="edvr", progress=False)
    monkeypatch.chdir(tmp_path)
    opt = option_file(tmp_path, "datasets/custom/train_gt.lmdb", "datasets/custom/train_input.lmdb", 32, 32,
                      n_frames, 4, intervals, reverse, border_mode=True, color=color)
    opts = {"interval_list": list(intervals), "random_reverse": reverse, "N_frames": n_frames, "GT_size": 32,
            "LQ_size": 32, "scale": 1, "use_flip": True, "use_rot": True, "border_mode": True}
    frames = read_frames(data)
    with dali_sr.build_loader(str(opt), device="cpu", num_threads=2) as loader:
        assert loader.index.rules.window.name == "from_key" and len(loader.index) == 2 * count
        batches = equal_to_edvr(loader, frames, opts, epochs=3)
    keys = [k for b in batches for k in b["key"]]
    assert sorted(set(keys)) == sorted(f"{c:06d}_{f:06d}" for c in range(2) for f in range(count))
    if reverse:  # the draws took the drawn-backward branch at key frames where both directions fit
        drawn_back = [s for e in range(3) for s, (i, d) in enumerate(zip(loader.sampling.plan(e).indices,
                                                                             loader.sampling.plan(e).clip_draws))
                      if d[2] < 0.25 and d[0] < 0.5 and 2 <= loader.index.sample_frame[i] <= count - 3]  # interval 1
        assert drawn_back


def test_border_mode_refuses_a_clip_too_short_for_both_directions(tmp_path, monkeypatch):
    data = make_tutorial(tmp_path / "datasets" / "custom", 7, 24, 32, clips=1)
    monkeypatch.chdir(tmp_path)
    opt = option_file(tmp_path, "datasets/custom/gt", "datasets/custom/input", 16, 16, 3, 2, (1, 2), True,
                      border_mode=True, cache_keys="~")
    with pytest.raises(DatasetError, match="clip 000000 .* has 7 frame.*fewer than the 8 that num_frame 3 with "
                                           "interval_list \\[1, 2\\] needs"):
        dali_sr.build_loader(str(opt), device="cpu")


def test_tutorial_option_file_on_the_jpeg_folders_and_on_source_lmdbs_agree(tmp_path, monkeypatch):
    """`pack --codec source` keeps each JPEG as it is (the LMDB value is the file), and the option file reads the
    same batches from those LMDBs as from the folders themselves, both equal to EDVR's arithmetic."""
    data = make_tutorial(tmp_path / "datasets" / "custom", 6, 40, 56, clips=2)
    for side in ("gt", "input"):
        report = pack(str(data / side), str(data / f"{side}_src.lmdb"), preset="reds", codec="source",
                      progress=False)
        assert report.tag == "jpeg:source" and report.codec == "jpeg"
        stored = dict(lmdb_items(data / f"{side}_src.lmdb"))
        files = sorted((data / side).glob("*/*.jpg"))
        assert len(stored) == len(files) == 12
        for path in files:
            assert stored[f"{path.parent.name}/{path.stem}".encode()] == path.read_bytes()
        lines = (data / f"{side}_src.lmdb" / "meta_info.txt").read_text().splitlines()
        assert lines[0] == "000000/000000.jpg (40,56,3) jpeg:source"
    monkeypatch.chdir(tmp_path)
    opts = {"interval_list": [1, 2], "random_reverse": True, "N_frames": 3, "GT_size": 32, "LQ_size": 32,
            "scale": 1, "use_flip": True, "use_rot": True}
    frames = read_frames(data)
    batches = {}
    for how, gt, lq in (("folders", "datasets/custom/gt", "datasets/custom/input"),
                        ("lmdb", "datasets/custom/gt_src.lmdb", "datasets/custom/input_src.lmdb")):
        opt = option_file(tmp_path / how, gt, lq, 32, 32, 3, 4, (1, 2), True, cache_keys="~")
        with dali_sr.build_loader(str(opt), device="cpu", num_threads=2) as loader:
            # EDVR's arithmetic on cv2.imread pixels; DALI decodes a JPEG window from its own blocks, within a level
            batches[how] = equal_to_edvr(loader, frames, opts, epochs=2, levels=1)
    assert len(batches["lmdb"]) == len(batches["folders"]) == 6
    for a, b in zip(batches["folders"], batches["lmdb"]):
        assert a["key"] == b["key"] and all(k.startswith("00000") and "/" in k for k in a["key"])
        assert a["lq"].equal(b["lq"]) and a["gt"].equal(b["gt"])


def test_codec_source_refuses_mixed_codecs_naming_the_file(tmp_path):
    make_tutorial(tmp_path, frames=3, h=24, w=32, clips=1)
    odd = tmp_path / "gt" / "000000" / "000001.png"
    (tmp_path / "gt" / "000000" / "000001.jpg").unlink()
    cv2.imwrite(str(odd), np.zeros((24, 32, 3), np.uint8))
    with pytest.raises(DatasetError, match=r"000001\.png is png but .*000000\.jpg is jpeg"):
        pack(str(tmp_path / "gt"), str(tmp_path / "gt.lmdb"), preset="reds", codec="source", progress=False)
    assert not (tmp_path / "gt.lmdb").exists()


def test_codec_source_resumes_an_interrupted_pack_and_keeps_its_codec(tmp_path, monkeypatch):
    from dali_sr.prep import pack as pack_mod

    make_tutorial(tmp_path, frames=4, h=24, w=32, clips=2)
    dst = tmp_path / "gt.lmdb"
    real, calls = pack_mod._encode_file, [0]

    def crash_after_five(path, encoding):
        calls[0] += 1
        if calls[0] > 5:
            raise RuntimeError("simulated crash")
        return real(path, encoding)

    monkeypatch.setattr(pack_mod, "_encode_file", crash_after_five)
    with pytest.raises(RuntimeError, match="simulated crash"):
        pack(str(tmp_path / "gt"), str(dst), preset="reds", codec="source", workers=1, commit_every=1,
             progress=False)
    monkeypatch.undo()
    assert not dst.exists() and len(lmdb_items(partial_path(str(dst)))) == 5
    with pytest.raises(dali_sr.ConfigError, match="packed as jpeg:source .*not jpeg:q95"):
        pack(str(tmp_path / "gt"), str(dst), preset="reds", codec="jpeg", lossy=True, resume=True, progress=False)
    report = pack(str(tmp_path / "gt"), str(dst), preset="reds", codec="source", resume=True, progress=False)
    assert (report.resumed, report.written, report.tag) == (5, 3, "jpeg:source")
    files = sorted((tmp_path / "gt").glob("*/*.jpg"))
    assert [v for _, v in lmdb_items(dst)] == [p.read_bytes() for p in files]
