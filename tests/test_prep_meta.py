"""`dali-sr meta-info` (images, REDS and Vimeo90K clip folders) and `dali-sr regroup-reds`."""
from __future__ import annotations

import argparse
import struct
import zlib

import cv2
import numpy as np
import pytest

from dali_sr.errors import ConfigError, DatasetError
from dali_sr.prep import meta_cmd, regroup
from dali_sr.prep.meta_cmd import meta_info_lines, write_meta_info
from dali_sr.prep.regroup import regroup_reds
from dali_sr.prep.source_pixels import probe_shape
from dali_sr.storage.meta_files import read_clip_meta, read_meta_info_file
from faults import one_line
from prep_runs import forged_png


def _cli(module, *argv: str) -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers()
    module.add_parser(sub)
    args = p.parse_args([*argv, "--quiet"])
    return args.func(args)


def _img(shape, seed=0, dtype=np.uint8):
    return np.random.default_rng(seed).integers(0, 200, shape, dtype=dtype)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _raw_png(w: int, h: int, ctype: int, bytes_per_pixel: int, extra: bytes = b"") -> bytes:
    """A minimal 8-bit PNG of colour type `ctype` (cv2 cannot write palette / tRNS files)."""
    rows = b"".join(b"\x00" + bytes(w * bytes_per_pixel) for _ in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + extra + _chunk(b"IDAT", zlib.compress(rows))
            + _chunk(b"IEND", b""))


