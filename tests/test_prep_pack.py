"""`dali-sr pack`: folder -> BasicSR LMDB (values, meta, presets, atomicity, resume, errors, CLI)."""
from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
import textwrap
import threading
import zlib
from pathlib import Path

import cv2
import lmdb
import numpy as np
import pytest

import dali_sr
from dali_sr.errors import ConfigError, DatasetError
from dali_sr.storage.meta_files import read_lmdb_meta
from dali_sr.prep import pack as pack_mod
from dali_sr.prep.pack import PackReport, add_parser, pack, parse_size, partial_path
from dali_sr.prep.partial_lmdb import STATE_FILE

from conftest import make_nn_pairs, nearest_upsample, paired_cfg

REPO = Path(__file__).resolve().parents[1]


def values(path) -> dict[str, bytes]:
    env = lmdb.open(str(path), readonly=True, lock=False)
    try:
        with env.begin() as txn:
            return {k.decode(): bytes(v) for k, v in txn.cursor()}
    finally:
        env.close()


def write(path: Path, img: np.ndarray, ext: str = ".png") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cv2.imencode(ext, img)[1].tobytes())
    return path


def rand(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def expected_value(path: Path, level: int) -> bytes:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, level])[1].tobytes()


def flat_folder(root: Path, n: int = 6, size=(12, 16)) -> Path:
    for i in range(n):
        write(root / f"img{i:03d}.png", rand(size + (3,), seed=i))
    return root


@pytest.mark.parametrize("level", [1, 9])
def test_values_are_cv2_imencode_and_meta_lines_exact(tmp_path, level):
    src = tmp_path / "src"
    files = {
        "color": write(src / "color.png", rand((10, 14, 3), 1)),
        "gray": write(src / "gray.png", rand((9, 7), 2)),
        "alpha": write(src / "alpha.png", rand((6, 5, 4), 3)),
        "photo": write(src / "photo.jpg", rand((16, 16, 3), 4), ".jpg"),
        "bitmap": write(src / "bitmap.bmp", rand((5, 8, 3), 5), ".bmp"),
    }
    (src / "notes.txt").write_text("not an image")
    (src / ".hidden.png").write_bytes(b"junk")
    report = pack(str(src), str(tmp_path / "out.lmdb"), level=level, workers=3, commit_every=2, progress=False)
    assert isinstance(report, PackReport)
    assert (report.images, report.written, report.resumed, report.ignored, report.tag) == (5, 5, 0, 2, str(level))
    got = values(tmp_path / "out.lmdb")
    assert got == {key: expected_value(path, level) for key, path in files.items()}
    meta = (tmp_path / "out.lmdb" / "meta_info.txt").read_text()
    assert meta == (f"alpha.png (6,5,4) {level}\nbitmap.png (5,8,3) {level}\ncolor.png (10,14,3) {level}\n"
                    f"gray.png (9,7,1) {level}\nphoto.png (16,16,3) {level}\n")
    assert sorted(p.name for p in (tmp_path / "out.lmdb").iterdir()) == ["data.mdb", "lock.mdb", "meta_info.txt"]
    assert not partial_path(str(tmp_path / "out.lmdb")).exists()


def _dump_fixture(lmdb_path: Path, folder: Path) -> dict[str, bytes]:
    """Decode every value of a BasicSR LMDB with cv2 and write it as `folder/key.png` with cv2.imwrite."""
    folder.mkdir(parents=True)
    original = values(lmdb_path)
    for key, value in original.items():
        img = cv2.imdecode(np.frombuffer(value, np.uint8), cv2.IMREAD_UNCHANGED)
        assert cv2.imwrite(str(folder / f"{key}.png"), img)
    return original


def test_basicsr_fixture_repacked_gives_same_meta_and_pixels(tmp_path, basicsr_fixtures):
    original = _dump_fixture(basicsr_fixtures / "gt.lmdb", tmp_path / "gt")
    pack(str(tmp_path / "gt"), str(tmp_path / "gt.lmdb"), progress=False)
    assert (tmp_path / "gt.lmdb" / "meta_info.txt").read_text() == \
        (basicsr_fixtures / "gt.lmdb" / "meta_info.txt").read_text()
    repacked = values(tmp_path / "gt.lmdb")
    assert repacked.keys() == original.keys() == {"baboon", "comic"}
    for key, value in repacked.items():
        assert value == expected_value(tmp_path / "gt" / f"{key}.png", 1)
        a, b = (cv2.imdecode(np.frombuffer(v, np.uint8), cv2.IMREAD_UNCHANGED) for v in (value, original[key]))
        assert np.array_equal(a, b)


