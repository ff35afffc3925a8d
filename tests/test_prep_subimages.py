"""`dali-sr extract-subimages`: BasicSR's windows, names and pixels, checked against hand-computed references."""
from __future__ import annotations

import argparse
import re
import struct
import zlib

import cv2
import numpy as np
import pytest

from dali_sr.errors import ConfigError, DatasetError
from dali_sr.prep.subimages import add_parser, extract_subimages, subimage_stem, windows
from faults import one_line
from prep_runs import forged_png, photos, run_killed, stderr_lines, tree, truncated

_SUBIMAGE = re.compile(r"\w+_s\d{3}\.(png|jpg)")


def _cli(*argv: str) -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers()
    add_parser(sub)
    args = p.parse_args(["extract-subimages", *argv, "--quiet"])
    return args.func(args)


def _write(path, img) -> None:
    assert cv2.imwrite(str(path), img)


def _rand(shape, seed=0, dtype=np.uint8):
    rng = np.random.default_rng(seed)
    return rng.integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)


# Window starts worked out by hand from BasicSR's rule:
#   range(0, n - crop + 1, step), plus n - crop if n - (last + crop) > thresh.
HAND_WINDOWS = [
    # n, crop, step, thresh, starts
    (10, 4, 2, 0, [0, 2, 4, 6]),  # 6 + 4 = 10: exact cover, no extra window
    (11, 4, 3, 0, [0, 3, 6, 7]),  # 6 + 4 = 10 leaves 1 > 0: extra window at 11 - 4 = 7
    (11, 4, 3, 1, [0, 3, 6]),  # leaves 1, not > thresh 1: no extra window
    (12, 4, 3, 1, [0, 3, 6, 8]),  # leaves 2 > 1: extra window at 8
    (4, 4, 2, 0, [0]),  # image = crop
    (5, 4, 2, 0, [0, 1]),  # range(0, 2, 2) = [0]; leaves 1
    (9, 4, 10, 0, [0, 5]),  # step larger than the image: first window plus the border one
    (510, 480, 240, 0, [0, 30]),  # DIV2K-like
    (510, 480, 240, 30, [0]),
    (510, 480, 240, 29, [0, 30]),
    (2040, 480, 240, 0, [0, 240, 480, 720, 960, 1200, 1440, 1560]),
]


@pytest.mark.parametrize("n,crop,step,thresh,expected", HAND_WINDOWS)
def test_windows_match_hand_computed_starts(n, crop, step, thresh, expected):
    assert windows(n, crop, step, thresh) == expected


def test_windows_smaller_than_crop():
    assert windows(3, 4, 2, 0) == []
    assert windows(3, 4, 2, 0, keep_small=True) == [0]


@pytest.mark.parametrize("stem,expected", [
    ("0001x4", "0001"), ("0001x2", "0001"), ("0001x3", "0001"), ("0001x8", "0001"), ("000001x4", "000001"),
    ("0001", "0001"), ("0001x5", "0001x5"), ("box2", "box2"), ("0801x4d", "0801x4d"),
])
def test_lr_scale_suffix_is_stripped(stem, expected):
    assert subimage_stem(stem) == expected


