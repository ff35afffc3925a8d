"""TFRecord and WebDataset shards: `pack --format`, DALI's index files and readers, batches equal to the LMDB's,
resumable packing, bad shards named, and the same shards from an S3-compatible server (one process and two ranks)."""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

import dali_sr
from conftest import make_nn_pairs, paired_cfg
from dali_sr.errors import ConfigError, DatasetError
from dali_sr.cli import main
from dali_sr.prep import pack as pack_module
from dali_sr.prep import pack_shards as pack_shards_module
from dali_sr.prep.pack import pack
from dali_sr.prep.partial_lmdb import STATE_FILE
from dali_sr.storage import tar_shards as tar_shards_module
from dali_sr.storage import tfrecord as tfrecord_module
from dali_sr.storage.backends import LmdbStorage
from dali_sr.storage.shards import ShardStorage
from s3_server import CREDENTIALS, free_port, s3_server, upload_folder

FORMATS = {"tfrecord": "tfrecord", "wds": "webdataset"}
PAIRS = 24


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    sizes = [(12 + i % 5, 14 + i % 3) for i in range(PAIRS)]
    roots = make_nn_pairs(root, 2, sizes, lmdb=True)
    for fmt in FORMATS:
        for side in ("gt", "lq"):
            roots[f"{side}_{fmt}"] = str(root / f"{side}_{fmt}")
            pack(roots[side], roots[f"{side}_{fmt}"], fmt=fmt, shards=3, progress=False)
    return roots


def shard_cfg(roots, fmt, **extra):
    cfg = paired_cfg(roots, 2, lmdb=True, **extra)
    cfg.update(dataroot_gt=roots[f"gt_{fmt}"], dataroot_lq=roots[f"lq_{fmt}"], io_backend={"type": FORMATS[fmt]})
    return cfg


def batches(cfg, epochs=1):
    out = []
    with dali_sr.build_loader(cfg) as loader:
        for epoch in range(epochs):
            loader.set_epoch(epoch)
            for b in loader:
                out.append((b["lq"].numpy().copy(), b["gt"].numpy().copy(), list(b.get("gt_path", b.get("key")))))
    return out


def assert_same(a, b):
    assert len(a) == len(b) > 0
    for (lq1, gt1, p1), (lq2, gt2, p2) in zip(a, b):
        assert p1 == p2
        np.testing.assert_array_equal(lq1, lq2)
        np.testing.assert_array_equal(gt1, gt2)


# -- the files pack writes -------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_pack_writes_the_lmdb_keys_codecs_and_meta_lines(packed, fmt):
    folder = Path(packed[f"gt_{fmt}"])
    ext = ".tfrecord" if fmt == "tfrecord" else ".tar"
    assert (folder / "shards.txt").read_text().split() == [f"shard-{i:05d}-of-00003{ext}" for i in range(3)]
    ref = packed_lmdb(packed)
    assert (folder / "meta_info.txt").read_text() == (Path(ref) / "meta_info.txt").read_text()
    store, lmdb = ShardStorage(str(folder), FORMATS[fmt]), LmdbStorage(ref)
    try:
        assert store.meta.keys == sorted(store.meta.keys) and len(store.meta.keys) == PAIRS
        for key in store.meta.keys:
            assert bytes(store.get(key)) == bytes(lmdb.get(key))
        counts = [len((folder / f"shard-{i:05d}-of-00003.idx").read_text().splitlines()) for i in range(3)]
        assert counts == ([8, 8, 8] if fmt == "tfrecord" else [9, 9, 9])  # wds: a header line first
    finally:
        store.close()
        lmdb.close()


def packed_lmdb(packed) -> str:
    """The GT folder packed into an LMDB by the same command."""
    dst = Path(packed["gt"]).parent / "gt_packed.lmdb"
    if not dst.exists():
        pack(packed["gt"], str(dst), progress=False)
    return str(dst)