def test_basicsr_fixture_repacked_gives_identical_bytes(tmp_path, basicsr_fixtures):
    original = _dump_fixture(basicsr_fixtures / "gt.lmdb", tmp_path / "gt")
    same_encoder = all(expected_value(tmp_path / "gt" / f"{k}.png", 1) == v for k, v in original.items())
    if not same_encoder:
        pytest.skip(f"this OpenCV {cv2.__version__} build encodes level-1 PNG differently from the OpenCV that wrote "
                    f"the BasicSR fixture (libpng/zlib filter and deflate choices); pack's values equal "
                    f"cv2.imencode here and decode to identical pixels (test above)")
    pack(str(tmp_path / "gt"), str(tmp_path / "gt.lmdb"), progress=False)
    assert values(tmp_path / "gt.lmdb") == original


def test_packed_lmdbs_load_in_the_paired_loader(tmp_path):
    roots = make_nn_pairs(tmp_path / "d", scale=2, sizes=[(12, 12), (10, 14), (16, 12), (12, 10)])
    for side in ("gt", "lq"):
        roots[f"{side}_lmdb"] = str(tmp_path / f"{side}.lmdb")
        pack(roots[side], roots[f"{side}_lmdb"], workers=2, progress=False)
    cfg = paired_cfg(roots, scale=2, lmdb=True, gt_size=16, batch_size_per_gpu=2)
    with dali_sr.build_loader(cfg) as loader:
        assert len(loader) == 2
        batches = list(loader)
    assert len(batches) == 2
    for batch in batches:
        assert tuple(batch["lq"].shape) == (2, 3, 8, 8) and tuple(batch["gt"].shape) == (2, 3, 16, 16)
        lq = batch["lq"].permute(0, 2, 3, 1).numpy()
        gt = batch["gt"].permute(0, 2, 3, 1).numpy()
        for i in range(2):
            assert np.array_equal(nearest_upsample(lq[i], 2), gt[i])
        assert all(p.startswith("img") for p in batch["gt_path"])


def test_map_grows_from_a_tiny_initial_map(tmp_path):
    src = flat_folder(tmp_path / "src", n=8, size=(40, 40))
    report = pack(str(src), str(tmp_path / "out.lmdb"), map_size=4096, commit_every=3, progress=False)
    assert report.map_size > 4096 and report.images == 8
    got = values(tmp_path / "out.lmdb")
    assert got == {p.stem: expected_value(p, 1) for p in src.iterdir()}
    assert parse_size("64M") == 64 << 20 and parse_size("2GiB") == 2 << 30 and parse_size("4096") == 4096


def _fail_after(monkeypatch, n: int) -> None:
    real, lock, calls = pack_mod._encode_file, threading.Lock(), [0]

    def encode(path, level):
        with lock:
            calls[0] += 1
            if calls[0] > n:
                raise RuntimeError("simulated crash")
        return real(path, level)

    monkeypatch.setattr(pack_mod, "_encode_file", encode)


def test_interrupted_pack_is_not_complete_and_resume_finishes_it(tmp_path, monkeypatch):
    src = flat_folder(tmp_path / "src", n=9)
    dst = tmp_path / "out.lmdb"
    _fail_after(monkeypatch, 5)
    with pytest.raises(RuntimeError, match="simulated crash"):
        pack(str(src), str(dst), workers=1, commit_every=2, progress=False)
    monkeypatch.undo()
    partial = partial_path(str(dst))
    assert not dst.exists() and partial.is_dir() and not (partial / "meta_info.txt").exists()
    with pytest.raises(DatasetError, match="no meta_info.txt"):
        read_lmdb_meta(str(partial))
    assert len(values(partial)) == 5  # every value encoded before the crash was committed
    with pytest.raises(DatasetError, match="--resume"):
        pack(str(src), str(dst), progress=False)
    with pytest.raises(ConfigError, match="packed as 1 .*not 9; resume with the same --codec/--level"):
        pack(str(src), str(dst), resume=True, level=9, progress=False)

    report = pack(str(src), str(dst), resume=True, workers=2, progress=False)
    assert (report.images, report.resumed, report.written) == (9, 5, 4)
    assert not partial.exists()
    pack(str(src), str(tmp_path / "fresh.lmdb"), progress=False)
    assert values(dst) == values(tmp_path / "fresh.lmdb")
    assert (dst / "meta_info.txt").read_text() == (tmp_path / "fresh.lmdb" / "meta_info.txt").read_text()
    assert sorted(p.name for p in dst.iterdir()) == ["data.mdb", "lock.mdb", "meta_info.txt"]