def _expected_crops(img, hs, ws, crop):
    """Row-major crops, index from 1: the reference the tool must reproduce."""
    out, index = {}, 0
    for top in hs:
        for left in ws:
            index += 1
            out[index] = img[top:top + crop, left:left + crop]
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_crops_names_and_pixels(tmp_path, workers):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    rgb = _rand((11, 10, 3), seed=1)  # rows [0,3,6,7] x cols [0,3,6] with crop 4, step 3
    gray = _rand((12, 9), seed=2)  # rows [0,3,6,8] x cols [0,3,5]
    rgba = _rand((10, 10, 4), seed=3)  # rows [0,3,6] x cols [0,3,6]
    deep = _rand((7, 8, 3), seed=4, dtype=np.uint16)  # rows [0,3] x cols [0,3,4]
    _write(src / "0001x4.png", rgb)
    _write(src / "gray.png", gray)
    _write(src / "alpha.png", rgba)
    _write(src / "deep.png", deep)
    (src / "notes.txt").write_text("not an image")

    report = extract_subimages(str(src), str(dst), crop=4, step=3, thresh=0, workers=workers, progress=False)

    expected = {
        "0001": _expected_crops(rgb, [0, 3, 6, 7], [0, 3, 6], 4),
        "gray": _expected_crops(gray, [0, 3, 6, 8], [0, 3, 5], 4),
        "alpha": _expected_crops(rgba, [0, 3, 6], [0, 3, 6], 4),
        "deep": _expected_crops(deep, [0, 3], [0, 3, 4], 4),
    }
    names = sorted(f"{stem}_s{i:03d}.png" for stem, crops in expected.items() for i in crops)
    assert sorted(p.name for p in dst.iterdir()) == names
    assert report.images == 4 and report.subimages == len(names) and report.kept_small == []
    for stem, crops in expected.items():
        for i, ref in crops.items():
            path = dst / f"{stem}_s{i:03d}.png"
            got = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            assert got.dtype == ref.dtype and got.shape == ref.shape, path.name
            np.testing.assert_array_equal(got, ref, err_msg=path.name)
            # The same call BasicSR makes, so the files are byte-identical too.
            ok, enc = cv2.imencode(".png", np.ascontiguousarray(ref), [cv2.IMWRITE_PNG_COMPRESSION, 3])
            assert path.read_bytes() == enc.tobytes(), path.name


