"""`dali-sr extract-tfrecords`: FFHQ's and CelebA's TFRecords -> PNG folders or LMDBs under the names and keys
BasicSR's extract_images_from_tfrecords.py gives them, resumable, bad input named."""
from __future__ import annotations

import argparse
import re
import textwrap
from pathlib import Path

import cv2
import lmdb
import numpy as np
import pytest

import dali_sr
from dali_sr.errors import ConfigError, DatasetError
from dali_sr.prep import extract_tfrecords as mod
from dali_sr.storage.meta_files import read_meta_info_txt
from dali_sr.storage.tfrecord import RecordWriter, encode_example
from prep_runs import run_killed, tree

tfrecord_writer = pytest.importorskip("tfrecord.writer")


def _images(n: int, side: int, seed: int, channels: int = 3) -> list[np.ndarray]:
    """FFHQ-like records' pixels: uint8 CHW, RGB."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (channels, side, side), dtype=np.uint8) for _ in range(n)]


def _write_with_tfrecord_package(path: Path, images: list[np.ndarray]) -> None:
    """A file as FFHQ's (TensorFlow) writer made it, by the independent `tfrecord` package."""
    writer = tfrecord_writer.TFRecordWriter(str(path))
    for img in images:
        writer.write({"shape": (list(img.shape), "int"), "data": (img.tobytes(), "byte")})
    writer.close()


def _write_records(path: Path, records: list[dict]) -> None:
    with open(path, "wb") as f:
        writer = RecordWriter(f)
        for record in records:
            writer.write(encode_example(record))


def _record(img: np.ndarray) -> dict:
    return {"shape": list(img.shape), "data": img.tobytes()}


def _basicsr_bgr(chw: np.ndarray) -> np.ndarray:
    """BasicSR's convert_ffhq_tfrecords: CHW -> HWC, then RGB -> BGR."""
    return chw.transpose(1, 2, 0)[:, :, [2, 1, 0]]


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="dali-sr")
    mod.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["extract-tfrecords", *argv, "--quiet"])
    return args.func(args)


OUT = {"ffhq-r03": "ffhq_8", "ffhq-r04": "ffhq_16"}  # BasicSR's output names: ffhq_{2^N}


@pytest.fixture
def ffhq(tmp_path) -> tuple[Path, dict[str, list[np.ndarray]]]:
    """A folder with two FFHQ-format files (8 and 16 pixels a side) written by the `tfrecord` package."""
    src = tmp_path / "tfrecords"
    src.mkdir()
    images = {"ffhq-r03": _images(3, 8, 0), "ffhq-r04": _images(2, 16, 1)}
    for stem, imgs in images.items():
        _write_with_tfrecord_package(src / f"{stem}.tfrecords", imgs)
    (src / "LICENSE.txt").write_text("not a tfrecord")
    return src, images


def test_png_folders_hold_basicsrs_names_and_pixels(ffhq, tmp_path, capsys):
    src, images = ffhq
    assert _run(str(src), str(tmp_path / "out")) == 0
    assert "extracted 5 images" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ffhq_16", "ffhq_8"]
    for stem, imgs in images.items():
        folder = tmp_path / "out" / OUT[stem]
        assert sorted(p.name for p in folder.iterdir()) == [f"{n:08d}.png" for n in range(len(imgs))]
        for n, img in enumerate(imgs):
            assert np.array_equal(cv2.imread(str(folder / f"{n:08d}.png"), cv2.IMREAD_UNCHANGED), _basicsr_bgr(img))