def test_killed_pack_process_resumes_to_identical_values(tmp_path):
    src = flat_folder(tmp_path / "src", n=10)
    dst = tmp_path / "out.lmdb"
    script = textwrap.dedent(f"""
        import os, signal
        from dali_sr.prep import pack as m
        real, calls = m._encode_file, [0]
        def encode(path, level):
            calls[0] += 1
            if calls[0] == 8:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(path, level)
        m._encode_file = encode
        m.pack({str(src)!r}, {str(dst)!r}, workers=1, commit_every=3, progress=False)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    assert not dst.exists()
    done = values(partial_path(str(dst)))
    assert 0 < len(done) < 10 and len(done) % 3 == 0  # only whole committed batches survive a kill
    report = pack(str(src), str(dst), resume=True, progress=False)
    assert report.resumed == len(done) and report.images == 10
    assert values(dst) == {p.stem: expected_value(p, 1) for p in src.iterdir()}


def test_refuses_to_overwrite_without_force(tmp_path):
    src = flat_folder(tmp_path / "src", n=3)
    dst = tmp_path / "out.lmdb"
    pack(str(src), str(dst), progress=False)
    with pytest.raises(DatasetError, match=r"already exists \(a complete LMDB\); pass --force"):
        pack(str(src), str(dst), level=9, progress=False)
    assert "png (12,16,3) 1\n" in (dst / "meta_info.txt").read_text()
    pack(str(src), str(dst), level=9, force=True, progress=False)
    assert (dst / "meta_info.txt").read_text().count(" 9\n") == 3
    assert values(dst) == {p.stem: expected_value(p, 9) for p in src.iterdir()}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("out.lmdb")] == ["out.lmdb"]
    other = tmp_path / "mine.lmdb"
    other.mkdir()
    (other / "thesis.tex").write_text("precious")
    with pytest.raises(DatasetError, match="not an LMDB folder"):
        pack(str(src), str(other), force=True, progress=False)
    assert (other / "thesis.tex").exists()
    with pytest.raises(ConfigError, match="must end with '.lmdb'"):
        pack(str(src), str(tmp_path / "out"), progress=False)


def test_duplicate_keys_are_rejected_naming_both_files(tmp_path):
    src = tmp_path / "src"
    a, b = write(src / "a.png", rand((4, 4, 3))), write(src / "a.jpg", rand((4, 4, 3)), ".jpg")
    with pytest.raises(DatasetError) as e:
        pack(str(src), str(tmp_path / "out.lmdb"), progress=False)
    assert str(a) in str(e.value) and str(b) in str(e.value) and "'a'" in str(e.value)
    assert not (tmp_path / "out.lmdb").exists() and not partial_path(str(tmp_path / "out.lmdb")).exists()


def test_non_ascii_and_dotted_keys_are_rejected_naming_the_file(tmp_path):
    src = tmp_path / "src"
    bad = write(src / "caf\u00e9.png", rand((4, 4, 3)))
    with pytest.raises(DatasetError, match="not ASCII") as e:
        pack(str(src), str(tmp_path / "out.lmdb"), progress=False)
    assert str(bad) in str(e.value)
    bad.unlink()
    dotted = write(src / "img.v2.png", rand((4, 4, 3)))
    with pytest.raises(DatasetError, match="first '.'") as e:
        pack(str(src), str(tmp_path / "out.lmdb"), progress=False)
    assert str(dotted) in str(e.value)
    assert not partial_path(str(tmp_path / "out.lmdb")).exists()


def test_corrupt_images_are_rejected_by_name(tmp_path):
    src = flat_folder(tmp_path / "src", n=4)
    dst = tmp_path / "out.lmdb"
    garbage = src / "img001.png"
    garbage.write_bytes(b"this is not a png at all")
    with pytest.raises(DatasetError, match="unsupported image format") as e:
        pack(str(src), str(dst), progress=False)
    assert str(garbage) in str(e.value) and not partial_path(str(dst)).exists()  # checked before writing

    good = cv2.imencode(".png", rand((30, 30, 3)))[1].tobytes()
    garbage.write_bytes(good[: len(good) // 2])  # valid header, truncated body
    with pytest.raises(DatasetError, match="truncated PNG") as e:
        pack(str(src), str(dst), verify=True, progress=False)
    assert str(garbage) in str(e.value) and not partial_path(str(dst)).exists()
    with pytest.raises(DatasetError, match="truncated PNG") as e:
        pack(str(src), str(dst), workers=1, commit_every=1, progress=False)
    assert str(garbage) in str(e.value) and not dst.exists()
    assert set(values(partial_path(str(dst)))) == {"img000"}  # resumable once the file is fixed
    write(garbage, rand((12, 16, 3)))
    assert pack(str(src), str(dst), resume=True, progress=False).resumed == 1


def test_preset_reds_keys(tmp_path):
    src = tmp_path / "train_sharp"
    for clip in ("000", "011"):
        for frame in range(3):
            write(src / clip / f"{frame:08d}.png", rand((6, 8, 3), frame))
    report = pack(str(src), str(tmp_path / "reds.lmdb"), preset="reds", progress=False)
    assert report.images == 6
    assert list(values(tmp_path / "reds.lmdb")) == [f"{c}/{f:08d}" for c in ("000", "011") for f in range(3)]
    assert (tmp_path / "reds.lmdb" / "meta_info.txt").read_text().splitlines()[0] == "000/00000000.png (6,8,3) 1"
    write(tmp_path / "REDS" / "train_sharp" / "000" / "00000000.png", rand((6, 8, 3)))
    with pytest.raises(DatasetError, match="SRC/clip/frame.png"):
        pack(str(tmp_path / "REDS"), str(tmp_path / "bad.lmdb"), preset="reds", progress=False)


def test_preset_vimeo90k_keys_all_frames_or_gt_only_im4(tmp_path):
    src = tmp_path / "sequences"
    for seq in ("00001/0001", "00001/0002", "00002/0001"):
        for i in range(1, 8):
            write(src / seq / f"im{i}.png", rand((6, 8, 3), i))
    gt = pack(str(src), str(tmp_path / "gt.lmdb"), preset="vimeo90k", only_im4=True, progress=False)
    assert list(values(tmp_path / "gt.lmdb")) == ["00001/0001/im4", "00001/0002/im4", "00002/0001/im4"]
    assert gt.ignored == 18
    lq = pack(str(src), str(tmp_path / "lq.lmdb"), preset="vimeo90k", progress=False)
    assert lq.images == 21 and list(values(tmp_path / "lq.lmdb"))[:2] == ["00001/0001/im1", "00001/0001/im2"]
    trainlist = tmp_path / "sep_trainlist.txt"
    trainlist.write_text("00001/0001\n00002/0001\n")
    pack(str(src), str(tmp_path / "list.lmdb"), preset="vimeo90k", only_im4=True, list_file=str(trainlist),
         progress=False)
    assert list(values(tmp_path / "list.lmdb")) == ["00001/0001/im4", "00002/0001/im4"]
    (src / "00002" / "0001" / "im4.png").unlink()
    with pytest.raises(DatasetError, match=r"00002/0001: Vimeo90K sequence lacks im4.png"):
        pack(str(src), str(tmp_path / "bad.lmdb"), preset="vimeo90k", progress=False)


def test_presets_div2k_and_recursive_keys(tmp_path):
    src = tmp_path / "DIV2K_train_HR_sub"
    write(src / "0001_s001.png", rand((8, 8, 3)))
    write(src / "0001_s002.png", rand((8, 8, 3)))
    write(src / "nested" / "x.png", rand((8, 8, 3)))
    pack(str(src), str(tmp_path / "div2k.lmdb"), preset="div2k", progress=False)
    assert list(values(tmp_path / "div2k.lmdb")) == ["0001_s001", "0001_s002"]
    pack(str(src), str(tmp_path / "all.lmdb"), recursive=True, progress=False)
    assert list(values(tmp_path / "all.lmdb")) == ["0001_s001", "0001_s002", "nested/x"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no images"):
        pack(str(tmp_path / "empty"), str(tmp_path / "n.lmdb"), progress=False)


def _cli(argv):
    parser = argparse.ArgumentParser(prog="dali-sr")
    sub = parser.add_subparsers()
    add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_packs_and_reports(tmp_path, capsys):
    src = flat_folder(tmp_path / "src", n=3)
    assert _cli(["pack", str(src), str(tmp_path / "out.lmdb"), "--level", "9", "--workers", "2",
                 "--commit-every", "2", "--map-size", "8K", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "packed 3 images into" in out and "(png, 9)" in out
    assert values(tmp_path / "out.lmdb") == {p.stem: expected_value(p, 9) for p in src.iterdir()}
    with pytest.raises(DatasetError, match="--force"):
        _cli(["pack", str(src), str(tmp_path / "out.lmdb"), "--quiet"])
    with pytest.raises(SystemExit):
        _cli(["pack", str(src), str(tmp_path / "x.lmdb"), "--level", "12"])
    with pytest.raises(SystemExit) as e:
        _cli(["pack", "--help"])
    assert e.value.code == 0
    help_text = capsys.readouterr().out
    for option in ("--preset", "--recursive", "--only-im4", "--level", "--workers", "--commit-every",
                   "--map-size", "--resume", "--force", "--verify", "--list"):
        assert option in help_text


# -- resume checks what it resumes --------------------------------------------------------------------------------
def bmp_folder(root: Path, n: int = 6) -> Path:
    """BMP sources: a file's size depends on its shape only, so new pixels keep the size."""
    for i in range(n):
        write(root / f"img{i:03d}.bmp", rand((12, 16, 3), seed=i), ".bmp")
    return root


@pytest.mark.parametrize("change", ["same size, later mtime", "other size, same mtime"])
def test_resume_refuses_a_stored_source_that_changed(tmp_path, monkeypatch, change):
    src = bmp_folder(tmp_path / "src")
    dst = tmp_path / "out.lmdb"
    partial = partial_path(str(dst))
    _fail_after(monkeypatch, 3)
    with pytest.raises(RuntimeError, match="simulated crash"):
        pack(str(src), str(dst), workers=1, commit_every=1, progress=False)
    monkeypatch.undo()
    assert set(values(partial)) == {"img000", "img001", "img002"}

    stored = src / "img001.bmp"
    original, before = stored.read_bytes(), os.stat(stored)
    if change == "same size, later mtime":
        write(stored, rand((12, 16, 3), seed=99), ".bmp")
        assert os.path.getsize(stored) == before.st_size
        os.utime(stored, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    else:
        write(stored, rand((13, 16, 3), seed=99), ".bmp")
        os.utime(stored, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(DatasetError, match="changed since") as e:
        pack(str(src), str(dst), resume=True, progress=False)
    message = str(e.value)
    assert str(stored) in message and "'img001'" in message and "--force" in message and "\n" not in message
    assert set(values(partial)) == {"img000", "img001", "img002"} and not dst.exists()  # nothing lost

    stored.write_bytes(original)  # restored, modification time included: the resume goes on
    os.utime(stored, ns=(before.st_atime_ns, before.st_mtime_ns))
    write(src / "img004.bmp", rand((12, 16, 3), seed=77), ".bmp")  # not stored yet: packed as it is now
    report = pack(str(src), str(dst), resume=True, progress=False)
    assert (report.resumed, report.written) == (3, 3)
    assert values(dst) == {p.stem: expected_value(p, 1) for p in src.iterdir()}


def _fail_at(monkeypatch, name: str) -> None:
    """Make encoding the source file called `name` fail."""
    real = pack_mod._encode_file

    def encode(path, encoding):
        if Path(path).name == name:
            raise RuntimeError(f"simulated crash at {name}")
        return real(path, encoding)

    monkeypatch.setattr(pack_mod, "_encode_file", encode)


def test_a_source_changed_before_it_was_stored_is_checked_as_stored(tmp_path, monkeypatch):
    src = bmp_folder(tmp_path / "src")
    dst = tmp_path / "out.lmdb"
    _fail_at(monkeypatch, "img002.bmp")
    with pytest.raises(RuntimeError):
        pack(str(src), str(dst), workers=1, commit_every=1, progress=False)
    later = src / "img004.bmp"
    before = os.stat(later)
    write(later, rand((12, 16, 3), seed=5), ".bmp")  # changed before it was stored: fine
    os.utime(later, ns=(before.st_atime_ns, before.st_mtime_ns + 10**9))
    monkeypatch.undo()
    _fail_at(monkeypatch, "img005.bmp")
    with pytest.raises(RuntimeError):  # the resumed run stores img002..img004 and stops again
        pack(str(src), str(dst), resume=True, workers=1, commit_every=1, progress=False)
    monkeypatch.undo()
    assert sorted(values(partial_path(str(dst)))) == [f"img{i:03d}" for i in range(5)]
    report = pack(str(src), str(dst), resume=True, progress=False)  # img004's new stamp was recorded
    assert (report.resumed, report.written) == (5, 1)
    assert values(dst) == {p.stem: expected_value(p, 1) for p in src.iterdir()}


def _stop_at_rename(monkeypatch, partial: Path, after: bool) -> None:
    """Stop a run at the rename of its finished partial build: just before it, or just after it."""
    real = os.replace

    def replace(a, b, *args, **kwargs):
        if Path(a) == partial:
            if after:
                real(a, b, *args, **kwargs)
            raise RuntimeError("stopped at the rename")
        return real(a, b, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


def test_a_run_stopped_right_after_its_rename_leaves_no_state_file(tmp_path, monkeypatch):
    src = flat_folder(tmp_path / "src", n=4)
    dst = tmp_path / "out.lmdb"
    _stop_at_rename(monkeypatch, partial_path(str(dst)), after=True)
    with pytest.raises(RuntimeError, match="stopped at the rename"):
        pack(str(src), str(dst), progress=False)
    monkeypatch.undo()
    assert sorted(p.name for p in dst.iterdir()) == ["data.mdb", "lock.mdb", "meta_info.txt"]
    assert values(dst) == {p.stem: expected_value(p, 1) for p in src.iterdir()}


def test_a_run_stopped_just_before_its_rename_is_finished_by_resume(tmp_path, monkeypatch):
    src = flat_folder(tmp_path / "src", n=4)
    dst, partial = tmp_path / "out.lmdb", partial_path(str(tmp_path / "out.lmdb"))
    _stop_at_rename(monkeypatch, partial, after=False)
    with pytest.raises(RuntimeError, match="stopped at the rename"):
        pack(str(src), str(dst), progress=False)
    monkeypatch.undo()
    assert not dst.exists() and (partial / "meta_info.txt").is_file() and not (partial / STATE_FILE).exists()
    with pytest.raises(DatasetError, match="--resume"):
        pack(str(src), str(dst), progress=False)
    with pytest.raises(ConfigError, match="packed as 1 .*not 9"):
        pack(str(src), str(dst), resume=True, level=9, progress=False)
    _fail_after(monkeypatch, 0)  # nothing may be encoded again
    report = pack(str(src), str(dst), resume=True, progress=False)
    assert (report.resumed, report.written) == (4, 0)
    assert sorted(p.name for p in dst.iterdir()) == ["data.mdb", "lock.mdb", "meta_info.txt"]
    monkeypatch.undo()
    pack(str(src), str(tmp_path / "fresh.lmdb"), progress=False)
    assert values(dst) == values(tmp_path / "fresh.lmdb")
    assert (dst / "meta_info.txt").read_text() == (tmp_path / "fresh.lmdb" / "meta_info.txt").read_text()


# -- bad input: refused in one line, and no partial build left in the way -------------------------------------------
def fixture_photo(basicsr_fixtures: Path, key: str = "baboon") -> np.ndarray:
    """A real photograph (Set14) from BasicSR's fixture LMDB, decoded."""
    return cv2.imdecode(np.frombuffer(values(basicsr_fixtures / "gt.lmdb")[key], np.uint8), cv2.IMREAD_UNCHANGED)


def truncated_jpeg(img: np.ndarray) -> bytes:
    """The first 60 % of a JPEG of `img`: OpenCV's imread decodes it to full size with grey fill below the cut."""
    data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    return data[: len(data) * 6 // 10]


@pytest.mark.parametrize("fmt", ["lmdb", "tfrecord", "wds"])
@pytest.mark.parametrize("verify", [False, True])
def test_a_truncated_jpeg_source_is_refused_naming_it(tmp_path, basicsr_fixtures, fmt, verify):
    src = flat_folder(tmp_path / "src", n=3)
    cut = src / "photo.jpg"
    cut.write_bytes(truncated_jpeg(fixture_photo(basicsr_fixtures)))
    assert cv2.imread(str(cut), cv2.IMREAD_UNCHANGED).shape == (480, 492, 3)  # what OpenCV alone would store
    dst = tmp_path / ("out.lmdb" if fmt == "lmdb" else "out")
    with pytest.raises(DatasetError, match="truncated or damaged JPEG") as e:
        pack(str(src), str(dst), fmt=fmt, verify=verify, workers=1, commit_every=1, progress=False)
    assert str(e.value).startswith(str(cut)) and "\n" not in str(e.value)
    assert not dst.exists()


def test_a_run_stopped_by_bad_input_before_storing_anything_leaves_no_partial_build(tmp_path):
    src = flat_folder(tmp_path / "src", n=3)
    first = src / "img000.png"
    good = first.read_bytes()
    first.write_bytes(good[: len(good) // 2])  # a sound header (passes the checks before writing), cut body
    dst = tmp_path / "out.lmdb"
    with pytest.raises(DatasetError, match="truncated PNG") as e:
        pack(str(src), str(dst), workers=1, progress=False)
    assert str(first) in str(e.value)
    assert not partial_path(str(dst)).exists() and not dst.exists()
    first.write_bytes(good)
    report = pack(str(src), str(dst), progress=False)  # neither --resume nor --force needed
    assert (report.images, report.written) == (3, 3)


def test_a_partial_build_without_values_does_not_block_the_next_run(tmp_path):
    src = flat_folder(tmp_path / "src", n=4)
    dst = tmp_path / "out.lmdb"
    script = textwrap.dedent(f"""
        import os, signal
        from dali_sr.prep import pack as m
        def encode(path, encoding):
            os.kill(os.getpid(), signal.SIGKILL)
        m._encode_file = encode
        m.pack({str(src)!r}, {str(dst)!r}, workers=1, progress=False)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    partial = partial_path(str(dst))
    assert (partial / STATE_FILE).is_file() and values(partial) == {}  # killed before the first value
    report = pack(str(src), str(dst), progress=False)
    assert (report.images, report.written, report.resumed) == (4, 4, 0)
    assert not partial.exists()


def _png_with_size(height: int, width: int) -> bytes:
    """A 1x1 PNG whose IHDR claims `height` x `width` (CRC fixed): a few bytes on disk, huge when decoded."""
    data = bytearray(cv2.imencode(".png", np.zeros((1, 1), np.uint8))[1].tobytes())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def test_a_source_above_max_pixels_is_refused_before_decoding(tmp_path, monkeypatch, capsys):
    src = flat_folder(tmp_path / "src", n=3)
    bomb = src / "bomb.png"
    bomb.write_bytes(_png_with_size(10000, 10000))
    decoded = []
    real_imdecode = cv2.imdecode
    monkeypatch.setattr(cv2, "imdecode", lambda *a, **k: decoded.append(1) or real_imdecode(*a, **k))
    dst = tmp_path / "out.lmdb"
    for verify in (False, True):
        with pytest.raises(DatasetError, match=r"10000x10000 = 100,000,000 pixels, above the limit of 67,108,864"
                           ) as e:
            pack(str(src), str(dst), verify=verify, progress=False)
        assert str(e.value).startswith(str(bomb)) and "--max-pixels" in str(e.value)
    assert decoded == [] and not partial_path(str(dst)).exists()
    bomb.unlink()
    with pytest.raises(DatasetError, match=r"12x16 = 192 pixels, above the limit of 191"):
        _cli(["pack", str(src), str(dst), "--max-pixels", "191", "--quiet"])
    assert _cli(["pack", str(src), str(dst), "--max-pixels", "192", "--quiet"]) == 0
    assert "packed 3 images" in capsys.readouterr().out