def test_thresh_drops_border_window_and_level_is_used(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    img = _rand((11, 11, 3), seed=5)
    _write(src / "a.png", img)
    extract_subimages(str(src), str(dst), crop=4, step=3, thresh=1, level=0, progress=False)
    crops = _expected_crops(img, [0, 3, 6], [0, 3, 6], 4)  # leaves 1 pixel, not > thresh 1
    assert sorted(p.name for p in dst.iterdir()) == [f"a_s{i:03d}.png" for i in range(1, 10)]
    for i, ref in crops.items():
        data = (dst / f"a_s{i:03d}.png").read_bytes()
        assert data == cv2.imencode(".png", np.ascontiguousarray(ref), [cv2.IMWRITE_PNG_COMPRESSION, 0])[1].tobytes()


def test_jpeg_keeps_extension(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    _write(src / "p.jpg", _rand((8, 8, 3), seed=6))
    img = cv2.imread(str(src / "p.jpg"), cv2.IMREAD_UNCHANGED)
    extract_subimages(str(src), str(dst), crop=4, step=4, progress=False)
    assert sorted(p.name for p in dst.iterdir()) == [f"p_s{i:03d}.jpg" for i in range(1, 5)]
    ref = cv2.imencode(".jpg", np.ascontiguousarray(img[4:8, 0:4]))[1].tobytes()
    assert (dst / "p_s003.jpg").read_bytes() == ref


def test_too_small_images_reported_in_one_error(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    _write(src / "big.png", _rand((8, 8, 3)))
    _write(src / "short.png", _rand((3, 8, 3)))
    _write(src / "narrow.png", _rand((8, 2)))
    with pytest.raises(DatasetError) as e:
        extract_subimages(str(src), str(dst), crop=4, step=2, progress=False)
    msg = str(e.value)
    assert "short.png (3x8)" in msg and "narrow.png (8x2)" in msg and "big.png" not in msg
    assert "--keep-small" in msg and "\n" not in msg
    assert not dst.exists()  # nothing written


def test_keep_small_takes_short_sides_whole(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    tiny = _rand((3, 3, 3), seed=7)
    short = _rand((3, 5, 3), seed=8)
    _write(src / "tiny.png", tiny)
    _write(src / "short.png", short)
    report = extract_subimages(str(src), str(dst), crop=4, step=2, keep_small=True, progress=False)
    assert sorted(report.kept_small) == ["short.png (3x5)", "tiny.png (3x3)"]
    assert sorted(p.name for p in dst.iterdir()) == ["short_s001.png", "short_s002.png", "tiny_s001.png"]
    np.testing.assert_array_equal(cv2.imread(str(dst / "tiny_s001.png"), cv2.IMREAD_UNCHANGED), tiny)
    # width 5, crop 4, step 2: starts [0, 1]; height 3 < 4: whole
    np.testing.assert_array_equal(cv2.imread(str(dst / "short_s001.png"), cv2.IMREAD_UNCHANGED), short[:, 0:4])
    np.testing.assert_array_equal(cv2.imread(str(dst / "short_s002.png"), cv2.IMREAD_UNCHANGED), short[:, 1:5])


def test_dst_refused_unless_force(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    _write(src / "a.png", _rand((4, 4, 3)))
    (dst / "old_s007.png").write_bytes(b"stale")
    with pytest.raises(DatasetError, match="already exists; pass --force"):
        extract_subimages(str(src), str(dst), crop=4, step=4, progress=False)
    assert (dst / "old_s007.png").exists()
    with pytest.raises(ConfigError, match="is SRC"):
        extract_subimages(str(src), str(src), crop=4, step=4, force=True, progress=False)


def test_bad_input(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    with pytest.raises(DatasetError, match="holds no images"):
        extract_subimages(str(src), str(tmp_path / "d0"), crop=4, progress=False)
    with pytest.raises(DatasetError, match="is not a folder"):
        extract_subimages(str(tmp_path / "missing"), str(tmp_path / "d1"), crop=4, progress=False)
    _write(src / "0001.png", _rand((4, 4, 3)))
    _write(src / "0001x4.png", _rand((4, 4, 3)))
    with pytest.raises(DatasetError, match=r"0001\.png and .*0001x4\.png would both write"):
        extract_subimages(str(src), str(tmp_path / "d2"), crop=4, progress=False)
    (src / "0001x4.png").unlink()
    (src / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(DatasetError, match="bad.png"):
        extract_subimages(str(src), str(tmp_path / "d3"), crop=4, progress=False)
    with pytest.raises(ConfigError, match="crop"):
        extract_subimages(str(src), str(tmp_path / "d4"), crop=0, progress=False)
    with pytest.raises(ConfigError, match="workers"):
        extract_subimages(str(src), str(tmp_path / "d5"), crop=4, workers=0, progress=False)


def test_cli(tmp_path, capsys):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    img = _rand((6, 5, 3), seed=9)
    _write(src / "0002x2.png", img)
    assert _cli(str(src), str(dst), "--crop", "4", "--step", "2", "--thresh", "0", "--level", "1",
                "--workers", "2") == 0
    # rows range(0,3,2)=[0,2] (6 = 2 + 4), cols [0] + border 1
    assert sorted(p.name for p in dst.iterdir()) == [f"0002_s{i:03d}.png" for i in range(1, 5)]
    np.testing.assert_array_equal(cv2.imread(str(dst / "0002_s004.png"), cv2.IMREAD_UNCHANGED), img[2:6, 1:5])
    assert "wrote 4 sub-images of 1 images" in capsys.readouterr().out
    with pytest.raises(DatasetError, match="already exists"):
        _cli(str(src), str(dst), "--crop", "4")
    # leftovers 2 and 1 are not > thresh 3: one window; --force removes the old s002..s004
    assert _cli(str(src), str(dst), "--crop", "4", "--step", "4", "--thresh", "3", "--force") == 0
    assert sorted(p.name for p in dst.iterdir()) == ["0002_s001.png"]
    with pytest.raises(SystemExit):
        _cli(str(src), str(dst), "--crop", "0")


# ---------------------------------------------------------------- interrupted runs, bad and odd sources

def _photo_folder(root) -> tuple:
    """SRC with the two Set14 photographs as PNGs and comic also as a JPEG; the options that crop them into
    8 x 7 + 3 x 5 + 3 x 5 sub-images."""
    root.mkdir()
    for name, img in photos().items():
        _write(root / f"{name}.png", img)
    _write(root / "comic_q.jpg", photos()["comic"])
    return dict(crop=120, step=60, level=1, progress=False)


def test_a_killed_run_leaves_no_dst_and_resumes_to_the_bytes_of_an_uninterrupted_run(tmp_path):
    src, dst, fresh = tmp_path / "src", tmp_path / "dst", tmp_path / "fresh"
    options = _photo_folder(src)
    run_killed(f"from dali_sr.prep.subimages import extract_subimages\n"
               f"extract_subimages({str(src)!r}, {str(dst)!r}, workers=2, **{options!r})", after=30)
    assert not dst.exists()  # nothing that loads as a (smaller) dataset
    partial = tmp_path / "dst.partial"
    left = tree(partial)
    assert any(name.startswith(".") and name.endswith(".tmp") for name in left)  # the file cut short: hidden
    complete = [name for name in left if _SUBIMAGE.fullmatch(name)]
    assert 25 <= len(complete) < 30
    with pytest.raises(DatasetError, match=r"dst\.partial holds an unfinished extract-subimages of dst; pass --resume"):
        extract_subimages(str(src), str(dst), **options)
    with pytest.raises(ConfigError, match=r"dst\.partial was started with --step 60, not 120; resume with the same "
                                          r"options, or pass --force"):
        extract_subimages(str(src), str(dst), **{**options, "step": 120}, resume=True)
    assert tree(partial) == left  # a refused resume changes nothing

    report = extract_subimages(str(src), str(dst), **options, resume=True)
    assert report.resumed == len(complete) and report.subimages == 56 + 15 + 15
    assert not partial.exists()
    extract_subimages(str(src), str(fresh), **options)
    assert tree(dst) == tree(fresh)
    assert all(left[name] == tree(dst)[name] for name in complete)


def test_resume_redoes_the_sub_images_of_a_changed_source(tmp_path):
    src, dst, fresh = tmp_path / "src", tmp_path / "dst", tmp_path / "fresh"
    options = _photo_folder(src)
    run_killed(f"from dali_sr.prep.subimages import extract_subimages\n"
               f"extract_subimages({str(src)!r}, {str(dst)!r}, workers=1, **{options!r})", after=50)
    assert len([name for name in tree(tmp_path / "dst.partial") if name.startswith("baboon_s")]) == 49
    _write(src / "baboon.png", np.ascontiguousarray(photos()["baboon"][::-1]))  # rewritten: upside down
    report = extract_subimages(str(src), str(dst), **options, resume=True)
    assert report.resumed == 0
    extract_subimages(str(src), str(fresh), **options)
    assert tree(dst) == tree(fresh)


def test_force_replaces_a_folder_of_sub_images_only(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    _write(src / "a.png", _rand((4, 4, 3)))
    dst.mkdir()
    (dst / "old_s007.png").write_bytes(b"stale")
    extract_subimages(str(src), str(dst), crop=4, step=4, force=True, progress=False)
    assert sorted(p.name for p in dst.iterdir()) == ["a_s001.png"]
    (dst / "keep.txt").write_text("mine")
    with pytest.raises(DatasetError, match=r"holds keep\.txt, which extract-subimages does not write; --force only "
                                           r"replaces a folder of sub-images"):
        extract_subimages(str(src), str(dst), crop=4, step=4, force=True, progress=False)
    assert (dst / "keep.txt").read_text() == "mine" and not (tmp_path / "dst.partial").exists()


@pytest.mark.parametrize("side", [10000, 40000])
def test_a_decompression_bomb_is_refused_by_its_header_before_anything_is_written(tmp_path, side):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    _write(src / "a.png", _rand((8, 8, 3)))
    (src / "bomb.png").write_bytes(forged_png(side, side))
    with pytest.raises(DatasetError) as e:
        extract_subimages(str(src), str(dst), crop=4, step=4, progress=False)
    assert one_line(str(e.value)).startswith(f"{src / 'bomb.png'}: ") and f"{side}x{side}" in str(e.value)
    assert not dst.exists() and not (tmp_path / "dst.partial").exists()


def test_max_pixels_is_settable(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    _write(src / "a.png", _rand((8, 8, 3)))
    with pytest.raises(DatasetError, match=r"a\.png: 8x8 = 64 pixels, above the limit of 63; split the image, or "
                                           r"raise --max-pixels"):
        _cli(str(src), str(tmp_path / "d1"), "--crop", "4", "--max-pixels", "63")
    assert _cli(str(src), str(tmp_path / "d2"), "--crop", "4", "--max-pixels", "64") == 0


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_a_truncated_photograph_is_refused_naming_the_file(tmp_path, ext):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    baboon = photos()["baboon"]
    _write(src / "a_whole.png", baboon)
    (src / f"b_cut{ext}").write_bytes(truncated(cv2.imencode(ext, baboon)[1].tobytes()))
    with pytest.raises(DatasetError) as e:
        extract_subimages(str(src), str(dst), crop=120, step=120, workers=1, progress=False)
    assert one_line(str(e.value)).startswith(f"{src / f'b_cut{ext}'}: truncated")
    assert not dst.exists()


def _odd_sources(src) -> int:
    """Sources that made OpenCV or libpng print a warning: other formats than PNG (the PNG level passed to their
    writers), an EXIF-rotated JPEG, 16-bit, gray + alpha, a PNG with a bad sRGB chunk. Returns how many."""
    from PIL import Image

    src.mkdir()
    img = _rand((16, 16, 3), seed=10)
    for ext in (".jpg", ".webp", ".tif", ".bmp"):
        _write(src / f"fmt{ext}", img)
    rotated = Image.fromarray(img[:, :, ::-1])
    exif = rotated.getexif()
    exif[0x0112] = 6
    rotated.save(src / "rotated.jpg", exif=exif)
    _write(src / "deep.png", _rand((16, 16, 3), seed=11, dtype=np.uint16))
    Image.fromarray(_rand((16, 16, 2), seed=12), "LA").save(src / "gray_alpha.png")
    png = cv2.imencode(".png", img)[1].tobytes()
    srgb = struct.pack(">I", 1) + b"sRGB\x09" + struct.pack(">I", zlib.crc32(b"sRGB\x09"))  # rendering intent 9
    (src / "srgb.png").write_bytes(png[:33] + srgb + png[33:])
    return 8


def test_odd_sources_print_at_most_one_line_each(tmp_path):
    src = tmp_path / "src"
    sources = _odd_sources(src)
    lines = stderr_lines("subimages", "extract-subimages", str(src), str(tmp_path / "dst"), "--crop", "4", "--step", "4",
                         "--quiet")
    assert len(lines) <= sources, "\n".join(lines)  # 16 sub-images per source
    assert not [line for line in lines if "unsupported key" in line]
    assert len(list((tmp_path / "dst").iterdir())) == 16 * sources


def test_16_bit_pngs_are_kept_with_the_same_checks(tmp_path):
    """The shared source reader refuses 16-bit PNGs (the loader reads 8 bits); extract-subimages keeps them, as
    BasicSR does, refusing them above the pixel limit and when cut short like any other source."""
    src = tmp_path / "src"
    src.mkdir()
    deep = photos()["comic"].astype(np.uint16) * 257
    data = cv2.imencode(".png", deep)[1].tobytes()
    (src / "deep.png").write_bytes(data)
    report = extract_subimages(str(src), str(tmp_path / "d1"), crop=120, step=120, progress=False)
    assert report.deep == ["deep.png"]
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "d1" / "deep_s004.png"), cv2.IMREAD_UNCHANGED),
                                  deep[120:240, 120:240])
    with pytest.raises(DatasetError, match=r"deep\.png: 360x240 = 86,400 pixels, above the limit of 86,399"):
        extract_subimages(str(src), str(tmp_path / "d2"), crop=120, step=120, max_pixels=86399, progress=False)
    (src / "deep.png").write_bytes(truncated(data))
    with pytest.raises(DatasetError) as e:
        extract_subimages(str(src), str(tmp_path / "d3"), crop=120, step=120, progress=False)
    assert one_line(str(e.value)).startswith(f"{src / 'deep.png'}: truncated PNG")