@pytest.mark.parametrize("fmt, tool", [("tfrecord", "tfrecord2idx"), ("wds", "wds2idx")])
def test_index_files_equal_dalis_own_tools(packed, fmt, tool, tmp_path):
    if shutil.which(tool) is None:
        pytest.skip(f"DALI's {tool} script is not on PATH")
    folder = Path(packed[f"gt_{fmt}"])
    for shard in (folder / "shards.txt").read_text().split():
        ref = tmp_path / "ref.idx"
        subprocess.run([tool, str(folder / shard), str(ref)], check=True, capture_output=True)
        assert ref.read_text() == (folder / (Path(shard).stem + ".idx")).read_text()


@pytest.mark.parametrize("fmt", FORMATS)
def test_dalis_readers_read_the_shards(packed, fmt):
    from nvidia.dali import fn, pipeline_def
    import nvidia.dali.tfrecord as tfrec

    folder = Path(packed[f"gt_{fmt}"])
    shards = [str(folder / s) for s in (folder / "shards.txt").read_text().split()]
    indexes = [s.rsplit(".", 1)[0] + ".idx" for s in shards]

    @pipeline_def(batch_size=PAIRS, num_threads=1, device_id=None)
    def read():
        if fmt == "tfrecord":
            out = fn.readers.tfrecord(path=shards, index_path=indexes, features={
                "key": tfrec.FixedLenFeature((), tfrec.string, ""), "data": tfrec.FixedLenFeature((), tfrec.string, "")})
            return out["key"], out["data"]
        return fn.readers.webdataset(paths=shards, index_paths=indexes, ext=["png"]), \
            fn.readers.webdataset(paths=shards, index_paths=indexes, ext=["png"])

    pipe = read()
    pipe.build()
    first, data = pipe.run()
    lmdb = LmdbStorage(packed_lmdb(packed))
    try:
        values = [np.array(data[i]).tobytes() for i in range(PAIRS)]
        keys = [np.array(first[i]).tobytes().decode() for i in range(PAIRS)] if fmt == "tfrecord" else \
            sorted(k.decode() for k in lmdb.stored_keys())
        assert values == [bytes(lmdb.get(k)) for k in keys]
    finally:
        lmdb.close()


# -- the loader reads them as it reads LMDBs ----------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_training_batches_equal_the_lmdbs_over_two_epochs(packed, fmt):
    assert_same(batches(shard_cfg(packed, fmt), epochs=2), batches(paired_cfg(packed, 2, lmdb=True), epochs=2))


@pytest.mark.parametrize("fmt", FORMATS)
def test_validation_and_gt_only_batches_equal_the_lmdbs(packed, fmt):
    val = dict(phase="val", batch_size_per_gpu=1)
    assert_same(batches(shard_cfg(packed, fmt, **val)), batches(paired_cfg(packed, 2, lmdb=True, **val)))
    gt_only, ref = shard_cfg(packed, fmt), paired_cfg(packed, 2, lmdb=True)
    gt_only.pop("dataroot_lq")
    ref.pop("dataroot_lq")
    assert_same(batches(gt_only), batches(ref))


@pytest.mark.parametrize("fmt", FORMATS)
def test_clip_batches_from_shards_equal_the_lmdbs(tmp_path, fmt):
    from conftest import clip_cfg, make_nn_clips

    clips = {name: (6, 8, 10) for name in ("000", "001", "002", "003", "011", "015", "020")}
    roots = make_nn_clips(tmp_path, 2, clips, lmdb=True)
    shards = {}
    for side in ("gt", "lq"):
        shards[side] = str(tmp_path / f"{side}_{fmt}")
        pack(roots[side], shards[side], preset="reds", fmt=fmt, shards=2, progress=False)
    ref = clip_cfg(roots, 2, lmdb=True, val_partition="official")
    cfg = {**ref, "dataroot_gt": shards["gt"], "dataroot_lq": shards["lq"], "io_backend": {"type": FORMATS[fmt]}}
    assert_same(batches(cfg, epochs=2), batches(ref, epochs=2))


