"""Vimeo90K's test set (`VideoTestVimeo90KDataset`) and its official clip lists (`sep_trainlist.txt`,
`sep_testlist.txt`), against a re-implementation of BasicSR's `VideoTestVimeo90KDataset` and `Vimeo90KDataset`
reading the same files."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

import dali_sr
from dali_sr.errors import ConfigError, DatasetError

SCALE = 4
CLIPS = ("00001/0266", "00001/0268", "00017/0001")
LQ_HW = (6, 10)


def _write_septuplets(root: Path, clips=CLIPS, frames=range(1, 8), seed: int = 0) -> dict[str, str]:
    """Vimeo90K's test layout: `lq/<clip>/im1.png` .. `im7.png` and GT (`scale` x the size) of random pixels."""
    rng = np.random.default_rng(seed)
    for clip in clips:
        for side, (h, w) in (("lq", LQ_HW), ("gt", (LQ_HW[0] * SCALE, LQ_HW[1] * SCALE))):
            folder = root / side / clip
            folder.mkdir(parents=True, exist_ok=True)
            for i in frames:
                cv2.imwrite(str(folder / f"im{i}.png"), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return {"lq": str(root / "lq"), "gt": str(root / "gt")}


def _basicsr_meta(path: Path, clips=CLIPS) -> str:
    """BasicSR's meta_info_Vimeo90K_test_GT.txt lines for `clips`."""
    path.write_text("".join(f"{c} 7 ({LQ_HW[0] * SCALE},{LQ_HW[1] * SCALE},3)\n" for c in clips))
    return str(path)


def _read_img_seq(paths: list[str]) -> np.ndarray:
    """BasicSR's `read_img_seq`: cv2.imread, /255 in float32, BGR -> RGB, HWC -> CHW, stacked."""
    return np.stack([(cv2.imread(p).astype(np.float32) / 255.0)[:, :, ::-1].transpose(2, 0, 1) for p in paths])


def basicsr_vimeo90k_test(opt: dict) -> list[dict]:
    """The samples of BasicSR's `VideoTestVimeo90KDataset(opt)`, in order, as its `__init__` and `__getitem__`
    compute them."""
    with open(opt["meta_info_file"]) as fin:
        subfolders = [line.split(" ")[0] for line in fin]
    neighbours = [i + (9 - opt["num_frame"]) // 2 for i in range(opt["num_frame"])]
    samples = []
    for idx, subfolder in enumerate(subfolders):
        lq_paths = [os.path.join(opt["dataroot_lq"], subfolder, f"im{i}.png") for i in neighbours]
        samples.append({"lq": _read_img_seq(lq_paths),
                        "gt": _read_img_seq([os.path.join(opt["dataroot_gt"], subfolder, "im4.png")])[0],
                        "folder": "vimeo90k", "idx": f"{idx}/{len(subfolders)}", "border": 0,
                        "lq_path": lq_paths[opt["num_frame"] // 2]})
    return samples


def _section(roots: dict, meta: str, **extra) -> dict:
    """BasicSR's test section for Vimeo90K (options/test/*/test_*_Vimeo90K.yml), on the CPU."""
    return {"name": "Vimeo90K", "type": "VideoTestVimeo90KDataset", "phase": "test", "dataroot_gt": roots["gt"],
            "dataroot_lq": roots["lq"], "meta_info_file": meta, "io_backend": {"type": "disk"},
            "cache_data": False, "num_frame": 7, "padding": "replicate", "scale": SCALE, "device": "cpu",
            "num_threads": 2, **extra}


def _ours(cfg: dict) -> list[dict]:
    with dali_sr.build_loader(cfg) as loader:
        return list(loader)


def _assert_same(ours: list[dict], reference: list[dict]) -> None:
    assert len(ours) == len(reference)
    for batch, ref in zip(ours, reference):
        assert batch["lq"].shape[0] == 1  # one clip per batch, as BasicSR's validation loader
        assert np.array_equal(batch["lq"][0].numpy(), ref["lq"])  # (T, C, h, w), bit for bit
        assert np.array_equal(batch["gt"][0].numpy(), ref["gt"])
        assert (batch["folder"], batch["idx"], batch["border"], batch["lq_path"]) == \
            ([ref["folder"]], [ref["idx"]], [ref["border"]], [ref["lq_path"]])


@pytest.fixture(scope="module")
def vimeo(tmp_path_factory) -> tuple[dict, str]:
    root = tmp_path_factory.mktemp("vimeo")
    return _write_septuplets(root), _basicsr_meta(root / "meta_info_Vimeo90K_test_GT.txt")


@pytest.mark.parametrize("num_frame", [1, 2, 3, 4, 5, 6, 7])
def test_each_clip_equals_basicsrs_video_test_vimeo90k_dataset(vimeo, num_frame):
    roots, meta = vimeo
    cfg = _section(roots, meta, num_frame=num_frame)
    _assert_same(_ours(cfg), basicsr_vimeo90k_test(cfg))


def test_the_official_test_list_gives_the_clips_of_basicsrs_meta_file(vimeo, tmp_path):
    roots, meta = vimeo
    listed = tmp_path / "sep_testlist.txt"
    listed.write_text("00017/0001\r\n00001/0266\r\n\r\n")  # Windows line ends and a blank last line, in file order
    in_order = _basicsr_meta(tmp_path / "meta.txt", ("00017/0001", "00001/0266"))
    reference = basicsr_vimeo90k_test(_section(roots, in_order))
    _assert_same(_ours(_section(roots, str(listed), num_frame=7)), reference)


def test_without_a_meta_file_the_clip_folders_are_scanned(vimeo):
    roots, meta = vimeo
    cfg = _section(roots, meta)
    _assert_same(_ours({**cfg, "meta_info_file": None}), basicsr_vimeo90k_test(cfg))


def test_gt_holding_only_im4_is_enough(tmp_path):
    roots = _write_septuplets(tmp_path, clips=CLIPS[:1])
    for i in (1, 2, 3, 5, 6, 7):
        (Path(roots["gt"]) / CLIPS[0] / f"im{i}.png").unlink()
    cfg = _section(roots, _basicsr_meta(tmp_path / "meta.txt", CLIPS[:1]), num_frame=5)
    _assert_same(_ours(cfg), basicsr_vimeo90k_test(cfg))


def test_training_and_bad_num_frame_are_refused(vimeo):
    roots, meta = vimeo
    with pytest.raises(ConfigError, match="VideoTestVimeo90KDataset is for validation/test"):
        dali_sr.load_config({**_section(roots, meta), "phase": "train", "gt_size": 8})
    with pytest.raises(ConfigError, match="VideoTestVimeo90KDataset needs 'num_frame'"):
        dali_sr.load_config({**_section(roots, meta), "num_frame": None})
    with pytest.raises(DatasetError, match=r"clip 00001/0266 .* has 7 frame\(s\), fewer than the 9 that num_frame 9"):
        dali_sr.build_loader(_section(roots, meta, num_frame=9))


def test_a_listed_clip_missing_from_the_folders_is_named(vimeo, tmp_path):
    roots, _ = vimeo
    listed = tmp_path / "sep_testlist.txt"
    listed.write_text("00001/0266\n00099/0001\n")
    with pytest.raises(DatasetError, match="clip 00099/0001 has no LQ frames"):
        dali_sr.build_loader(_section(roots, str(listed)))


def test_official_train_list_selects_vimeo90k_training_clips_as_basicsrs_meta_file(tmp_path):
    """`sep_trainlist.txt` (one `00001/0001` per line) as meta_info_file: the clips, order and batches of
    BasicSR's meta_info_Vimeo90K_train_GT.txt listing the same clips."""
    clips = ("00001/0001", "00001/0002", "00002/0001", "00002/0010")
    roots = _write_septuplets(tmp_path, clips=clips)
    listed = tmp_path / "sep_trainlist.txt"
    listed.write_text("00002/0010\n00001/0001\n00002/0001\n")  # a subset, not in folder order
    meta = _basicsr_meta(tmp_path / "meta_info_Vimeo90K_train_GT.txt", ("00002/0010", "00001/0001", "00002/0001"))
    train = {"name": "Vimeo90K", "type": "Vimeo90KDataset", "dataroot_gt": roots["gt"], "dataroot_lq": roots["lq"],
             "io_backend": {"type": "disk"}, "num_frame": 7, "gt_size": 16, "interval_list": [1],
             "random_reverse": True, "use_hflip": True, "use_rot": True, "scale": SCALE, "batch_size_per_gpu": 1,
             "device": "cpu", "num_threads": 2}
    with dali_sr.build_loader({**train, "meta_info_file": str(listed)}) as loader:
        assert loader.index.clips == ["00002/0010", "00001/0001", "00002/0001"]
        from_list = list(loader)
    from_meta = _ours({**train, "meta_info_file": meta})
    assert sorted(b["key"][0] for b in from_list) == ["00001/0001", "00002/0001", "00002/0010"]
    assert [b["key"] for b in from_list] == [b["key"] for b in from_meta]
    assert all(a["lq"].equal(b["lq"]) and a["gt"].equal(b["gt"]) for a, b in zip(from_list, from_meta))


def test_basicsrs_basicvsr_vimeo90k_test_option_file_loads_as_it_is(vimeo, tmp_path, monkeypatch):
    """A BasicSR test option file (BasicVSR on Vimeo90K, BI x4): its test_1 section, paths relative to the folder
    BasicSR runs in."""
    roots, meta = vimeo
    work = tmp_path / "basicsr"
    (work / "datasets" / "vimeo90k").mkdir(parents=True)
    (work / "datasets" / "vimeo90k" / "vimeo_septuplet").symlink_to(Path(roots["gt"]).parent)
    (work / "datasets" / "vimeo90k" / "BIx4").symlink_to(roots["lq"])
    (work / "basicsr" / "data" / "meta_info").mkdir(parents=True)
    listed = work / "basicsr" / "data" / "meta_info" / "meta_info_Vimeo90K_test_GT.txt"
    listed.write_text(Path(meta).read_text())
    (work / "test_BasicVSR_Vimeo90K_BIx4.yml").write_text(textwrap.dedent("""\
        name: BasicVSR_Vimeo90K_BIx4
        model_type: VideoRecurrentModel
        scale: 4
        num_gpu: 1
        manual_seed: 0
        datasets:
          test_1:
            name: Vimeo90K
            type: VideoTestVimeo90KDataset
            dataroot_gt: datasets/vimeo90k/vimeo_septuplet/gt
            dataroot_lq: datasets/vimeo90k/BIx4
            meta_info_file: basicsr/data/meta_info/meta_info_Vimeo90K_test_GT.txt
            cache_data: false
            io_backend:
              type: disk
            num_frame: 7
        network_g:
          type: BasicVSR
          num_feat: 64
        val:
          save_img: false
          metrics:
            psnr:
              type: calculate_psnr
              crop_border: 0
              test_y_channel: false
        """))
    monkeypatch.chdir(work)
    with dali_sr.build_loader("test_BasicVSR_Vimeo90K_BIx4.yml", phase="test_1", device="cpu", num_threads=2) as loader:
        ours = list(loader)
    reference = basicsr_vimeo90k_test({"meta_info_file": str(listed), "num_frame": 7,
                                       "dataroot_gt": "datasets/vimeo90k/vimeo_septuplet/gt",
                                       "dataroot_lq": "datasets/vimeo90k/BIx4"})
    _assert_same(ours, reference)
