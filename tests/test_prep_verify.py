"""`dali-sr verify`: clean LMDBs and folders pass; every kind of fault is reported naming its key."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Optional

import cv2
import lmdb
import numpy as np
import pytest

from conftest import with_orientation
from dali_sr.errors import ConfigError, DatasetError
from dali_sr.storage.codecs import encode, meta_tag
from dali_sr.storage.formats import CODECS, codec_extension as extension
from dali_sr.prep import verify as verify_cmd
from dali_sr.prep.verify import verify

SCALE = 2
LQ_SIZES = {"img000": (32, 40), "img001": (36, 32), "img002": (40, 48)}  # jpeg2000 needs sides >= 32


def cli(*argv: str) -> int:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers()
    verify_cmd.add_parser(sub)
    args = p.parse_args(["verify", *argv, "--quiet"])
    return args.func(args)


def image(h: int, w: int, c: int = 3, seed: int = 0) -> np.ndarray:
    shape = (h, w) if c == 1 else (h, w, c)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def meta_line(key: str, img: np.ndarray, codec: str) -> str:
    h, w = img.shape[:2]
    c = 1 if img.ndim == 2 else img.shape[2]
    return f"{key}{extension(codec, c)} ({h},{w},{c}) {meta_tag(codec)}"


def write_lmdb(root: Path, values: dict[str, bytes], lines: Optional[list[str]]) -> str:
    """An LMDB of `values` with `meta_info.txt` holding `lines` (none written for None)."""
    env = lmdb.open(str(root), map_size=1 << 26)
    with env.begin(write=True) as txn:
        for key, value in values.items():
            txn.put(key.encode(), value)
    env.close()
    if lines is not None:
        (root / "meta_info.txt").write_text("".join(line + "\n" for line in lines))
    return str(root)


def write_set(root: Path, images: dict[str, tuple[np.ndarray, str]]) -> str:
    """An LMDB storing each key's image in its codec, with a matching meta_info.txt."""
    values = {k: encode(img, codec, k) for k, (img, codec) in images.items()}
    return write_lmdb(root, values, [meta_line(k, img, codec) for k, (img, codec) in images.items()])


def pair_images(codecs: dict[str, str], gray: tuple[str, ...] = ()) -> tuple[dict, dict]:
    """GT / LQ images (GT = LQ upsampled SCALE x) of every key, in that key's codec."""
    gt, lq = {}, {}
    for n, (key, (h, w)) in enumerate(LQ_SIZES.items()):
        small = image(h, w, 1 if key in gray else 3, seed=n)
        lq[key] = (small, codecs[key])
        gt[key] = (small.repeat(SCALE, 0).repeat(SCALE, 1), codecs[key])
    return gt, lq


def make_pair(tmp: Path, codecs: dict[str, str], gray: tuple[str, ...] = ()) -> tuple[str, str]:
    gt, lq = pair_images(codecs, gray)
    return write_set(tmp / "gt.lmdb", gt), write_set(tmp / "lq.lmdb", lq)


def put(root: str, key: str, value: Optional[bytes]) -> None:
    """Overwrite (or delete, for None) one value of an LMDB."""
    env = lmdb.open(root, map_size=1 << 26)
    with env.begin(write=True) as txn:
        if value is None:
            txn.delete(key.encode())
        else:
            txn.put(key.encode(), value)
    env.close()


def edit_meta(root: str, key: str, line: Optional[str]) -> None:
    """Replace (or drop, for None) the meta_info.txt line of `key`."""
    path = Path(root) / "meta_info.txt"
    lines = [line if ln.startswith(key + ".") else ln for ln in path.read_text().splitlines()]
    path.write_text("".join(ln + "\n" for ln in lines if ln is not None))


def only(report, kind: str):
    """The single problem of `kind` in `report`."""
    found = [p for p in report.problems if p.kind == kind]
    assert len(found) == 1, report.problems
    return found[0]


def one_line(msg: str) -> str:
    assert msg and "\n" not in msg, msg
    return msg


ALL = {"png": dict.fromkeys(LQ_SIZES, "png"), "jpeg": dict.fromkeys(LQ_SIZES, "jpeg"),
       "jpeg2000": dict.fromkeys(LQ_SIZES, "jpeg2000"), "htj2k": dict.fromkeys(LQ_SIZES, "htj2k"),
       "raw": dict.fromkeys(LQ_SIZES, "raw"), "mixed": {"img000": "png", "img001": "htj2k", "img002": "raw"}}