@pytest.mark.slow
def test_source_workers_read_shards(packed):
    assert_same(batches(shard_cfg(packed, "tfrecord", source_workers=2)), batches(shard_cfg(packed, "tfrecord")))


def test_resume_continues_from_the_restored_position(packed):
    cfg = shard_cfg(packed, "wds")
    with dali_sr.build_loader(cfg) as loader:
        it = iter(loader)
        next(it)
        state = loader.state_dict()
        rest = [b["gt"].numpy().copy() for b in it]
    with dali_sr.build_loader(cfg) as loader:
        loader.load_state_dict(state)
        again = [b["gt"].numpy().copy() for b in loader]
    assert len(rest) == len(again) > 0
    for a, b in zip(rest, again):
        np.testing.assert_array_equal(a, b)


# -- pack: resumable, never looks finished ------------------------------------------------------------------------
def test_an_interrupted_pack_resumes_and_equals_a_fresh_one(packed, tmp_path, monkeypatch):
    fresh, dst = tmp_path / "fresh", tmp_path / "cut"
    pack(packed["gt"], str(fresh), fmt="tfrecord", shards=3, progress=False)
    real, calls = pack_module._encode_file, []

    def failing(path, codec):
        calls.append(path)
        if len(calls) == 11:  # inside the second shard
            raise DatasetError(f"{path}: simulated failure")
        return real(path, codec)

    monkeypatch.setattr(pack_module, "_encode_file", failing)
    with pytest.raises(DatasetError, match="simulated failure"):
        pack(packed["gt"], str(dst), fmt="tfrecord", shards=3, progress=False, workers=1)
    assert not dst.exists()
    partial = tmp_path / "cut.partial"
    assert not (partial / "meta_info.txt").exists() and not (partial / "shards.txt").exists()
    with pytest.raises(DatasetError, match="--resume"):
        pack(packed["gt"], str(dst), fmt="tfrecord", shards=3, progress=False)
    monkeypatch.setattr(pack_module, "_encode_file", real)
    with pytest.raises(ConfigError, match="shards 3, not 4"):
        pack(packed["gt"], str(dst), fmt="tfrecord", shards=4, progress=False, resume=True)
    report = pack(packed["gt"], str(dst), fmt="tfrecord", shards=3, progress=False, resume=True)
    assert (report.resumed, report.written) == (8, 16)
    assert sorted(p.name for p in dst.iterdir()) == sorted(p.name for p in fresh.iterdir())
    for path in fresh.iterdir():
        assert (dst / path.name).read_bytes() == path.read_bytes(), path.name


def _count_encodes(monkeypatch) -> list[str]:
    """The source paths that `pack` encodes from now on."""
    real, calls = pack_module._encode_file, []

    def counted(path, encoding):
        calls.append(path)
        return real(path, encoding)

    monkeypatch.setattr(pack_module, "_encode_file", counted)
    return calls


