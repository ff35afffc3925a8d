"""`dali-sr extract-chunks`: DL-Art-School's chunked format, checked file by file against a reference written here
from the rules of its extract_subimages_with_ref.py (centre square, sliding windows, INTER_AREA, cv2 JPEGs)."""
from __future__ import annotations

import argparse
import io
import os
from fractions import Fraction
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
import pytest
import torch

from dali_sr.errors import ConfigError, DatasetError
from dali_sr.prep.chunk_plan import ChunkOptions, squares, tiles
from dali_sr.prep.extract_chunks import add_parser, extract_chunks
from faults import one_line
from prep_runs import photos, run_killed, tree, truncated

SMALL = dict(crop_sizes=(64, 96), steps=(32, 48), thres_size=24, resizes=(1.0, 0.5), min_size=100)


def _opts(**changes) -> ChunkOptions:
    return ChunkOptions(**{**SMALL, **changes})


def _rand(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _smooth(shape, seed=0):
    """A random image blurred, so that JPEG and INTER_AREA act on something like a photograph."""
    return cv2.GaussianBlur(_rand(shape, seed), (0, 0), 3)


def _write(path: Path, img) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)


def _jpeg(img, quality: int) -> bytes:
    ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return data.tobytes()


# --- the reference: the script's rules, written out again -------------------------------------------------------

def _starts(side: int, crop: int, step: int, thres: int) -> list[int]:
    if crop > side:
        return []
    starts = list(np.arange(0, side - crop + 1, step))
    if side - (starts[-1] + crop) > thres:
        starts.append(side - crop)
    return [int(s) for s in starts]