def test_image_lines_gray_and_colour(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    cv2.imwrite(str(d / "b_rgb.png"), _img((5, 7, 3)))
    cv2.imwrite(str(d / "a_gray.png"), _img((6, 4)))
    cv2.imwrite(str(d / "c_rgba.png"), _img((3, 2, 4)))
    cv2.imwrite(str(d / "d_gray16.png"), _img((4, 4), dtype=np.uint16))
    cv2.imwrite(str(d / "e_rgb16.png"), _img((4, 3, 3), dtype=np.uint16))
    cv2.imwrite(str(d / "f.jpg"), _img((9, 16, 3)))
    cv2.imwrite(str(d / "g_gray.jpg"), _img((8, 8)))
    cv2.imwrite(str(d / "h.bmp"), _img((2, 3, 3)))  # decoded, no header reader
    (d / "i_palette.png").write_bytes(_raw_png(5, 4, 3, 1, _chunk(b"PLTE", bytes(3))))
    (d / "j_trns.png").write_bytes(_raw_png(5, 4, 2, 3, _chunk(b"tRNS", bytes(6))))
    (d / "readme.txt").write_text("skipped: not an image")
    lines = meta_info_lines(str(d), workers=2, progress=False)
    assert lines == [
        "a_gray.png (6,4,1)",
        "b_rgb.png (5,7,3)",
        "c_rgba.png (3,2,4)",
        "d_gray16.png (4,4,1)",
        "e_rgb16.png (4,3,3)",
        "f.jpg (9,16,3)",
        "g_gray.jpg (8,8,1)",
        "h.bmp (2,3,3)",
        "i_palette.png (4,5,3)",
        "j_trns.png (4,5,4)",
    ]
    for line in lines:  # header shapes agree with what IMREAD_UNCHANGED decodes
        name = line.split()[0]
        img = cv2.imread(str(d / name), cv2.IMREAD_UNCHANGED)
        assert probe_shape(str(d / name)) == (img.shape[0], img.shape[1], 1 if img.ndim == 2 else img.shape[2])


def test_out_file_stdout_and_refusal(tmp_path, capsys):
    d = tmp_path / "imgs"
    d.mkdir()
    cv2.imwrite(str(d / "0001_s001.png"), _img((4, 6, 3)))
    cv2.imwrite(str(d / "0001_s002.png"), _img((4, 6, 3)))
    out = tmp_path / "meta_info.txt"
    assert _cli(meta_cmd, "meta-info", str(d), "--out", str(out), "--workers", "1") == 0
    assert out.read_text() == "0001_s001.png (4,6,3)\n0001_s002.png (4,6,3)\n"
    with pytest.raises(DatasetError, match="already exists.*--force"):
        _cli(meta_cmd, "meta-info", str(d), "--out", str(out))
    assert _cli(meta_cmd, "meta-info", str(d), "--out", str(out), "--force") == 0
    capsys.readouterr()
    assert _cli(meta_cmd, "meta-info", str(d)) == 0
    assert capsys.readouterr().out == "0001_s001.png (4,6,3)\n0001_s002.png (4,6,3)\n"


def _frames(folder, names, shape, seed=0):
    folder.mkdir(parents=True)
    for k, name in enumerate(names):
        cv2.imwrite(str(folder / name), _img(shape, seed + k))


def test_reds_clip_lines(tmp_path):
    root = tmp_path / "train_sharp"
    _frames(root / "000", [f"{i:08d}.png" for i in range(12)], (6, 8, 3))
    _frames(root / "001", [f"{i:08d}.png" for i in range(3)], (6, 8))
    _frames(root / "010", [f"{i:08d}.jpg" for i in range(2)], (4, 4, 3))
    lines = meta_info_lines(str(root), clips="reds", progress=False)
    assert lines == ["000 12 (6,8,3)", "001 3 (6,8,1)", "010 2 (4,4,3)"]
    out = tmp_path / "meta_info_REDS_GT.txt"
    assert _cli(meta_cmd, "meta-info", str(root), "--clips", "reds", "--out", str(out)) == 0
    assert out.read_text().splitlines() == lines


def test_vimeo_clip_lines(tmp_path):
    root = tmp_path / "sequences"
    _frames(root / "00001" / "0001", [f"im{i}.png" for i in range(1, 8)], (4, 6, 3))
    _frames(root / "00001" / "0266", [f"im{i}.png" for i in range(1, 8)], (4, 6, 3))
    _frames(root / "00002" / "0001", [f"im{i}.png" for i in range(1, 8)], (5, 6))
    assert meta_info_lines(str(root), clips="vimeo90k", progress=False) == [
        "00001/0001 7 (4,6,3)", "00001/0266 7 (4,6,3)", "00002/0001 7 (5,6,1)"]


def test_clip_and_image_errors(tmp_path):
    vimeo = tmp_path / "vimeo"
    _frames(vimeo / "00001" / "0001", [f"im{i}.png" for i in range(1, 8)], (4, 6, 3))
    with pytest.raises(DatasetError, match="holds no images.*vimeo90k"):
        meta_info_lines(str(vimeo), clips="reds", progress=False)
    with pytest.raises(DatasetError, match="holds no images.*--clips"):
        meta_info_lines(str(vimeo), progress=False)
    reds = tmp_path / "reds"
    _frames(reds / "000", ["00000000.png", "00000002.png"], (4, 4, 3))
    with pytest.raises(DatasetError, match=r"000 is missing frames 00000001"):
        meta_info_lines(str(reds), clips="reds", progress=False)
    with pytest.raises(DatasetError, match="no vimeo90k clip folders"):
        meta_info_lines(str(reds), clips="vimeo90k", progress=False)
    with pytest.raises(ConfigError, match="clips must be one of"):
        meta_info_lines(str(reds), clips="udm10", progress=False)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(DatasetError, match=r"x\.png"):
        meta_info_lines(str(bad), progress=False)
    (bad / "x.png").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"x\.png: empty file"):
        write_meta_info(str(bad), out=str(tmp_path / "m.txt"), progress=False)
    assert not (tmp_path / "m.txt").exists()


def _val_clips(root, names):
    for name in names:
        _frames(root / name, ["00000000.png", "00000001.png"], (2, 2, 3), seed=int(name))


def test_regroup_moves_val_clips_to_240_plus(tmp_path, capsys):
    val, train = tmp_path / "val_sharp", tmp_path / "train_sharp"
    _val_clips(val, ["000", "001", "029"])
    _val_clips(train, ["000", "239"])
    before = (val / "029" / "00000001.png").read_bytes()
    pairs = regroup_reds(str(val), str(train), progress=False)
    assert [(p[0].rsplit("/", 1)[1], p[1].rsplit("/", 1)[1]) for p in pairs] == [
        ("000", "240"), ("001", "241"), ("029", "269")]
    assert sorted(p.name for p in train.iterdir()) == ["000", "239", "240", "241", "269"]
    assert list(val.iterdir()) == []
    assert (train / "269" / "00000001.png").read_bytes() == before