def _stop_at(monkeypatch, partial: Path, fmt: str, point: str) -> None:
    """Make the next pack stop at `point` (see STOPS) as a kill there would."""
    real_replace = os.replace

    def replace_stopping(when):
        def replace(a, b, *args, **kwargs):
            if when(Path(a)) == "before":
                raise RuntimeError(f"stopped {point}")
            real_replace(a, b, *args, **kwargs)
            if when(Path(a)) == "after":
                raise RuntimeError(f"stopped {point}")
        return replace

    if point == "after the second shard, before its index":
        module = tfrecord_module if fmt == "tfrecord" else tar_shards_module
        real, calls = module.write_index, []

        def write_index(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError(f"stopped {point}")
            return real(*args, **kwargs)

        monkeypatch.setattr(module, "write_index", write_index)
    elif point == "after the second shard, before its meta lines":
        monkeypatch.setattr(os, "replace", replace_stopping(
            lambda a: "before" if a.name == "shard-00001-of-00003.meta.tmp" else None))
    elif point == "after meta_info.txt, before the rename":
        def move_into_place(*args):
            raise RuntimeError(f"stopped {point}")

        monkeypatch.setattr(pack_shards_module, "move_into_place", move_into_place)
    else:  # just before or just after the rename itself
        when = "before" if point == "just before the rename" else "after"
        monkeypatch.setattr(os, "replace", replace_stopping(lambda a: when if a == partial else None))


STOPS = ["after the second shard, before its index", "after the second shard, before its meta lines",
         "after meta_info.txt, before the rename", "just before the rename"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("point", STOPS)
def test_a_pack_stopped_near_a_shards_end_or_the_rename_encodes_nothing_twice(packed, tmp_path, monkeypatch, fmt,
                                                                               point):
    fresh, dst = tmp_path / "fresh", tmp_path / "cut"
    pack(packed["gt"], str(fresh), fmt=fmt, shards=3, progress=False)
    partial = tmp_path / "cut.partial"
    _stop_at(monkeypatch, partial, fmt, point)
    with pytest.raises(RuntimeError, match=f"stopped {point}"):
        pack(packed["gt"], str(dst), fmt=fmt, shards=3, progress=False, workers=1)
    monkeypatch.undo()
    assert not dst.exists() and partial.is_dir()
    encoded = _count_encodes(monkeypatch)
    report = pack(packed["gt"], str(dst), fmt=fmt, shards=3, progress=False, resume=True)
    finished_shards = 2 if "second shard" in point else 3
    assert len(encoded) == PAIRS - 8 * finished_shards  # only the shard never written is encoded
    assert (report.resumed, report.written) == (8 * finished_shards, PAIRS - 8 * finished_shards)
    assert not partial.exists()
    assert sorted(p.name for p in dst.iterdir()) == sorted(p.name for p in fresh.iterdir())
    for path in fresh.iterdir():
        assert (dst / path.name).read_bytes() == path.read_bytes(), path.name


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_pack_stopped_right_after_the_rename_leaves_no_state_file(packed, tmp_path, monkeypatch, fmt):
    fresh, dst = tmp_path / "fresh", tmp_path / "cut"
    pack(packed["gt"], str(fresh), fmt=fmt, shards=3, progress=False)
    _stop_at(monkeypatch, tmp_path / "cut.partial", fmt, "just after the rename")
    with pytest.raises(RuntimeError, match="stopped"):
        pack(packed["gt"], str(dst), fmt=fmt, shards=3, progress=False)
    monkeypatch.undo()
    assert STATE_FILE not in {p.name for p in dst.iterdir()}
    assert sorted(p.name for p in dst.iterdir()) == sorted(p.name for p in fresh.iterdir())


def test_a_cut_shard_is_rewritten_not_kept(packed, tmp_path, monkeypatch):
    dst, partial = tmp_path / "cut", tmp_path / "cut.partial"
    _stop_at(monkeypatch, partial, "wds", "after the second shard, before its index")
    with pytest.raises(RuntimeError):
        pack(packed["gt"], str(dst), fmt="wds", shards=3, progress=False)
    monkeypatch.undo()
    shard = partial / "shard-00001-of-00003.tar"
    shard.write_bytes(shard.read_bytes()[:-5000])  # its last member and the end of the archive lost
    encoded = _count_encodes(monkeypatch)
    report = pack(packed["gt"], str(dst), fmt="wds", shards=3, progress=False, resume=True)
    assert len(encoded) == 16 and (report.resumed, report.written) == (8, 16)
    assert main(["verify", str(dst), "--quiet"]) == 0


def test_shard_resume_refuses_a_kept_shards_source_that_changed(packed, tmp_path, monkeypatch):
    src = tmp_path / "src"
    shutil.copytree(packed["gt"], src)
    dst = tmp_path / "cut"
    _stop_at(monkeypatch, tmp_path / "cut.partial", "tfrecord", "after the second shard, before its index")
    with pytest.raises(RuntimeError):
        pack(str(src), str(dst), fmt="tfrecord", shards=3, progress=False)
    monkeypatch.undo()
    kept = src / "img003.png"  # in the first shard, complete
    kept.write_bytes(kept.read_bytes() + b"\0")
    with pytest.raises(DatasetError, match="changed since") as e:
        pack(str(src), str(dst), fmt="tfrecord", shards=3, progress=False, resume=True)
    assert str(kept) in str(e.value) and "'img003'" in str(e.value)


def test_bad_input_in_the_first_shard_leaves_no_partial_build(packed, tmp_path, monkeypatch):
    dst, partial = tmp_path / "out", tmp_path / "out.partial"
    real = pack_module._encode_file

    def failing_at(n):
        def encode(path, encoding):
            if Path(path).name == f"img{n:03d}.png":
                raise DatasetError(f"{path}: simulated bad input")
            return real(path, encoding)
        return encode

    monkeypatch.setattr(pack_module, "_encode_file", failing_at(3))  # in the first shard: nothing complete
    with pytest.raises(DatasetError, match="simulated bad input"):
        pack(packed["gt"], str(dst), fmt="wds", shards=3, progress=False, workers=1)
    assert not partial.exists()
    monkeypatch.setattr(pack_module, "_encode_file", failing_at(11))  # in the second: the first one is kept
    with pytest.raises(DatasetError, match="simulated bad input"):
        pack(packed["gt"], str(dst), fmt="wds", shards=3, progress=False, workers=1)
    assert (partial / "shard-00000-of-00003.idx").is_file()
    with pytest.raises(DatasetError, match="--resume"):
        pack(packed["gt"], str(dst), fmt="wds", shards=3, progress=False)
    monkeypatch.undo()
    assert pack(packed["gt"], str(dst), fmt="wds", shards=3, progress=False, resume=True).resumed == 8


def test_pack_refuses_bad_shard_options(packed, tmp_path):
    with pytest.raises(ConfigError, match=f"--shards 99 is more than the {PAIRS} images"):
        pack(packed["gt"], str(tmp_path / "x"), fmt="wds", shards=99, progress=False)
    with pytest.raises(ConfigError, match="--shards is for --format tfrecord or wds"):
        pack(packed["gt"], str(tmp_path / "x.lmdb"), shards=2, progress=False)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match=r"is not a shard folder \(it holds notes.txt\)"):
        pack(packed["gt"], str(tmp_path / "mine"), fmt="wds", force=True, progress=False)


@pytest.mark.parametrize("fmt", FORMATS)
def test_verify_and_inspect_read_shards_and_name_a_corrupt_value(packed, fmt, tmp_path, capsys):
    assert main(["verify", packed[f"gt_{fmt}"], "--pair", packed[f"lq_{fmt}"], "--scale", "2", "--quiet"]) == 0
    assert main(["inspect", packed[f"gt_{fmt}"]]) == 0
    out = capsys.readouterr().out
    assert f"{PAIRS} images checked" in out and f"(shards): {PAIRS} images" in out
    folder = copy_side(packed, fmt, tmp_path)
    shard = next(folder.glob("shard-00001-*.t*"))
    data = bytearray(shard.read_bytes())
    data[700] ^= 0xFF  # inside the first value of the shard
    shard.write_bytes(bytes(data))
    assert main(["verify", str(folder), "--quiet"]) == 1
    out = capsys.readouterr().out
    assert str(shard) in out or "key 'img008'" in out


def test_verify_names_tar_members_that_escape_the_folder(packed, tmp_path, capsys):
    folder = copy_side(packed, "wds", tmp_path)
    shard = folder / "shard-00001-of-00003.tar"
    with tarfile.open(shard) as tar:
        originals = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    escaping = {"../escape.png": b"x", "/abs/olute.png": b"y", "a/../../up.png": b"z"}
    with tarfile.open(shard, "w", format=tarfile.USTAR_FORMAT) as tar:
        for member, data in originals:
            tar.addfile(member, io.BytesIO(data))
        for name, data in escaping.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("img999.png")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    with tarfile.open(shard) as tar:  # the index of the samples, as dali-sr wrote it, at their new offsets
        members = [tar_shards_module.Member(m.name, m.offset_data, m.size) for m in tar.getmembers()
                   if m.name in {o.name for o, _ in originals}]
    tar_shards_module.write_index(folder / "shard-00001-of-00003.idx", members)
    assert main(["verify", str(folder), "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "4 problems:" in out
    for name in escaping:
        assert f"[data] tar_member: {shard}: member {name!r} escapes the shard's folder" in out
    assert f"[data] tar_member: {shard}: member 'img999.png' is a link to '/etc/passwd'" in out
    assert main(["verify", packed["gt_wds"], "--quiet"]) == 0


# -- bad shards are named -------------------------------------------------------------------------------------------
def copy_side(packed, fmt, tmp_path, name="bad"):
    dst = tmp_path / name
    shutil.copytree(packed[f"gt_{fmt}"], dst)
    return dst


def gt_only_cfg(folder, fmt, **extra):
    return {"type": "PairedImageDataset", "name": "bad", "scale": 2, "dataroot_gt": str(folder),
            "io_backend": {"type": FORMATS[fmt], **extra}, "gt_size": 8, "batch_size_per_gpu": 4, "device": "cpu",
            "num_threads": 1, "shuffle": False}


def read_all(cfg):
    with dali_sr.build_loader(cfg) as loader:
        return [b for b in loader]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_truncated_shard_is_named_with_its_offset_and_the_next_loader_works(packed, fmt, tmp_path):
    folder = copy_side(packed, fmt, tmp_path)
    last = folder / "shard-00002-of-00003"
    shard = last.with_suffix(".tfrecord" if fmt == "tfrecord" else ".tar")
    last_offset = int((folder / "shard-00002-of-00003.idx").read_text().splitlines()[-1].split()[-3 if fmt == "wds"
                                                                                                   else 0])
    shard.write_bytes(shard.read_bytes()[:last_offset + 100])  # the last value cut short
    with pytest.raises(DatasetError, match=rf"{shard}.* truncated at byte {last_offset + 100}"):
        read_all(gt_only_cfg(folder, fmt))
    shutil.copy(Path(packed[f"gt_{fmt}"]) / shard.name, shard)
    assert len(read_all(gt_only_cfg(folder, fmt))) == PAIRS // 4


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_index_that_does_not_match_its_shard_is_named(packed, fmt, tmp_path):
    folder = copy_side(packed, fmt, tmp_path)
    a, b = folder / "shard-00000-of-00003.idx", folder / "shard-00001-of-00003.idx"
    lines = a.read_text().splitlines()
    if fmt == "tfrecord":  # every record one byte later: no record starts there
        a.write_text("".join(f"{int(o) + 1} {s}\n" for o, s in (line.split() for line in lines)))
    else:  # shard 0's index names shard 1's members
        a.write_text(b.read_text())
        b.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"does not match its shard"):
        read_all(gt_only_cfg(folder, fmt))


def test_a_malformed_index_line_and_a_short_index_are_named(packed, tmp_path):
    folder = copy_side(packed, "tfrecord", tmp_path)
    index = folder / "shard-00001-of-00003.idx"
    index.write_text("12 x\n")
    with pytest.raises(DatasetError, match=rf"{index} line 1: .*is not '<offset> <size>'"):
        dali_sr.build_loader(gt_only_cfg(folder, "tfrecord"))
    index.write_text("")
    with pytest.raises(DatasetError, match=rf"index files of {folder} list 16 records but its meta_info.txt lists 24"):
        dali_sr.build_loader(gt_only_cfg(folder, "tfrecord"))


def test_a_record_without_the_configured_feature_is_named(packed, tmp_path):
    folder = copy_side(packed, "tfrecord", tmp_path)
    for name in ("meta_info.txt", "shards.txt"):
        (folder / name).unlink()
    with pytest.raises(DatasetError, match=r"record at byte 0 has no bytes feature 'gt'; set io_backend.feature"):
        read_all({**gt_only_cfg(folder, "tfrecord", feature="gt", patch_shape=[24, 28]), "color": "y"})


def test_shards_read_with_the_other_format_and_missing_folders_are_named(packed, tmp_path):
    with pytest.raises(DatasetError, match=r"lists shard-00000-of-00003.tar, not a .tfrecord shard; set io_backend: "
                                           r"\{type: webdataset\}"):
        dali_sr.build_loader(gt_only_cfg(packed["gt_wds"], "tfrecord"))
    with pytest.raises(DatasetError, match=r"shards.txt is missing; this|shards.txt is missing \(and"):
        dali_sr.build_loader(gt_only_cfg(packed["gt"], "wds"))
    with pytest.raises(DatasetError, match=r"shard folder .*nowhere does not exist"):
        dali_sr.build_loader(gt_only_cfg(tmp_path / "nowhere", "wds"))
    with pytest.raises(DatasetError, match=r"io_backend lmdb reads local paths; for object storage pack"):
        dali_sr.build_loader({**gt_only_cfg("s3://b/p", "wds"), "io_backend": {"type": "lmdb"}})


# -- object storage ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def s3(packed):
    with s3_server() as endpoint:
        urls = {}
        for fmt in FORMATS:
            for side in ("gt", "lq"):
                urls[f"{side}_{fmt}"] = upload_folder(endpoint, Path(packed[f"{side}_{fmt}"]), "datasets",
                                                      f"nn/{side}_{fmt}")
        yield endpoint, urls


@pytest.fixture
def s3_env(s3, monkeypatch):
    endpoint, urls = s3
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    return urls


@pytest.mark.parametrize("fmt", FORMATS)
def test_batches_from_s3_equal_the_local_shards(packed, s3_env, fmt):
    local = shard_cfg(packed, fmt)
    remote = {**local, "dataroot_gt": s3_env[f"gt_{fmt}"], "dataroot_lq": s3_env[f"lq_{fmt}"]}
    assert_same(batches(remote), batches(local))


def test_s3_failures_name_the_url_and_what_to_set(s3_env, monkeypatch, tmp_path):
    def build(url):
        return dali_sr.build_loader(gt_only_cfg(url, "wds", max_attempts=2))

    with pytest.raises(DatasetError, match=r"s3://nobucket/x/shards.txt: bucket nobucket not found at "
                                           r"http://127.0.0.1:\d+; fix the URL or AWS_ENDPOINT_URL"):
        build("s3://nobucket/x")
    with pytest.raises(DatasetError, match=r"s3://datasets/nn/none/shards.txt is missing"):
        build("s3://datasets/nn/none")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(DatasetError, match=r"no AWS credentials found; set AWS_ACCESS_KEY_ID and "
                                           r"AWS_SECRET_ACCESS_KEY"):
        build(s3_env["gt_wds"])
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(DatasetError, match=r"cannot reach the S3 endpoint http://127.0.0.1:\d+ \(gave up after 2 "
                                           r"attempts in [\d.]+ s\); check the server is up and AWS_ENDPOINT_URL "
                                           r"points at it"):
        build(s3_env["gt_wds"])


@pytest.mark.slow
def test_torchrun_two_ranks_read_disjoint_equal_parts_from_s3(packed, s3_env, tmp_path):
    cfg = {**shard_cfg(packed, "tfrecord", batch_size_per_gpu=2), "dataroot_gt": s3_env["gt_tfrecord"],
           "dataroot_lq": s3_env["lq_tfrecord"]}
    env = {**os.environ, "DALI_SR_TEST_OUT": str(tmp_path), "DALI_SR_TEST_CFG": repr(cfg)}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
                           str(Path(__file__).with_name("dist_worker.py"))], env=env, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    parts = [(tmp_path / f"rank{r}.txt").read_text().split() for r in range(2)]
    assert len(parts[0]) == len(parts[1]) == PAIRS // 2
    assert not set(parts[0]) & set(parts[1])
    assert set(parts[0]) | set(parts[1]) == {f"img{i:03d}" for i in range(PAIRS)}