def _reference_squares(img: np.ndarray, o: ChunkOptions):
    """(label, square) of an image as the script cuts it (halving, size rule, centre or split squares)."""
    if img.ndim == 2:
        return []
    img = img[:, :, :3]
    h, w = img.shape[:2]
    if max(h, w) > o.max_size:
        h, w = h // 2, w // 2
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    if min(h, w) < o.min_size:
        return []
    if not o.vertical_split:
        d = min(h, w)
        return [("left", img[(h - d) // 2:(h - d) // 2 + d, (w - d) // 2:(w - d) // 2 + d])]
    left, right = img[:, :w // 2], img[:, w // 2:]
    dl, dr = min(h, left.shape[1]), min(h, right.shape[1])
    return [("left", left[-dl:, -dl:]), ("right", right[:dr, :dr])]


def _reference_folders(img: np.ndarray, o: ChunkOptions, mask: Optional[np.ndarray] = None):
    """(label, ref.jpg bytes, [(tile bytes, center, width)]) per folder with tiles."""
    out = []
    for label, sq in _reference_squares(img, o):
        d = sq.shape[0]
        t0 = int(o.crop_sizes[0] * o.resizes[0])
        found = []
        for crop, step, resize in zip(o.crop_sizes, o.steps, o.resizes):
            t = int(crop * resize)
            starts = [0] if o.only_resize else _starts(d, crop, step, o.thres_size)
            crop = d if o.only_resize else crop
            for y in starts:
                for x in starts:
                    if mask is not None:
                        mh, mw = mask.shape[:2]
                        r0, c0 = y * mh // d, x * mw // d
                        r1, c1 = max(r0 + 1, (y + crop) * mh // d), max(c0 + 1, (x + crop) * mw // d)
                        if mask[r0:r1, c0:c1].mean() < 255 / 2:
                            continue
                    center = (int(Fraction(y + crop // 2) * t0 / d), int(Fraction(x + crop // 2) * t0 / d))
                    pixels = cv2.resize(np.ascontiguousarray(sq[y:y + crop, x:x + crop]), (t, t),
                                        interpolation=cv2.INTER_AREA)
                    found.append((_jpeg(pixels, o.quality), center, int(Fraction(crop) * t0 / d)))
        if found:
            ref = cv2.resize(np.ascontiguousarray(sq), (t0, t0), interpolation=cv2.INTER_AREA)
            out.append((label, _jpeg(ref, o.quality), found))
    return out


def _reference_tree(sources: list[Path], o: ChunkOptions, mask_dir: Optional[Path] = None) -> dict:
    """Every file the script writes for `sources` (in its order): bytes, and centers.pt as its dict."""
    files, next_id, counter = {}, 0, 0
    for path in sources:
        mask = cv2.imread(str(mask_dir / (path.name + ".png")), cv2.IMREAD_UNCHANGED) if mask_dir else None
        for label, ref, found in _reference_folders(cv2.imread(str(path), cv2.IMREAD_UNCHANGED), o, mask):
            folder = path.name.replace(".jpg", "").replace(".png", "") + f"_{label}_{counter}"
            counter += 1
            files[f"{folder}/ref.jpg"] = ref
            ref_id, centers = next_id, {}
            for i, (data, center, width) in enumerate(found, 1):
                files[f"{folder}/{ref_id + i:08d}.jpg"] = data
                centers[ref_id + i] = (center, width)
            files[f"{folder}/centers.pt"] = centers
            next_id += 1 + len(found)
    return files


def _written(dst: Path) -> dict:
    """The files of an output folder: bytes, and centers.pt loaded with weights_only=True."""
    files = tree(dst)
    for name in files:
        if name.endswith("/centers.pt"):
            files[name] = torch.load(io.BytesIO(files[name]), weights_only=True)
    return files


def _photo_source(root: Path) -> list[Path]:
    """Set14's baboon (480x492, PNG) and comic (360x240, JPEG), and an odd-sized smooth image (301x333)."""
    pics = photos()
    paths = [root / "baboon.png", root / "comic.jpg", root / "odd.png"]
    for path, img in zip(paths, (pics["baboon"], pics["comic"], _smooth((301, 333, 3)))):
        _write(path, img)
    return paths


# --- tests ------------------------------------------------------------------------------------------------------

def test_photographs_give_the_scripts_folders_tiles_ids_references_and_centers(tmp_path):
    sources = _photo_source(tmp_path / "src")
    report = extract_chunks(str(tmp_path / "src"), str(tmp_path / "dst"), _opts(), progress=False)
    expected = _reference_tree(sources, _opts())
    assert _written(tmp_path / "dst") == expected
    # Ids run over the dataset, each reference taking one: baboon's square 480 gives 14x14 + 9x9 tiles.
    assert sorted(os.listdir(tmp_path / "dst")) == ["baboon_left_0", "comic_left_1", "odd_left_2"]
    assert min(expected["comic_left_1/centers.pt"]) == 1 + 196 + 81 + 1
    assert report.folders == 3 and report.tiles == sum(name.endswith(".jpg") and not name.endswith("/ref.jpg")
                                                        for name in expected)
    assert not (tmp_path / "dst.partial").exists()


def test_centers_and_widths_are_in_reference_pixels_as_worked_out_by_hand(tmp_path):
    _write(tmp_path / "src" / "a.png", _smooth((300, 360, 3)))  # square 300 at column 30
    extract_chunks(str(tmp_path / "src"), str(tmp_path / "dst"),
                   ChunkOptions(crop_sizes=(100, 200), steps=(100, 100), thres_size=0, resizes=(1.0, 0.25),
                                min_size=0), progress=False)
    centers = torch.load(tmp_path / "dst" / "a_left_0" / "centers.pt", weights_only=True)
    # ref.jpg is 100 px for a 300 px square: centres (50, 150, 250) -> 16, 50, 83; crop 100 -> 33; crop 200 -> 66.
    row = [16, 50, 83]
    assert centers == {**{1 + 3 * i + j: ((row[i], row[j]), 33) for i in range(3) for j in range(3)},
                       10: ((33, 33), 66), 11: ((33, 66), 66), 12: ((66, 33), 66), 13: ((66, 66), 66)}
    square = cv2.imread(str(tmp_path / "src" / "a.png"))[:, 30:330]
    assert cv2.imread(str(tmp_path / "dst" / "a_left_0" / "00000013.jpg")).shape == (50, 50, 3)
    assert (tmp_path / "dst" / "a_left_0" / "00000013.jpg").read_bytes() == _jpeg(
        cv2.resize(np.ascontiguousarray(square[100:300, 100:300]), (50, 50), interpolation=cv2.INTER_AREA), 95)


def test_centres_are_exact_where_floating_point_division_falls_one_pixel_short(tmp_path):
    _write(tmp_path / "src" / "a.png", _smooth((320, 320, 3)))
    extract_chunks(str(tmp_path / "src"), str(tmp_path / "dst"),
                   ChunkOptions(crop_sizes=(100, 160), steps=(110, 160), thres_size=0, resizes=(1.0, 0.5),
                                min_size=0), progress=False)
    centers = torch.load(tmp_path / "dst" / "a_left_0" / "centers.pt", weights_only=True)
    # ref.jpg is 100 px for the 320 px square: the 160 px windows at 0 and 160 are centred at 80 and 240, i.e. 25
    # and 75, and 50 wide (80 // 3.2 and 160 // 3.2 in floating point give 24 and 49).
    assert [centers[i] for i in range(10, 14)] == [((25, 25), 50), ((25, 75), 50), ((75, 25), 50), ((75, 75), 50)]


@pytest.mark.parametrize("shape", [(200, 200), (201, 257), (257, 201), (240, 320), (333, 301)])
def test_odd_and_even_sizes_match_the_reference(tmp_path, shape):
    path = tmp_path / "src" / "p.jpg"
    _write(path, _smooth((*shape, 3)))
    extract_chunks(str(tmp_path / "src"), str(tmp_path / "dst"), _opts(), progress=False)
    assert _written(tmp_path / "dst") == _reference_tree([path], _opts())


@pytest.mark.parametrize("changes", [dict(only_resize=True), dict(vertical_split=True), dict(quality=40),
                                     dict(crop_sizes=(80,), steps=(80,), resizes=(0.3,), thres_size=0),
                                     dict(max_size=400), dict(vertical_split=True, max_size=300)],
                         ids=["only-resize", "vertical-split", "quality", "one-scale", "max-size", "split-halved"])
def test_every_option_matches_the_reference(tmp_path, changes):
    sources = _photo_source(tmp_path / "src")
    extract_chunks(str(tmp_path / "src"), str(tmp_path / "dst"), _opts(**changes), progress=False)
    assert _written(tmp_path / "dst") == _reference_tree(sources, _opts(**changes))


def test_only_resize_gives_one_tile_per_scale_the_whole_square(tmp_path):
    _write(tmp_path / "src" / "a.png", _smooth((150, 210, 3)))
    extract_chunks(str(tmp_path / "src"), str(tmp_path / "dst"), _opts(only_resize=True), progress=False)
    folder = tmp_path / "dst" / "a_left_0"
    assert sorted(os.listdir(folder)) == ["00000001.jpg", "00000002.jpg", "centers.pt", "ref.jpg"]
    assert torch.load(folder / "centers.pt", weights_only=True) == {1: ((32, 32), 64), 2: ((32, 32), 64)}
    square = np.ascontiguousarray(cv2.imread(str(tmp_path / "src" / "a.png"))[:, 30:180])
    assert (folder / "00000002.jpg").read_bytes() == _jpeg(cv2.resize(square, (48, 48),
                                                                      interpolation=cv2.INTER_AREA), 95)


def test_vertical_split_cuts_each_half_towards_the_middle(tmp_path):
    img = _smooth((160, 400, 3))
    _write(tmp_path / "src" / "st.png", img)
    _write(tmp_path / "src" / "tall.png", _smooth((300, 400, 3), seed=1))  # halves narrower than the image is high
    extract_chunks(str(tmp_path / "src"), str(tmp_path / "dst"), _opts(vertical_split=True, only_resize=True),
                   progress=False)
    assert sorted(os.listdir(tmp_path / "dst")) == ["st_left_0", "st_right_1", "tall_left_2", "tall_right_3"]
    assert squares(160, 400, True)[0].left == 40 and squares(160, 400, True)[1].left == 200
    assert squares(300, 400, True)[0].top == 100 and squares(300, 400, True)[0].size == 200
    left_ref = cv2.resize(np.ascontiguousarray(img[:, 40:200]), (64, 64), interpolation=cv2.INTER_AREA)
    assert (tmp_path / "dst" / "st_left_0" / "ref.jpg").read_bytes() == _jpeg(left_ref, 95)


def test_a_mask_keeps_the_tiles_it_covers_by_half_or_more(tmp_path):
    _write(tmp_path / "src" / "a.jpg", _smooth((200, 200, 3)))
    mask = np.zeros((64, 64), np.uint8)
    mask[:, :32] = 255  # the left half of the square
    _write(tmp_path / "masks" / "a.jpg.png", mask)
    o = ChunkOptions(crop_sizes=(100,), steps=(50,), thres_size=0, resizes=(1.0,), min_size=0)
    extract_chunks(str(tmp_path / "src"), str(tmp_path / "dst"), o, mask_dir=str(tmp_path / "masks"),
                   progress=False)
    centers = torch.load(tmp_path / "dst" / "a_left_0" / "centers.pt", weights_only=True)
    # Windows start at 0, 50, 100: columns 0 (all white) and 50 (half white, mean 127.5) are kept, 100 is not;
    # their centres 50 and 100 are 25 and 50 in the 100 px reference.
    assert [center[1] for center, _ in centers.values()] == [25, 50] * 3
    assert _written(tmp_path / "dst") == _reference_tree([tmp_path / "src" / "a.jpg"], o, tmp_path / "masks")


def test_a_mask_scales_to_every_crop_size(tmp_path):
    sources = _photo_source(tmp_path / "src")
    for i, path in enumerate(sources):
        _write(tmp_path / "masks" / (path.name + ".png"), cv2.threshold(_smooth((48, 48), seed=i), 128, 255,
                                                                         cv2.THRESH_BINARY)[1])
    extract_chunks(str(tmp_path / "src"), str(tmp_path / "dst"), _opts(), mask_dir=str(tmp_path / "masks"),
                   progress=False)
    expected = _reference_tree(sources, _opts(), tmp_path / "masks")
    assert _written(tmp_path / "dst") == expected
    assert 0 < len(expected) < len(_reference_tree(sources, _opts()))


def test_a_missing_mask_is_one_line_naming_it(tmp_path):
    _photo_source(tmp_path / "src")
    (tmp_path / "masks").mkdir()
    _write(tmp_path / "masks" / "baboon.png.png", np.full((8, 8), 255, np.uint8))
    with pytest.raises(DatasetError) as e:
        extract_chunks(str(tmp_path / "src"), str(tmp_path / "dst"), _opts(), mask_dir=str(tmp_path / "masks"),
                       progress=False)
    assert "2 image(s)" in one_line(str(e.value)) and "comic.jpg.png is missing" in str(e.value)
    assert not (tmp_path / "dst").exists() and not (tmp_path / "dst.partial").exists()


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["extract-chunks", *argv, "--quiet"])
    return args.func(args)


def test_small_and_grey_images_are_skipped_and_listed_and_big_ones_halved(tmp_path, capsys):
    src = tmp_path / "src"
    _write(src / "big.png", _smooth((520, 300, 3)))
    _write(src / "small.png", _smooth((99, 300, 3)))
    _write(src / "sub" / "grey.png", _smooth((200, 200)))
    _write(src / "sub" / "ok.jpg", _smooth((120, 100, 3)))
    (src / "sub" / "ref.jpg").write_bytes(b"left out by name")
    assert _cli(str(src), str(tmp_path / "dst"), "--crop-size", "64", "--step", "64", "--resize", "1",
                "--min-size", "100", "--max-size", "500") == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ["wrote 5 tiles in 2 folders from 4 images to " + str(tmp_path / "dst"),
                   "halved first (a side above --max-size 500): 1",
                   "skipped, short side below --min-size 100: 1", "  small.png (99x300)",
                   "skipped, grey (one channel): 1", "  sub/grey.png"]
    o = ChunkOptions(crop_sizes=(64,), steps=(64,), resizes=(1.0,), min_size=100, max_size=500)
    expected = _reference_tree([src / "big.png", src / "small.png", src / "sub" / "grey.png", src / "sub" / "ok.jpg"],
                               o)
    assert _written(tmp_path / "dst") == expected
    # big: 260x150 once halved, windows 0 and 64 on its square of 150 (22 left <= --thres-size 128): 4 tiles.
    assert sorted(os.listdir(tmp_path / "dst")) == ["big_left_0", "ok_left_1"]


def test_an_alpha_channel_is_dropped(tmp_path):
    img = _smooth((130, 130, 4))
    _write(tmp_path / "src" / "a.png", img)
    extract_chunks(str(tmp_path / "src"), str(tmp_path / "dst"), _opts(), progress=False)
    assert _written(tmp_path / "dst") == _reference_tree([tmp_path / "src" / "a.png"], _opts())
    assert cv2.imread(str(tmp_path / "dst" / "a_left_0" / "ref.jpg"), cv2.IMREAD_UNCHANGED).shape == (64, 64, 3)


def test_sixteen_bit_images_are_scaled_to_eight(tmp_path):
    img = _smooth((130, 150, 3))
    _write(tmp_path / "deep" / "a.png", img.astype(np.uint16) * 257)
    _write(tmp_path / "flat" / "a.png", img)
    for name in ("deep", "flat"):
        extract_chunks(str(tmp_path / name), str(tmp_path / f"{name}_out"), _opts(), progress=False)
    assert tree(tmp_path / "deep_out") == tree(tmp_path / "flat_out")
    assert _written(tmp_path / "flat_out") == _reference_tree([tmp_path / "flat" / "a.png"], _opts())


@pytest.mark.slow
def test_a_killed_run_leaves_no_dst_and_resumes_to_the_bytes_of_an_uninterrupted_run(tmp_path):
    src, dst, fresh = tmp_path / "src", tmp_path / "dst", tmp_path / "fresh"
    _photo_source(src)
    run_killed(f"from dali_sr.prep.extract_chunks import extract_chunks\n"
               f"from dali_sr.prep.chunk_plan import ChunkOptions\n"
               f"extract_chunks({str(src)!r}, {str(dst)!r}, ChunkOptions(**{SMALL!r}), workers=1, progress=False)",
               after=300)  # baboon: ref.jpg, 277 tiles, centers.pt; then comic's 54 files
    assert not dst.exists()  # nothing that loads as a (smaller) dataset
    partial = tmp_path / "dst.partial"
    left = tree(partial)
    complete = [name for name in left if "/" in name and not os.path.basename(name).startswith(".")]
    assert "baboon_left_0/centers.pt" in left and "comic_left_1/centers.pt" not in left
    assert len(complete) == 299 and any(name.startswith("comic_left_1/.") for name in left)
    with pytest.raises(DatasetError, match=r"dst\.partial holds an unfinished extract-chunks of dst; pass --resume"):
        extract_chunks(str(src), str(dst), _opts(), progress=False)
    with pytest.raises(ConfigError, match=r"started with --quality 95, not 90"):
        extract_chunks(str(src), str(dst), _opts(quality=90), resume=True, progress=False)
    report = extract_chunks(str(src), str(dst), _opts(), resume=True, progress=False)
    assert report.resumed == len(complete)
    extract_chunks(str(src), str(fresh), _opts(), progress=False)
    assert tree(dst) == tree(fresh)
    assert not partial.exists()


@pytest.mark.slow
def test_resume_redoes_every_folder_whose_ids_moved(tmp_path):
    src, dst, fresh = tmp_path / "src", tmp_path / "dst", tmp_path / "fresh"
    _photo_source(src)
    run_killed(f"from dali_sr.prep.extract_chunks import extract_chunks\n"
               f"from dali_sr.prep.chunk_plan import ChunkOptions\n"
               f"extract_chunks({str(src)!r}, {str(dst)!r}, ChunkOptions(**{SMALL!r}), workers=1, progress=False)",
               after=300)
    _write(src / "baboon.png", np.ascontiguousarray(photos()["baboon"][:400]))  # fewer tiles: later ids move
    extract_chunks(str(src), str(dst), _opts(), resume=True, progress=False)
    extract_chunks(str(src), str(fresh), _opts(), progress=False)
    assert tree(dst) == tree(fresh)


def test_bad_input_is_one_line(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    with pytest.raises(DatasetError, match="holds no images") as e:
        extract_chunks(str(src), str(tmp_path / "dst"), _opts(), progress=False)
    one_line(str(e.value))
    data = _jpeg(_smooth((200, 200, 3)), 95)
    (src / "cut.jpg").write_bytes(truncated(data))
    with pytest.raises(DatasetError, match=r"cut\.jpg: truncated or damaged JPEG") as e:
        extract_chunks(str(src), str(tmp_path / "dst"), _opts(), progress=False)
    one_line(str(e.value))
    (src / "cut.jpg").write_bytes(data)
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match=r"already exists; pass --force") as e:
        extract_chunks(str(src), str(tmp_path / "dst"), _opts(), progress=False)
    one_line(str(e.value))
    with pytest.raises(DatasetError, match=r"holds notes\.txt, which extract-chunks does not write"):
        extract_chunks(str(src), str(tmp_path / "dst"), _opts(), force=True, progress=False)
    with pytest.raises(ConfigError, match=r"--crop-size gives 2 size\(s\) but --step gives 1") as e:
        extract_chunks(str(src), str(tmp_path / "new"), _opts(steps=(32,)), progress=False)
    one_line(str(e.value))
    with pytest.raises(DatasetError, match=r"no image of .* gives a tile \(1 smaller than --min-size 500") as e:
        extract_chunks(str(src), str(tmp_path / "new"), _opts(min_size=500), progress=False)
    one_line(str(e.value))
    assert not (tmp_path / "new").exists() and not (tmp_path / "new.partial").exists()


def test_force_replaces_a_folder_of_chunks(tmp_path):
    _write(tmp_path / "src" / "a.png", _smooth((100, 100, 3)))
    dst = tmp_path / "dst"
    _write(dst / "old_left_0" / "00000009.jpg", _smooth((8, 8, 3)))
    (dst / "old_left_0" / "centers.pt").write_bytes(b"stale")
    extract_chunks(str(tmp_path / "src"), str(dst), _opts(), force=True, progress=False)
    assert sorted(os.listdir(dst)) == ["a_left_0"]


def test_tiles_plan_alone_matches_the_reference_windows():
    o = _opts()
    found = tiles(301, o)
    expected = [(y, x, c) for c, s in ((64, 32), (96, 48)) for y in _starts(301, c, s, 24)
                for x in _starts(301, c, s, 24)]
    assert [(t.top, t.left, t.crop) for t in found] == expected


@pytest.mark.parametrize("argv,said", [
    (["--crop-size", "64", "96", "--step", "32"], "--crop-size gives 2 size(s) but --step gives 1"),
    (["--mask-dir", "nowhere"], "--mask-dir nowhere is not a folder"),
    (["--quality", "101"], "--quality must be a JPEG quality 0..100, got 101"),
])
def test_the_command_reports_bad_options_in_one_line(tmp_path, capsys, monkeypatch, argv, said):
    from dali_sr.cli import main

    _write(tmp_path / "src" / "a.png", _smooth((100, 100, 3)))
    monkeypatch.chdir(tmp_path)
    assert main(["extract-chunks", "src", "dst", *argv, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert one_line(err.rstrip("\n")).startswith("dali-sr extract-chunks: error: ") and said in err
    assert not (tmp_path / "dst").exists() and not (tmp_path / "dst.partial").exists()