@pytest.mark.parametrize("name", list(ALL))
def test_clean_pair_passes(tmp_path, name, capsys):
    gt, lq = make_pair(tmp_path, ALL[name], gray=("img001",))
    report = verify(gt, pair=lq, scale=SCALE, workers=2, progress=False)
    assert report.ok, report.problems
    expected = {c: list(ALL[name].values()).count(c) for c in CODECS if c in ALL[name].values()}
    for side, path in (("gt", gt), ("lq", lq)):
        s = report.sides[side]
        assert (s.path, s.kind, s.images, s.codecs) == (path, "lmdb", 3, expected)
    assert cli(gt, "--pair", lq, "--scale", str(SCALE)) == 0
    assert "no problems found" in capsys.readouterr().out


def test_single_lmdb_passes(tmp_path):
    gt, _ = pair_images(ALL["mixed"], gray=("img000", "img002"))
    root = write_set(tmp_path / "one.lmdb", gt)
    report = verify(root, workers=1, progress=False)
    assert report.ok and list(report.sides) == ["data"] and report.sides["data"].images == 3


@pytest.mark.parametrize("codec", ["png", "jpeg"])
def test_exif_rotated_images_pass(tmp_path, codec):
    gt, lq = make_pair(tmp_path, dict.fromkeys(LQ_SIZES, codec))
    for root in (gt, lq):
        env = lmdb.open(root, readonly=True, lock=False)
        with env.begin() as txn:
            values = {k.decode(): bytes(v) for k, v in txn.cursor()}
        env.close()
        for key, value in values.items():
            put(root, key, with_orientation(value, 6))  # shown transposed: header and IMREAD_UNCHANGED differ
    report = verify(gt, pair=lq, scale=SCALE, workers=1, progress=False)
    assert report.ok, report.problems


