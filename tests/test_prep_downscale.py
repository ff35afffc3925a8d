"""`dali-sr downscale`: GT folder or LMDB -> LQ folder or LMDB with MATLAB's bicubic, resumable."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import dali_sr
from conftest import paired_cfg
from dali_sr.cli import main
from dali_sr.degrade.bicubic import downscale as bicubic_down
from dali_sr.degrade.bicubic import to_uint8
from dali_sr.errors import ConfigError, DatasetError
from dali_sr.prep import downscale as downscale_mod
from dali_sr.prep.downscale import downscale
from dali_sr.prep.pack import pack
from dali_sr.storage.lmdb_writer import write_lmdb
from dali_sr.storage.meta_files import read_meta_info_txt
from faults import one_line
from prep_runs import forged_png, photos, run_killed, tree, truncated
from test_gt_only import BOUNDARY, basicsr_imresize


@pytest.fixture
def gt_folder(tmp_path) -> Path:
    rng = np.random.default_rng(3)
    folder = tmp_path / "gt"
    folder.mkdir()
    for k, (h, w) in enumerate([(48, 64), (50, 41), (32, 32)]):
        cv2.imwrite(str(folder / f"{k:04d}.png"), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    cv2.imwrite(str(folder / "gray.png"), rng.integers(0, 256, (20, 24), dtype=np.uint8))
    return folder


def _matlab_lq(path: Path, scale: int) -> np.ndarray:
    """BasicSR's LR rule: modcrop, then imresize(1 / scale) of [0, 1] floats, then uint8 (clamped, rounded)."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    h, w = img.shape[0] - img.shape[0] % scale, img.shape[1] - img.shape[1] % scale
    img = img[:h, :w]
    out = basicsr_imresize((img[..., None] if img.ndim == 2 else img) / 255.0, scale) * 255
    return out[..., 0] if img.ndim == 2 else out


@pytest.mark.parametrize("scale", [2, 4])
def test_folder_to_folder_is_matlabs_bicubic(gt_folder, tmp_path, scale):
    report = downscale(str(gt_folder), str(tmp_path / "lq"), scale, progress=False)
    assert (report.images, report.written, report.resumed) == (4, 4, 0)
    for path in sorted(gt_folder.iterdir()):
        got = cv2.imread(str(tmp_path / "lq" / path.name), cv2.IMREAD_UNCHANGED)
        ref = _matlab_lq(path, scale)
        assert got.shape == ref.shape
        differ = np.abs(np.clip(np.floor(ref + 0.5), 0, 255) - got) > 0
        assert not (differ & (np.abs(ref - np.floor(ref) - 0.5) >= BOUNDARY)).any()


def test_an_lmdb_to_an_lmdb_gives_the_loaders_own_gt_only_lq(gt_folder, tmp_path):
    """Stored LQ written by downscale = the LQ a GT-only loader makes from the same GT (validation, whole images)."""
    pack(str(gt_folder), str(tmp_path / "gt.lmdb"), progress=False)
    downscale(str(tmp_path / "gt.lmdb"), str(tmp_path / "lq.lmdb"), 2, progress=False)
    lines, problems = read_meta_info_txt(str(tmp_path / "lq.lmdb" / "meta_info.txt"))
    assert problems == [] and [line.key for line in lines] == ["0000", "0001", "0002", "gray"]
    assert lines[1].shape == (25, 20, 3) and lines[3].shape == (10, 12, 1) and lines[0].tag == "1"
    roots = {"gt_lmdb": str(tmp_path / "gt.lmdb"), "lq_lmdb": str(tmp_path / "lq.lmdb")}
    stored = paired_cfg(roots, 2, lmdb=True, phase="val")
    made = {k: v for k, v in stored.items() if k != "dataroot_lq"}
    with dali_sr.build_loader(stored) as a, dali_sr.build_loader(made) as b:
        for x, y in zip(a, b):
            assert x["gt_path"] == y["gt_path"] and (x["lq"] == y["lq"]).all()