def test_lmdb_holds_basicsrs_values_and_meta_info(ffhq, tmp_path):
    src, images = ffhq
    report = mod.extract_tfrecords(str(src / "ffhq-r03.tfrecords"), str(tmp_path / "out"), lmdb=True,
                                   progress=False, workers=2)
    assert (report.images, report.written, report.resumed) == (3, 3, 0)
    db = tmp_path / "out" / "ffhq_8.lmdb"
    assert report.outputs == [str(db)] and sorted(p.name for p in (tmp_path / "out").iterdir()) == [db.name]
    lines, problems = read_meta_info_txt(str(db / "meta_info.txt"))
    assert problems == [] and [(x.key, x.shape, x.tag) for x in lines] == [(f"{n:08d}/r03", (8, 8, 3), "1")
                                                                           for n in range(3)]
    assert (db / "meta_info.txt").read_text().splitlines()[0] == "00000000/r03.png (8,8,3) 1"
    env = lmdb.open(str(db), readonly=True, lock=False)
    with env.begin() as txn:
        for n, img in enumerate(images["ffhq-r03"]):
            value = txn.get(f"{n:08d}/r03".encode())
            basicsr = cv2.imencode(".png", _basicsr_bgr(img), [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes()
            assert value == basicsr
    env.close()


def test_gray_records_stay_gray(tmp_path):
    src = tmp_path / "gray.tfrecords"
    imgs = _images(2, 8, 2, channels=1)
    _write_with_tfrecord_package(src, imgs)
    mod.extract_tfrecords(str(src), str(tmp_path / "out"), progress=False)
    for n, img in enumerate(imgs):
        got = cv2.imread(str(tmp_path / "out" / "ffhq_8" / f"{n:08d}.png"), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(got, img[0])


@pytest.mark.parametrize("lmdb_out", [False, True], ids=["png", "lmdb"])
def test_an_interrupted_run_is_resumed_after_the_input_is_fixed(tmp_path, lmdb_out):
    src, dst = tmp_path / "ffhq-r03.tfrecords", tmp_path / "out"
    imgs = _images(5, 8, 3)
    broken = [_record(img) for img in imgs]
    broken[3]["data"] = imgs[3].tobytes()[:-1]
    _write_records(src, broken)
    with pytest.raises(DatasetError, match=rf"^{re.escape(str(src))} record 3: 'data' holds 191 bytes but shape "
                                           r"\[3, 8, 8\] needs 192; the record is corrupt, download the file again$"):
        mod.extract_tfrecords(str(src), str(dst), lmdb=lmdb_out, workers=1, progress=False)
    out = "ffhq_8.lmdb" if lmdb_out else "ffhq_8"
    assert sorted(p.name for p in dst.iterdir()) == [f"{out}.partial"]
    if not lmdb_out:
        assert sorted(p.name for p in (dst / f"{out}.partial").iterdir()) == [
            "00000000.png", "00000001.png", "00000002.png", "pack_state.json"]
    with pytest.raises(DatasetError, match=rf"holds an unfinished extract-tfrecords of {out}; pass --resume"):
        mod.extract_tfrecords(str(src), str(dst), lmdb=lmdb_out, progress=False)

    _write_records(src, [_record(img) for img in imgs])  # records 0-2 unchanged, byte for byte
    report = mod.extract_tfrecords(str(src), str(dst), lmdb=lmdb_out, resume=True, progress=False)
    assert (report.images, report.written, report.resumed) == (5, 2, 3)
    if lmdb_out:
        env = lmdb.open(str(dst / "ffhq_8.lmdb"), readonly=True, lock=False)
        with env.begin() as txn:
            got = [cv2.imdecode(np.frombuffer(txn.get(f"{n:08d}/r03".encode()), np.uint8), cv2.IMREAD_UNCHANGED)
                   for n in range(5)]
        env.close()
        assert sorted(p.name for p in dst.iterdir()) == ["ffhq_8.lmdb"]
    else:
        got = [cv2.imread(str(dst / "ffhq_8" / f"{n:08d}.png"), cv2.IMREAD_UNCHANGED) for n in range(5)]
    assert all(np.array_equal(g, _basicsr_bgr(img)) for g, img in zip(got, imgs))


def test_resume_keeps_a_finished_folder_and_force_writes_it_again(tmp_path):
    src, folder = tmp_path / "ffhq-r03.tfrecords", tmp_path / "out" / "ffhq_8"
    imgs = _images(3, 8, 4)
    _write_with_tfrecord_package(src, imgs)
    assert _run(str(src), str(tmp_path / "out")) == 0
    marker = cv2.imencode(".png", np.zeros((2, 2), np.uint8))[1].tobytes()
    (folder / "00000001.png").write_bytes(marker)
    assert _run(str(src), str(tmp_path / "out"), "--resume") == 0
    assert (folder / "00000001.png").read_bytes() == marker  # a finished output is kept as it is
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match=r"ffhq_8 is a finished output that does not hold the 3 records of "
                                           r".*ffhq-r03\.tfrecords \(as --level 1 PNGs\); pass --force"):
        _run(str(src), str(tmp_path / "out"), "--resume")
    with pytest.raises(DatasetError, match=r"ffhq_8 holds notes\.txt, which extract-tfrecords does not write; "
                                           r"--force only replaces a folder of numbered PNGs"):
        _run(str(src), str(tmp_path / "out"), "--force")
    (folder / "notes.txt").unlink()
    assert _run(str(src), str(tmp_path / "out"), "--force") == 0
    assert np.array_equal(cv2.imread(str(folder / "00000001.png"), cv2.IMREAD_UNCHANGED), _basicsr_bgr(imgs[1]))


def _two_files(src: Path) -> list[np.ndarray]:
    """Two FFHQ files in `src`; returns the images of the first."""
    src.mkdir()
    first = _images(6, 8, 9)
    _write_with_tfrecord_package(src / "ffhq-r03.tfrecords", first)
    _write_with_tfrecord_package(src / "ffhq-r04.tfrecords", _images(5, 16, 10))
    return first


def _lmdb_values(db: Path) -> dict[bytes, bytes]:
    env = lmdb.open(str(db), readonly=True, lock=False)
    with env.begin() as txn:
        values = dict(txn.cursor())
    env.close()
    return values


@pytest.mark.parametrize("lmdb_out", [False, True], ids=["png", "lmdb"])
def test_several_files_resume_to_the_bytes_of_an_uninterrupted_run(tmp_path, monkeypatch, lmdb_out):
    src, dst, fresh = tmp_path / "src", tmp_path / "out", tmp_path / "fresh"
    _two_files(src)
    real, calls = mod._png, [0]

    def stop_at_the_ninth(*args):
        calls[0] += 1
        if calls[0] == 9:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(mod, "_png", stop_at_the_ninth)
    with pytest.raises(KeyboardInterrupt):
        mod.extract_tfrecords(str(src), str(dst), lmdb=lmdb_out, workers=1, progress=False)
    out = ".lmdb" if lmdb_out else ""
    assert sorted(p.name for p in dst.iterdir()) == [f"ffhq_16{out}.partial", f"ffhq_8{out}"]
    monkeypatch.setattr(mod, "_png", real)
    report = mod.extract_tfrecords(str(src), str(dst), lmdb=lmdb_out, resume=True, progress=False)
    assert (report.images, report.resumed, report.written) == (11, 8, 3)
    mod.extract_tfrecords(str(src), str(fresh), lmdb=lmdb_out, progress=False)
    for name in (f"ffhq_8{out}", f"ffhq_16{out}"):
        if lmdb_out:
            assert _lmdb_values(dst / name) == _lmdb_values(fresh / name)
            assert (dst / name / "meta_info.txt").read_bytes() == (fresh / name / "meta_info.txt").read_bytes()
        else:
            assert tree(dst / name) == tree(fresh / name)
    assert sorted(p.name for p in dst.iterdir()) == [f"ffhq_16{out}", f"ffhq_8{out}"]


def test_a_killed_png_run_leaves_no_folder_and_resumes_to_the_bytes_of_an_uninterrupted_run(tmp_path):
    src, dst, fresh = tmp_path / "src", tmp_path / "out", tmp_path / "fresh"
    first = _two_files(src)
    run_killed(f"from dali_sr.prep.extract_tfrecords import extract_tfrecords\n"
               f"extract_tfrecords({str(src)!r}, {str(dst)!r}, workers=1, progress=False)", after=3)
    assert sorted(p.name for p in dst.iterdir()) == ["ffhq_8.partial"]  # no folder that loads as a dataset
    left = tree(dst / "ffhq_8.partial")
    assert sorted(left) == [".00000002.png.tmp", "00000000.png", "00000001.png", "pack_state.json"]
    with pytest.raises(ConfigError, match=r"ffhq_8\.partial was started with --level 1, not 9; resume with the same "
                                          r"options"):
        mod.extract_tfrecords(str(src), str(dst), level=9, resume=True, progress=False)
    first[1] = first[1][:, ::-1].copy()  # record 1 changed since: its PNG is redone, record 0's kept
    _write_with_tfrecord_package(src / "ffhq-r03.tfrecords", first)
    report = mod.extract_tfrecords(str(src), str(dst), resume=True, progress=False)
    assert (report.images, report.resumed, report.written) == (11, 1, 10)
    assert tree(dst)["ffhq_8/00000000.png"] == left["00000000.png"]
    mod.extract_tfrecords(str(src), str(fresh), progress=False)
    assert tree(dst) == tree(fresh)


def test_force_replaces_a_finished_lmdb(tmp_path):
    src = tmp_path / "ffhq-r03.tfrecords"
    _write_with_tfrecord_package(src, _images(2, 8, 5))
    mod.extract_tfrecords(str(src), str(tmp_path / "out"), lmdb=True, progress=False)
    with pytest.raises(DatasetError, match=r"ffhq_8\.lmdb already exists \(a complete LMDB\); pass --force"):
        mod.extract_tfrecords(str(src), str(tmp_path / "out"), lmdb=True, progress=False)
    imgs = _images(3, 8, 6)
    _write_with_tfrecord_package(src, imgs)
    report = mod.extract_tfrecords(str(src), str(tmp_path / "out"), lmdb=True, force=True, progress=False)
    assert (report.images, report.written) == (3, 3)
    assert len(read_meta_info_txt(str(tmp_path / "out" / "ffhq_8.lmdb" / "meta_info.txt"))[0]) == 3


_GOOD = _images(1, 4, 7)[0]


@pytest.mark.parametrize("record, message", [
    ({"data": _GOOD.tobytes()}, r"no feature 'shape' \(it has data\); extract-tfrecords --dataset ffhq reads FFHQ's "
                                r"TFRecords"),
    ({"shape": [3, 4, 4], "label": [1]}, r"no feature 'data' \(it has label, shape\)"),
    ({"shape": [4, 4], "data": _GOOD.tobytes()}, r"feature 'shape' is \[4, 4\], not three int64 \[C, H, W\]"),
    ({"shape": [3.0, 4.0, 4.0], "data": _GOOD.tobytes()}, r"feature 'shape' is \[3\.0, 4\.0, 4\.0\]"),
    ({"shape": [3, 4, 4], "data": [b"a", b"b"]}, r"feature 'data' is not one bytes value"),
    ({"shape": [4, 4, 3], "data": _GOOD.tobytes()}, r"shape \[C, H, W\] is \[4, 4, 3\]: the records hold 3 \(or 1\) "
                                                    r"channels"),
    ({"shape": [3, 4, 5], "data": _GOOD.tobytes()}, r"'data' holds 48 bytes but shape \[3, 4, 5\] needs 60; the "
                                                    r"record is corrupt"),
], ids=["no-shape", "no-data", "short-shape", "float-shape", "two-data", "hwc", "length"])
def test_records_that_are_not_ffhq_images_are_named(tmp_path, record, message):
    src = tmp_path / "bad.tfrecords"
    _write_records(src, [_record(_GOOD), record])
    with pytest.raises(DatasetError, match=rf"^{re.escape(str(src))} record 1: {message}"):
        mod.extract_tfrecords(str(src), str(tmp_path / "out"), workers=1, progress=False)
    out = tmp_path / "out"
    assert (out / "ffhq_4.partial" / "00000000.png").is_file() and not (out / "ffhq_4").exists()


def test_a_truncated_file_is_named_before_anything_is_written(ffhq, tmp_path):
    src, _ = ffhq
    path = src / "ffhq-r04.tfrecords"
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(DatasetError, match=rf"^{re.escape(str(path))}: truncated at byte {len(data) - 10}: record 1 "
                                           r"at byte \d+ ends at byte \d+; re-create \(or download again\) the file"):
        _run(str(src), str(tmp_path / "out"), "--lmdb")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_corrupt_record_is_named_by_its_crc(tmp_path):
    src = tmp_path / "ffhq-r02.tfrecords"
    _write_with_tfrecord_package(src, _images(2, 4, 8))
    data = bytearray(src.read_bytes())
    data[-30] ^= 0xFF
    src.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=rf"^{re.escape(str(src))} record 1: the record at byte \d+ is corrupt "
                                           r"\(its payload fails the CRC check\)"):
        mod.extract_tfrecords(str(src), str(tmp_path / "out"), progress=False)


def test_sources_that_are_not_tfrecords(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"no \*\.tfrecords files in .*empty; give a \.tfrecords file"):
        mod.extract_tfrecords(str(tmp_path / "empty"), str(tmp_path / "out"), progress=False)
    with pytest.raises(DatasetError, match=r"SRC .*missing does not exist"):
        mod.extract_tfrecords(str(tmp_path / "missing"), str(tmp_path / "out"), progress=False)
    png = tmp_path / "a.png"
    png.write_bytes(cv2.imencode(".png", np.zeros((4, 4), np.uint8))[1].tobytes())
    with pytest.raises(DatasetError, match=rf"^{re.escape(str(png))}: is not a TFRecord file"):
        mod.extract_tfrecords(str(png), str(tmp_path / "out"), progress=False)


def _write_celeba(path: Path, images: list[np.ndarray]) -> None:
    """A CelebA-format file (shape [H, W, C], pixels RGB in HWC order) written by the `tfrecord` package."""
    writer = tfrecord_writer.TFRecordWriter(str(path))
    for img in images:
        writer.write({"shape": (list(img.shape), "int"), "data": (img.tobytes(), "byte")})
    writer.close()


def _basicsr_celeba_bgr(hwc: np.ndarray) -> np.ndarray:
    """BasicSR's convert_celeba_tfrecords: HWC as stored, then RGB -> BGR."""
    return hwc[:, :, [2, 1, 0]]


def _lmdb_keys_and_meta(db: Path) -> tuple[list[str], list[str]]:
    values = _lmdb_values(db)
    return [k.decode() for k in values], (db / "meta_info.txt").read_text().splitlines()


@pytest.mark.parametrize("lmdb_out", [False, True], ids=["png", "lmdb"])
def test_celeba_shards_are_numbered_on_into_basicsrs_train_and_validation_outputs(tmp_path, lmdb_out):
    src = tmp_path / "celeba_tfrecords"
    src.mkdir()
    rng = np.random.default_rng(11)
    shards = {"train-r03-s-0000-of-0002": 3, "train-r03-s-0001-of-0002": 2, "validation-r03-s-0000-of-0001": 2}
    images = {stem: [rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(n)] for stem, n in shards.items()}
    for stem in sorted(images, reverse=True):  # written out of order: the files are read in name order
        _write_celeba(src / f"{stem}.tfrecords", images[stem])
    dst = tmp_path / "out"
    assert _run(str(src), str(dst), "--dataset", "celeba", *(["--lmdb"] if lmdb_out else [])) == 0
    ext = ".lmdb" if lmdb_out else ""
    assert sorted(p.name for p in dst.iterdir()) == [f"celeba_8_train{ext}", f"celeba_8_validation{ext}"]
    # BasicSR: idx counts on over sorted(glob(...)) of one phase; the phase is 'validation' if the path says so
    expected = {"train": images["train-r03-s-0000-of-0002"] + images["train-r03-s-0001-of-0002"],
                "validation": images["validation-r03-s-0000-of-0001"]}
    for phase, imgs in expected.items():
        out = dst / f"celeba_8_{phase}{ext}"
        if lmdb_out:
            keys, meta = _lmdb_keys_and_meta(out)
            assert keys == [f"{n:08d}/r03" for n in range(len(imgs))]
            assert meta == [f"{n:08d}/r03.png (8,8,3) 1" for n in range(len(imgs))]
            values = _lmdb_values(out)
            for n, img in enumerate(imgs):
                png = cv2.imencode(".png", _basicsr_celeba_bgr(img), [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes()
                assert values[f"{n:08d}/r03".encode()] == png
        else:
            assert sorted(p.name for p in out.iterdir()) == [f"{n:08d}.png" for n in range(len(imgs))]
            for n, img in enumerate(imgs):
                got = cv2.imread(str(out / f"{n:08d}.png"), cv2.IMREAD_UNCHANGED)
                assert np.array_equal(got, _basicsr_celeba_bgr(img))


def test_ffhq_files_of_one_resolution_are_numbered_on_in_name_order(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    first, second = _images(2, 8, 20), _images(3, 8, 21)
    _write_with_tfrecord_package(src / "ffhq-r03-b.tfrecords", second)
    _write_with_tfrecord_package(src / "ffhq-r03-a.tfrecords", first)
    report = mod.extract_tfrecords(str(src), str(tmp_path / "out"), lmdb=True, progress=False)
    assert report.outputs == [str(tmp_path / "out" / "ffhq_8.lmdb")] and report.images == 5
    values = _lmdb_values(tmp_path / "out" / "ffhq_8.lmdb")
    for n, img in enumerate(first + second):
        png = cv2.imencode(".png", _basicsr_bgr(img), [cv2.IMWRITE_PNG_COMPRESSION, 1])[1].tobytes()
        assert values[f"{n:08d}/r03".encode()] == png


@pytest.mark.parametrize("sides, message", [
    ([(8, 8), (16, 16)], r"record 1 is 16x16 but the first record of ffhq_8 is 8x8; an output holds one resolution"),
    ([(12, 12)], r"record 0 is 12x12; BasicSR names outputs by a square power-of-two side"),
    ([(8, 16)], r"record 0 is 8x16; BasicSR names outputs by a square power-of-two side"),
], ids=["mixed", "not-power-of-two", "not-square"])
def test_records_without_one_power_of_two_side_are_named(tmp_path, sides, message):
    src = tmp_path / "ffhq-r03.tfrecords"
    rng = np.random.default_rng(5)
    _write_with_tfrecord_package(src, [rng.integers(0, 256, (3, h, w), dtype=np.uint8) for h, w in sides])
    with pytest.raises(DatasetError, match=rf"^{re.escape(str(src))} {message}"):
        mod.extract_tfrecords(str(src), str(tmp_path / "out"), workers=1, progress=False)


def test_celeba_records_read_as_ffhq_are_named(tmp_path):
    src = tmp_path / "train-r02-s-0000-of-0001.tfrecords"
    _write_celeba(src, [np.zeros((4, 4, 3), np.uint8)])
    with pytest.raises(DatasetError, match=r"record 0: shape \[C, H, W\] is \[4, 4, 3\]: the records hold 3 \(or 1\) "
                                           r"channels .* check SRC and --dataset"):
        mod.extract_tfrecords(str(src), str(tmp_path / "out"), progress=False)


def test_an_empty_file_is_named(tmp_path):
    src = tmp_path / "ffhq-r03.tfrecords"
    src.write_bytes(b"")
    with pytest.raises(DatasetError, match=rf"^{re.escape(str(src))} holds no records"):
        mod.extract_tfrecords(str(src), str(tmp_path / "out"), progress=False)


def test_basicsrs_stylegan2_option_file_reads_the_lmdb_unchanged(tmp_path, monkeypatch):
    """BasicSR's FFHQ StyleGAN2 training section names `datasets/ffhq/ffhq_256.lmdb` (io_backend lmdb), relative to
    the folder training starts in; `extract-tfrecords ffhq-r08.tfrecords datasets/ffhq --lmdb` writes it there."""
    imgs = _images(3, 256, 30)
    _write_with_tfrecord_package(tmp_path / "ffhq-r08.tfrecords", imgs)
    monkeypatch.chdir(tmp_path)
    assert _run("ffhq-r08.tfrecords", "datasets/ffhq", "--lmdb") == 0
    option_file = tmp_path / "train_StyleGAN2_256_FFHQ.yml"
    option_file.write_text(textwrap.dedent("""\
        model_type: StyleGAN2Model
        manual_seed: 0
        datasets:
          train:
            name: FFHQ
            type: FFHQDataset
            dataroot_gt: datasets/ffhq/ffhq_256.lmdb
            io_backend:
              type: lmdb
            use_hflip: true
            mean: [0.5, 0.5, 0.5]
            std: [0.5, 0.5, 0.5]
            num_worker_per_gpu: 2
            batch_size_per_gpu: 3
            dataset_enlarge_ratio: 1
            prefetch_mode: ~
        network_g:
          type: StyleGAN2Generator
          out_size: 256
        """))
    with dali_sr.build_loader(str(option_file), device="cpu", use_hflip=False) as loader:
        [batch] = list(loader)
    assert sorted(batch["gt_path"]) == ["00000000/r08", "00000001/r08", "00000002/r08"]
    for k, key in enumerate(batch["gt_path"]):
        rgb = imgs[int(key[:8])].transpose(1, 2, 0).astype(np.float32) / 255
        assert np.array_equal(batch["gt"][k].numpy(), ((rgb - np.float32(0.5)) / np.float32(0.5)).transpose(2, 0, 1))