def test_regroup_copy_and_refusal(tmp_path, capsys):
    val, train = tmp_path / "val", tmp_path / "train"
    _val_clips(val, ["000", "001"])
    train.mkdir()
    assert _cli(regroup, "regroup-reds", str(val), str(train), "--copy") == 0
    assert "copied 2 clips" in capsys.readouterr().out
    assert sorted(p.name for p in val.iterdir()) == ["000", "001"]
    assert sorted(p.name for p in train.iterdir()) == ["240", "241"]
    # Second run: targets exist, nothing moved.
    with pytest.raises(DatasetError, match="already holds clip.*240, 241"):
        _cli(regroup, "regroup-reds", str(val), str(train))
    assert sorted(p.name for p in val.iterdir()) == ["000", "001"]
    # One existing target blocks every clip.
    (train / "241").rename(train / "old")
    with pytest.raises(DatasetError, match="already holds clip.*240"):
        regroup_reds(str(val), str(train), progress=False)
    assert (val / "001").is_dir() and not (train / "241").exists()


def test_regroup_bad_input(tmp_path):
    val, train = tmp_path / "val", tmp_path / "train"
    train.mkdir()
    with pytest.raises(DatasetError, match="is not a folder"):
        regroup_reds(str(val), str(train), progress=False)
    val.mkdir()
    with pytest.raises(DatasetError, match="holds no clip folders"):
        regroup_reds(str(val), str(train), progress=False)
    _val_clips(val, ["000", "030"])
    with pytest.raises(DatasetError, match=r"030 is not a REDS validation clip"):
        regroup_reds(str(val), str(train), progress=False)
    assert (val / "000").is_dir() and list(train.iterdir()) == []
    with pytest.raises(DatasetError, match="same folder"):
        regroup_reds(str(val), str(val), progress=False)


@pytest.mark.parametrize("name", ["a b.png", "tab\t.png", "no\u00a0break.png"], ids=["space", "tab", "nbsp"])
def test_names_with_whitespace_are_refused_naming_the_file(tmp_path, name):
    d = tmp_path / "imgs"
    d.mkdir()
    cv2.imwrite(str(d / "ok.png"), _img((4, 4, 3)))
    (d / name).write_bytes((d / "ok.png").read_bytes())
    out = tmp_path / "meta_info.txt"
    with pytest.raises(DatasetError) as e:
        write_meta_info(str(d), out=str(out), progress=False)
    assert one_line(str(e.value)).startswith(repr(str(d / name))) and "rename the file" in str(e.value)
    assert not out.exists()


def test_clip_folders_with_whitespace_are_refused(tmp_path):
    root = tmp_path / "sequences"
    _frames(root / "00001" / "00 01", [f"im{i}.png" for i in range(1, 8)], (4, 6, 3))
    with pytest.raises(DatasetError, match=r"00001/00 01'.*rename the folder"):
        meta_info_lines(str(root), clips="vimeo90k", progress=False)


def test_lines_read_back_by_the_loaders_meta_readers(tmp_path):
    """What meta-info writes is what the disk loaders' readers read back: every name, every clip and count."""
    d = tmp_path / "imgs"
    d.mkdir()
    names = ["0001_s001.png", "a-b_c.png", "x.y.jpg"]
    for k, name in enumerate(names):
        cv2.imwrite(str(d / name), _img((4, 6, 3), seed=k))
    write_meta_info(str(d), out=str(tmp_path / "images.txt"), progress=False)
    assert read_meta_info_file(str(tmp_path / "images.txt")) == [[name] for name in names]
    root = tmp_path / "sequences"
    _frames(root / "00001" / "0001", [f"im{i}.png" for i in range(1, 8)], (4, 6, 3))
    write_meta_info(str(root), out=str(tmp_path / "clips.txt"), clips="vimeo90k", progress=False)
    assert read_clip_meta(str(tmp_path / "clips.txt")) == [("00001/0001", 7)]


def test_images_above_the_pixel_limit_are_refused_from_their_header(tmp_path):
    d = tmp_path / "imgs"
    d.mkdir()
    cv2.imwrite(str(d / "a.png"), _img((4, 4, 3)))
    (d / "bomb.png").write_bytes(forged_png(10000, 10000))
    with pytest.raises(DatasetError) as e:
        meta_info_lines(str(d), progress=False)
    assert one_line(str(e.value)) == (f"{d / 'bomb.png'}: 10000x10000 = 100,000,000 pixels, above the limit of "
                                      f"67,108,864; split the image, or raise --max-pixels if the machine has the memory")
    assert meta_info_lines(str(d), progress=False, max_pixels=10 ** 8) == ["a.png (4,4,3)", "bomb.png (10000,10000,3)"]
    out = tmp_path / "m.txt"
    assert _cli(meta_cmd, "meta-info", str(d), "--out", str(out), "--max-pixels", str(10 ** 8)) == 0
    assert out.read_text().splitlines()[1] == "bomb.png (10000,10000,3)"