def test_an_interrupted_lmdb_run_resumes(gt_folder, tmp_path, monkeypatch):
    real, calls = downscale_mod._lq_value, [0]

    def fail_third(*args):
        calls[0] += 1
        if calls[0] == 3:
            raise DatasetError("interrupted")
        return real(*args)

    monkeypatch.setattr(downscale_mod, "_lq_value", fail_third)
    with pytest.raises(DatasetError, match="interrupted"):
        downscale(str(gt_folder), str(tmp_path / "lq.lmdb"), 2, workers=1, progress=False)
    assert not (tmp_path / "lq.lmdb").exists() and (tmp_path / "lq.lmdb.partial").is_dir()
    with pytest.raises(DatasetError, match="holds an unfinished downscale of lq.lmdb; pass --resume"):
        downscale(str(gt_folder), str(tmp_path / "lq.lmdb"), 2, progress=False)
    monkeypatch.setattr(downscale_mod, "_lq_value", real)
    report = downscale(str(gt_folder), str(tmp_path / "lq.lmdb"), 2, resume=True, progress=False)
    assert (report.images, report.resumed, report.written) == (4, 2, 2)
    downscale(str(gt_folder), str(tmp_path / "fresh.lmdb"), 2, progress=False)
    assert (tmp_path / "lq.lmdb" / "meta_info.txt").read_text() == (tmp_path / "fresh.lmdb" / "meta_info.txt").read_text()


def test_a_used_folder_is_refused_and_force_replaces_only_a_folder_of_pngs(gt_folder, tmp_path, capsys):
    out = tmp_path / "lq"
    out.mkdir()
    downscale(str(gt_folder), str(out), 2, progress=False)  # an existing empty folder is fine
    assert main(["downscale", str(gt_folder), str(out), "--scale", "2", "--quiet"]) == 2
    assert "lq already exists; pass --force to replace it" in capsys.readouterr().err
    (out / "0001.png").unlink()
    assert main(["downscale", str(gt_folder), str(out), "--scale", "2", "--force", "--quiet"]) == 0
    assert "downscaled 4 images x2 into" in capsys.readouterr().out and (out / "0001.png").is_file()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match=r"lq holds notes\.txt, which downscale does not write; --force only "
                                           r"replaces a folder of PNG images"):
        downscale(str(gt_folder), str(out), 2, force=True, progress=False)
    assert (out / "notes.txt").read_text() == "mine"


def _photo_folder(root: Path) -> Path:
    """The two Set14 photographs and four crops of them as GT PNGs."""
    root.mkdir()
    for name, img in photos().items():
        cv2.imwrite(str(root / f"{name}.png"), img)
        for k in range(2):
            cv2.imwrite(str(root / f"{name}_{k}.png"), img[k * 40:k * 40 + 200, k * 30:k * 30 + 160])
    return root


def test_a_killed_folder_run_leaves_no_dst_and_resumes_to_the_bytes_of_an_uninterrupted_run(tmp_path):
    src, dst = _photo_folder(tmp_path / "gt"), tmp_path / "lq"
    run_killed(f"from dali_sr.prep.downscale import downscale\n"
               f"downscale({str(src)!r}, {str(dst)!r}, 2, workers=1, progress=False)", after=4)
    assert not dst.exists()
    partial = tmp_path / "lq.partial"
    left = tree(partial)
    # keys in order, one thread: three whole files, and the fourth cut short under its hidden temporary name
    assert sorted(left) == [".comic.png.tmp", "baboon.png", "baboon_0.png", "baboon_1.png", "pack_state.json"]
    with pytest.raises(DatasetError, match=r"lq\.partial holds an unfinished downscale of lq; pass --resume"):
        downscale(str(src), str(dst), 2, progress=False)
    with pytest.raises(ConfigError, match=r"lq\.partial was started with --scale 2, not 3; resume with the same"):
        downscale(str(src), str(dst), 3, resume=True, progress=False)
    assert tree(partial) == left

    cv2.imwrite(str(src / "baboon_1.png"), photos()["comic"][:100, :90])  # changed since: redone
    report = downscale(str(src), str(dst), 2, resume=True, progress=False)
    assert (report.images, report.resumed, report.written) == (6, 2, 4)
    assert not partial.exists()
    downscale(str(src), str(tmp_path / "fresh"), 2, progress=False)
    assert tree(dst) == tree(tmp_path / "fresh")
    assert tree(dst)["baboon.png"] == left["baboon.png"]