def test_truncated_png_is_caught(tmp_path, capsys):
    gt, lq = make_pair(tmp_path, ALL["png"])
    value = encode(pair_images(ALL["png"])[0]["img001"][0], "png", "img001")
    put(gt, "img001", value[: len(value) // 2])
    report = verify(gt, pair=lq, scale=SCALE, progress=False)
    p = only(report, "corrupt")
    assert (p.key, p.side) == ("img001", "gt") and len(report.problems) == 1
    assert one_line(p.message).startswith(f"LMDB {gt} key img001: ")
    assert cli(gt, "--pair", lq, "--scale", str(SCALE)) == 1
    out = capsys.readouterr().out
    assert "1 problem:" in out and f"[gt] corrupt: LMDB {gt} key img001" in out


def test_jpeg_without_end_marker_is_caught(tmp_path):
    gt, lq = make_pair(tmp_path, ALL["jpeg"])
    value = encode(pair_images(ALL["jpeg"])[1]["img002"][0], "jpeg", "img002")
    put(lq, "img002", value[:-2])
    p = only(verify(gt, pair=lq, scale=SCALE, progress=False), "corrupt")
    assert (p.key, p.side) == ("img002", "lq")


def test_unsupported_format_is_caught(tmp_path):
    gt, lq = make_pair(tmp_path, ALL["png"])
    put(lq, "img000", cv2.imencode(".bmp", image(32, 40))[1].tobytes())
    report = verify(gt, pair=lq, scale=SCALE, progress=False)
    p = only(report, "header")
    assert (p.key, p.side) == ("img000", "lq") and "unsupported image format (BMP)" in one_line(p.message)
    assert report.sides["lq"].codecs == {"BMP": 1, "png": 2} and len(report.problems) == 1


def test_missing_partner_is_caught(tmp_path):
    gt, lq = make_pair(tmp_path, ALL["png"])
    put(lq, "img001", None)
    edit_meta(lq, "img001", None)
    report = verify(gt, pair=lq, scale=SCALE, progress=False)
    p = only(report, "unpaired")
    assert (p.key, p.side) == ("img001", "gt") and len(report.problems) == 1
    assert lq in one_line(p.message) and "no LQ image" in p.message


def test_scale_mismatch_names_both_shapes(tmp_path):
    gt, lq = make_pair(tmp_path, ALL["raw"])
    wrong = image(33, 48)
    put(lq, "img002", encode(wrong, "raw", "img002"))
    edit_meta(lq, "img002", meta_line("img002", wrong, "raw"))
    report = verify(gt, pair=lq, scale=SCALE, progress=False)
    p = only(report, "scale")
    assert (p.key, p.side) == ("img002", "pair") and len(report.problems) == 1
    assert "GT (80,96,3)" in one_line(p.message) and "LQ (33,48,3)" in p.message and "expected 66x96" in p.message
    assert not verify(gt, pair=lq, scale=3, progress=False).ok


def test_meta_shape_disagreeing_is_caught(tmp_path):
    gt, lq = make_pair(tmp_path, ALL["png"], gray=("img000",))
    edit_meta(lq, "img000", "img000.png (32,40,3) 1")  # the value is gray: (32,40,1)
    p = only(verify(gt, pair=lq, scale=SCALE, progress=False), "meta_shape")
    assert (p.key, p.side) == ("img000", "lq")
    assert "says (32,40,3)" in one_line(p.message) and "decodes to (32,40,1)" in p.message


def test_meta_and_data_key_sets_differ(tmp_path):
    gt, lq = make_pair(tmp_path, ALL["png"])
    edit_meta(gt, "img001", None)
    with open(Path(gt) / "meta_info.txt", "a") as f:
        f.write("img999.png (64,64,3) 1\n")
    report = verify(gt, progress=False)
    assert (only(report, "not_in_meta").key, only(report, "missing_value").key) == ("img001", "img999")
    assert len(report.problems) == 2 and all(p.side == "data" for p in report.problems)


def test_codec_tag_disagreeing_is_caught(tmp_path):
    gt, lq = make_pair(tmp_path, ALL["mixed"])
    edit_meta(gt, "img002", "img002.ppm (80,96,3) jpeg:q95")  # a raw value
    edit_meta(lq, "img000", "img000.png (32,40,3) webp")  # no codec of that name
    report = verify(gt, pair=lq, scale=SCALE, progress=False)
    gt_p, lq_p = (next(p for p in report.problems if p.side == side) for side in ("gt", "lq"))
    assert len(report.problems) == 2 and gt_p.kind == lq_p.kind == "meta_codec"
    assert gt_p.key == "img002" and "says jpeg (jpeg:q95) but the value is raw" in one_line(gt_p.message)
    assert lq_p.key == "img000" and "tag 'webp' names no codec" in one_line(lq_p.message)


def test_malformed_meta_line_is_caught(tmp_path):
    gt, _ = make_pair(tmp_path, ALL["png"])
    edit_meta(gt, "img000", "img000.png 64x80 1")
    p = only(verify(gt, progress=False), "meta_line")
    assert "second column is not a shape" in one_line(p.message)


def test_lmdb_without_meta_info(tmp_path, capsys):
    gt, lq = make_pair(tmp_path, ALL["png"])
    os.remove(Path(lq) / "meta_info.txt")
    report = verify(gt, pair=lq, scale=SCALE, progress=False)
    p = only(report, "no_meta")
    assert (p.key, p.side) == (None, "lq") and len(report.problems) == 1
    assert "has no meta_info.txt: incomplete or not written by BasicSR/dali-sr pack" in one_line(p.message)


def test_folders(tmp_path):
    gt_imgs, lq_imgs = pair_images(ALL["png"], gray=("img001",))
    for side, imgs in (("gt", gt_imgs), ("lq", lq_imgs)):
        for n, (key, (img, _)) in enumerate(imgs.items()):
            sub = tmp_path / side / ("a" if n else "")
            sub.mkdir(parents=True, exist_ok=True)
            assert cv2.imwrite(str(sub / (key + (".png", ".jpg", ".ppm")[n])), img)
        (tmp_path / side / "notes.txt").write_text("not an image")
        (tmp_path / side / ".hidden").mkdir()
        (tmp_path / side / ".hidden" / "junk.png").write_bytes(b"junk")
    gt, lq = str(tmp_path / "gt"), str(tmp_path / "lq")
    report = verify(gt, pair=lq, scale=SCALE, progress=False)
    assert report.ok, report.problems
    assert report.sides["gt"].kind == "folder" and report.sides["gt"].codecs == {"jpeg": 1, "png": 1, "raw": 1}
    bad = tmp_path / "lq" / "a" / "img001.jpg"
    bad.write_bytes(bad.read_bytes()[:100])
    (tmp_path / "gt" / "img000.png").unlink()
    (tmp_path / "gt" / "a" / "img002.ppm").unlink()
    assert cv2.imwrite(str(tmp_path / "gt" / "a" / "img002.bmp"), gt_imgs["img002"][0])  # not a stored codec
    report = verify(gt, pair=lq, scale=SCALE, progress=False)
    assert {(p.kind, p.side, p.key) for p in report.problems} == {
        ("corrupt", "lq", "a/img001"), ("unpaired", "lq", "img000"), ("header", "gt", "a/img002")}
    assert only(report, "corrupt").message.startswith(f"{bad}: ")
    assert cv2.imwrite(str(tmp_path / "gt" / "a" / "img002.png"), gt_imgs["img002"][0])
    with pytest.raises(DatasetError, match="have the same key a/img002; keep one of them"):
        verify(gt, progress=False)


def test_json_output(tmp_path, capsys):
    gt, lq = make_pair(tmp_path, ALL["mixed"])
    put(gt, "img000", b"\x89PNG\r\n\x1a\n" + bytes(40))
    out = tmp_path / "report.json"
    assert cli(gt, "--pair", lq, "--scale", str(SCALE), "--json", str(out)) == 1
    data = json.loads(out.read_text())
    report = verify(gt, pair=lq, scale=SCALE, progress=False)
    assert data == report.to_json()
    assert data["ok"] is False and data["scale"] == SCALE
    assert data["sides"]["lq"] == {"path": lq, "kind": "lmdb", "images": 3,
                                   "codecs": {"htj2k": 1, "png": 1, "raw": 1}}
    assert [(p["key"], p["side"], p["kind"]) for p in data["problems"]] == [("img000", "gt", "header")]
    capsys.readouterr()
    assert cli(gt, "--pair", lq, "--scale", str(SCALE), "--json", "-") == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out) == data and "1 problem:" in captured.err


def test_bad_usage(tmp_path):
    gt, lq = make_pair(tmp_path, ALL["png"])
    with pytest.raises(ConfigError, match="--pair LQ_PATH and --scale S go together"):
        cli(gt, "--pair", lq)
    with pytest.raises(ConfigError, match="go together"):
        verify(gt, scale=2)
    with pytest.raises(ConfigError, match="scale must be a positive integer"):
        verify(gt, pair=lq, scale=0)
    with pytest.raises(SystemExit):
        cli(gt, "--pair", lq, "--scale", "0")
    with pytest.raises(DatasetError, match="does not exist; give an LMDB folder"):
        verify(str(tmp_path / "nope"), progress=False)
    with pytest.raises(DatasetError, match="give the LMDB folder"):
        verify(str(Path(gt) / "data.mdb"), progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="holds no images and no data.mdb"):
        verify(str(tmp_path / "empty"), progress=False)
    with pytest.raises(DatasetError, match="folder .* of --json does not exist"):
        cli(gt, "--json", str(tmp_path / "no" / "r.json"))


def test_edvr_pkl_lmdb_is_refused(tmp_path):
    root = write_lmdb(tmp_path / "edvr.lmdb", {"000/00000000": bytes(12)}, None)
    (Path(root) / "meta_info.pkl").write_bytes(b"not read")
    with pytest.raises(DatasetError) as e:
        verify(root, progress=False)
    assert "verify/inspect read BasicSR LMDBs with meta_info.txt" in one_line(str(e.value))


def test_summary_shows_first_20_problems(tmp_path, capsys):
    png = encode(image(4, 4), "png", "x")
    root = write_lmdb(tmp_path / "many.lmdb", {f"k{n:02d}": png for n in range(25)}, [])
    assert cli(root) == 1
    out = capsys.readouterr().out.splitlines()
    assert "25 problems (first 20):" in out
    shown = [line for line in out if line.startswith("  [data] not_in_meta: ")]
    assert len(shown) == 20 and "key k19: " in shown[-1]


# -- images decoded from a truncated JPEG ---------------------------------------------------------------------------
def fixture_values(basicsr_fixtures: Path, side: str) -> dict[str, bytes]:
    env = lmdb.open(str(basicsr_fixtures / f"{side}.lmdb"), readonly=True, lock=False)
    try:
        with env.begin() as txn:
            return {k.decode(): bytes(v) for k, v in txn.cursor()}
    finally:
        env.close()


def first_filled_row(img: np.ndarray) -> int:
    """Reference: the first row from which every row down to the bottom is 128 in every channel."""
    return next(r for r in range(img.shape[0] + 1) if (img[r:] == 128).all())


@pytest.mark.parametrize("sampling", ["4:4:4", "4:2:0"])
@pytest.mark.parametrize("photo", ["baboon", "comic"])
def test_an_image_decoded_from_a_truncated_jpeg_is_caught(tmp_path, basicsr_fixtures, sampling, photo):
    real = cv2.imdecode(np.frombuffer(fixture_values(basicsr_fixtures, "gt")[photo], np.uint8), cv2.IMREAD_UNCHANGED)
    factor = {"4:4:4": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444, "4:2:0": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420}[sampling]
    jpeg = cv2.imencode(".jpg", real, [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, factor])[1]
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(jpeg.tobytes()[: jpeg.size * 6 // 10])
    filled = cv2.imread(str(cut), cv2.IMREAD_UNCHANGED)  # full size, grey below the cut (what used to be stored)
    whole = cv2.imdecode(jpeg, cv2.IMREAD_UNCHANGED)
    row = first_filled_row(filled)
    assert 0 < row < filled.shape[0] - 8
    images = {"cut": (filled, "png"), "whole": (whole, "png"), "gray": (cv2.cvtColor(whole, cv2.COLOR_BGR2GRAY), "png")}
    report = verify(write_set(tmp_path / "x.lmdb", images), progress=False)
    p = only(report, "grey_fill")
    assert (p.key, p.side) == ("cut", "data") and len(report.problems) == 1
    assert one_line(p.message).startswith(f"LMDB {tmp_path / 'x.lmdb'} key cut: rows {row}..{filled.shape[0] - 1} "
                                          f"are uniform grey")


def test_a_truncated_jpeg_file_and_its_grey_decode_are_caught_in_a_folder(tmp_path, basicsr_fixtures):
    real = cv2.imdecode(np.frombuffer(fixture_values(basicsr_fixtures, "gt")["baboon"], np.uint8), -1)
    folder = tmp_path / "images"
    folder.mkdir()
    jpeg = cv2.imencode(".jpg", real)[1].tobytes()
    (folder / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    cv2.imwrite(str(folder / "stored.png"), cv2.imread(str(folder / "cut.jpg"), cv2.IMREAD_UNCHANGED))
    (folder / "whole.jpg").write_bytes(jpeg)
    report = verify(str(folder), progress=False)
    assert {(p.key, p.kind) for p in report.problems} == {("cut", "corrupt"), ("stored", "grey_fill")}


def test_the_fixture_photos_and_uniform_images_raise_no_grey_fill(tmp_path, basicsr_fixtures):
    for side in ("gt", "lq"):
        report = verify(str(basicsr_fixtures / f"{side}.lmdb"), progress=False)
        assert not [p for p in report.problems if p.kind != "meta_shape"], report.problems  # lq: BasicSR's quirk
    grey = np.full((32, 40, 3), 128, np.uint8)
    bottom = image(32, 40)
    bottom[20:] = 128  # grey from a row that is no block boundary
    short = image(32, 40)
    short[28:] = 128  # only four rows
    report = verify(write_set(tmp_path / "y.lmdb", {"grey": (grey, "png"), "bottom": (bottom, "png"),
                                                      "short": (short, "png")}), progress=False)
    assert report.ok, report.problems


# -- partial builds are not datasets --------------------------------------------------------------------------------
def test_verify_and_inspect_of_a_partial_build_say_how_to_finish_it(tmp_path, monkeypatch, capsys):
    from dali_sr.cli import main
    from dali_sr.prep import pack as pack_mod
    from dali_sr.prep.pack import pack

    src = tmp_path / "src"
    src.mkdir()
    for n in range(4):
        cv2.imwrite(str(src / f"img{n}.png"), image(8, 8, seed=n))
    real = pack_mod._encode_file

    def encode(path, encoding):
        if path.endswith("img2.png"):
            raise DatasetError("simulated stop")
        return real(path, encoding)

    monkeypatch.setattr(pack_mod, "_encode_file", encode)
    for dst, shape in ((tmp_path / "out.lmdb", {"fmt": "lmdb"}), (tmp_path / "shards", {"fmt": "wds", "shards": 2})):
        with pytest.raises(DatasetError, match="simulated stop"):  # after storing img0 and img1
            pack(str(src), str(dst), workers=1, commit_every=1, progress=False, **shape)
        partial = dst.with_name(dst.name + ".partial")
        for command in ("verify", "inspect"):
            assert main([command, str(partial), "--quiet"]) == 2
            err = capsys.readouterr().err
            assert f"{partial} is an unfinished dali-sr pack build of {dst}, not a dataset" in err
            assert "--resume" in err and len(err.strip().splitlines()) == 1
    moved = tmp_path / "moved.lmdb"
    (tmp_path / "out.lmdb.partial").rename(moved)  # the state file still tells
    assert main(["inspect", str(moved)]) == 2
    assert "holds pack_state.json: it is an unfinished dali-sr pack build" in capsys.readouterr().err