def test_bands_of_rows_give_the_whole_images_bytes(monkeypatch):
    """Bicubic downscaling in bands of rows (bounded memory) equals downscaling the whole image, bit for bit."""
    rng = np.random.default_rng(5)
    monkeypatch.setattr(downscale_mod, "BAND_PIXELS", 1)  # one output row per band: the most band edges
    for scale in (2, 3, 4):
        for shape in ((12 * scale, 7 * scale, 3), (9 * scale, 5 * scale), (scale, 4 * scale, 3)):
            img = rng.integers(0, 256, shape, dtype=np.uint8)
            whole = to_uint8(bicubic_down(img, scale))
            assert np.array_equal(downscale_mod.downscale_pixels(img, scale), whole), (scale, shape)
    img = photos()["baboon"]
    monkeypatch.setattr(downscale_mod, "BAND_PIXELS", 50_000)
    assert np.array_equal(downscale_mod.downscale_pixels(img, 4), to_uint8(bicubic_down(img, 4)))


@pytest.mark.parametrize("side", [10000, 40000])
def test_a_decompression_bomb_is_refused_from_its_header(tmp_path, side, capsys):
    src = tmp_path / "gt"
    src.mkdir()
    (src / "bomb.png").write_bytes(forged_png(side, side))
    assert main(["downscale", str(src), str(tmp_path / "lq"), "--scale", "2", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert one_line(err.rstrip("\n")).startswith(f"dali-sr downscale: error: {src / 'bomb.png'}: ")
    assert f"{side}x{side}" in err and "above the" in err


def test_max_pixels_is_settable(gt_folder, tmp_path):
    with pytest.raises(DatasetError, match=r"0000\.png: 48x64 = 3,072 pixels, above the limit of 3,071"):
        downscale(str(gt_folder), str(tmp_path / "a"), 2, max_pixels=3071, workers=1, progress=False)
    assert main(["downscale", str(gt_folder), str(tmp_path / "b"), "--scale", "2", "--max-pixels", "3072",
                 "--quiet"]) == 0


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_a_truncated_photograph_is_refused_naming_the_file_or_key(tmp_path, ext):
    src = tmp_path / "gt"
    src.mkdir()
    data = truncated(cv2.imencode(ext, photos()["baboon"])[1].tobytes())
    (src / f"baboon{ext}").write_bytes(data)
    with pytest.raises(DatasetError) as e:
        downscale(str(src), str(tmp_path / "lq"), 2, progress=False)
    assert one_line(str(e.value)).startswith(f"{src / f'baboon{ext}'}: truncated")
    write_lmdb(str(tmp_path / "gt.lmdb"), [("baboon", data, (480, 492, 3))])
    with pytest.raises(DatasetError) as e:
        downscale(str(tmp_path / "gt.lmdb"), str(tmp_path / "lq.lmdb"), 2, progress=False)
    assert one_line(str(e.value)).startswith(f"LMDB {tmp_path / 'gt.lmdb'} key baboon: truncated")


def test_bad_input_is_named(gt_folder, tmp_path):
    (gt_folder / "0005.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    with pytest.raises(DatasetError, match=r"0005\.png: truncated or corrupt PNG header"):
        downscale(str(gt_folder), str(tmp_path / "lq"), 2, progress=False)
    with pytest.raises(ConfigError, match=r"DST .*gt/lq is inside SRC .*gt, whose images are read from every "
                                          r"subfolder"):
        downscale(str(gt_folder), str(gt_folder / "lq"), 2, progress=False)
    with pytest.raises(dali_sr.ConfigError, match="--scale must be an integer of at least 2"):
        downscale(str(gt_folder), str(tmp_path / "lq"), 1, progress=False)
