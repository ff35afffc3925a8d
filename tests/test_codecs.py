"""Storage codecs: headers, encoding round trips, `pack --codec`, and the loader reading every codec."""
from __future__ import annotations

from pathlib import Path

import cv2
import lmdb
import numpy as np
import pytest

import dali_sr
from dali_sr.errors import ConfigError, DatasetError
from dali_sr.storage.codecs import codec_of_tag, decode, encode, meta_tag
from dali_sr.storage.formats import LOSSLESS, codec_extension as extension
from dali_sr.storage.headers import SNIFF_BYTES, read_header, sniff_codec
from dali_sr.prep.pack import pack

from conftest import clip_cfg, make_nn_clips, make_nn_pairs, paired_cfg

RNG = np.random.default_rng(7)
COLOUR = RNG.integers(0, 256, (40, 57, 3), dtype=np.uint8)
GRAY = RNG.integers(0, 256, (33, 45), dtype=np.uint8)


def as_bytes(value) -> np.ndarray:
    return np.frombuffer(value, dtype=np.uint8)


def batches(cfg: dict, epochs: int = 1) -> list[dict]:
    with dali_sr.build_loader(cfg) as loader:
        out = []
        for epoch in range(epochs):
            loader.set_epoch(epoch)
            out += [{k: (v.clone() if hasattr(v, "clone") else v) for k, v in b.items()} for b in loader]
    return out


def assert_same_pixels(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b) > 0
    for x, y in zip(a, b):
        assert x["lq"].shape == y["lq"].shape and x["gt"].shape == y["gt"].shape
        assert (x["lq"] == y["lq"]).all() and (x["gt"] == y["gt"]).all()


# -- headers ------------------------------------------------------------------------------------
@pytest.mark.parametrize("codec", ["png", "jpeg", "jpeg2000", "htj2k", "raw"])
@pytest.mark.parametrize("img", [COLOUR, GRAY], ids=["colour", "gray"])
def test_header_gives_codec_size_and_channels(codec, img):
    value = encode(img, codec, "x", quality=90)
    header = read_header(as_bytes(value), "x")
    assert (header.codec, header.height, header.width, header.channels) == (codec, *img.shape[:2],
                                                                            1 if img.ndim == 2 else 3)
    assert sniff_codec(value[:SNIFF_BYTES]) == codec


def test_jpeg2000_codestream_and_pnm_comments_are_read():
    jp2 = encode(COLOUR, "jpeg2000", "x")
    codestream = jp2[jp2.index(b"jp2c") + 4:]  # the J2K codestream box of the JP2 file
    header = read_header(as_bytes(codestream), "x")
    assert (header.codec, header.height, header.width, header.channels) == ("jpeg2000", 40, 57, 3)
    pnm = b"P6\n# written by hand\n57 40\n255\n" + COLOUR[:, :, ::-1].tobytes()
    header = read_header(as_bytes(pnm), "x")
    assert (header.height, header.width, header.channels) == (40, 57, 3)
    assert pnm[header.offset:] == COLOUR[:, :, ::-1].tobytes()


@pytest.mark.parametrize("data, match", [
    (b"P6\n57 40\n65535\n" + bytes(10), "maxval 65535"),
    (b"P6\n57", "truncated or corrupt PPM"),
    (b"P3\n1 1\n255\n0 0 0", r"unsupported image format \(text or 1-bit PNM\)"),
])
def test_bad_raw_headers_are_named(data, match):
    with pytest.raises(DatasetError, match=f"^item: .*{match}"):
        read_header(as_bytes(data), "item")


# -- encoding ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("codec", LOSSLESS)
@pytest.mark.parametrize("img", [COLOUR, GRAY], ids=["colour", "gray"])
def test_lossless_codecs_round_trip_exactly(codec, img):
    assert np.array_equal(decode(as_bytes(encode(img, codec, "x"))), img)


def test_jpeg_is_close_and_quality_matters():
    errors = {}
    for quality in (50, 95):
        back = decode(as_bytes(encode(COLOUR, "jpeg", "x", quality=quality))).astype(int)
        errors[quality] = np.abs(back - COLOUR).mean()
    assert errors[95] < errors[50]


def test_non_png_codecs_drop_alpha_and_refuse_16_bit():
    bgra = np.dstack([COLOUR, np.full(COLOUR.shape[:2], 9, np.uint8)])
    for codec in ("jpeg2000", "raw"):
        assert np.array_equal(decode(as_bytes(encode(bgra, codec, "x"))), COLOUR)
    with pytest.raises(DatasetError, match="^deep.png: uint16 image cannot be stored as raw"):
        encode(COLOUR.astype(np.uint16), "raw", "deep.png")
    with pytest.raises(DatasetError, match="^tiny.png: 20x57 is too small for JPEG 2000"):
        encode(COLOUR[:20], "jpeg2000", "tiny.png")


def test_meta_tags_name_their_codec():
    assert [meta_tag(c) for c in ("png", "jpeg", "jpeg2000", "htj2k", "raw")] == \
        ["1", "jpeg:q95", "jpeg2000:lossless", "htj2k:lossless", "raw"]
    assert [codec_of_tag(t) for t in ("1", "jpeg:q80", "jpeg2000:lossless", "htj2k:lossless", "raw", "(3,4,3)")] == \
        ["png", "jpeg", "jpeg2000", "htj2k", "raw", None]
    assert extension("raw", 1) == ".pgm" and extension("raw", 3) == ".ppm"


# -- pack --codec ------------------------------------------------------------------------------------
def lmdb_values(path) -> dict[str, bytes]:
    with lmdb.open(str(path), readonly=True, lock=False) as env, env.begin() as txn:
        return {k.decode(): bytes(v) for k, v in txn.cursor()}


@pytest.mark.parametrize("codec", LOSSLESS)
def test_pack_lossless_codecs_store_the_source_pixels(tmp_path, codec):
    src = tmp_path / "src"
    src.mkdir()
    imgs = {"a": COLOUR, "b": GRAY}
    for key, img in imgs.items():
        cv2.imwrite(str(src / f"{key}.png"), img)
    report = pack(str(src), str(tmp_path / "out.lmdb"), codec=codec, progress=False)
    assert (report.codec, report.tag) == (codec, meta_tag(codec))
    got = lmdb_values(tmp_path / "out.lmdb")
    assert {k: decode(as_bytes(v)).tolist() for k, v in got.items()} == {k: v.tolist() for k, v in imgs.items()}
    meta = (tmp_path / "out.lmdb" / "meta_info.txt").read_text()
    assert meta == (f"a{extension(codec, 3)} (40,57,3) {meta_tag(codec)}\n"
                    f"b{extension(codec, 1)} (33,45,1) {meta_tag(codec)}\n")


def test_pack_jpeg_needs_lossy_and_records_quality(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    cv2.imwrite(str(src / "a.png"), COLOUR)
    with pytest.raises(ConfigError, match="--codec jpeg is lossy.*pass --lossy"):
        pack(str(src), str(tmp_path / "out.lmdb"), codec="jpeg", progress=False)
    pack(str(src), str(tmp_path / "out.lmdb"), codec="jpeg", quality=80, lossy=True, progress=False)
    assert (tmp_path / "out.lmdb" / "meta_info.txt").read_text() == "a.jpg (40,57,3) jpeg:q80\n"
    assert lmdb_values(tmp_path / "out.lmdb")["a"] == encode(COLOUR, "jpeg", "a", quality=80)


def test_resume_refuses_another_codec(tmp_path, monkeypatch):
    from dali_sr.prep import pack as pack_mod

    src = tmp_path / "src"
    src.mkdir()
    for k in range(4):
        cv2.imwrite(str(src / f"i{k}.png"), COLOUR)
    real = pack_mod._encode_file
    calls = [0]

    def crash(path, codec):
        calls[0] += 1
        if calls[0] > 2:
            raise RuntimeError("simulated crash")
        return real(path, codec)

    monkeypatch.setattr(pack_mod, "_encode_file", crash)
    with pytest.raises(RuntimeError):
        pack(str(src), str(tmp_path / "out.lmdb"), codec="raw", workers=1, commit_every=1, progress=False)
    monkeypatch.undo()
    with pytest.raises(ConfigError, match="packed as raw .*not jpeg2000:lossless"):
        pack(str(src), str(tmp_path / "out.lmdb"), codec="jpeg2000", resume=True, progress=False)
    report = pack(str(src), str(tmp_path / "out.lmdb"), codec="raw", resume=True, progress=False)
    assert (report.resumed, report.written, report.images) == (2, 2, 4)


# -- the loader reads every codec ------------------------------------------------------------------
@pytest.fixture(scope="module")
def nn_pairs(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("codec_pairs")
    roots = make_nn_pairs(root, 2, [(40, 48), (36, 52), (44, 40), (48, 48), (32, 40)], lmdb=True)
    for codec in ("jpeg2000", "htj2k", "raw", "jpeg"):
        for side in ("gt", "lq"):
            roots[f"{side}_{codec}"] = str(root / f"{side}_{codec}.lmdb")
            pack(roots[side], roots[f"{side}_{codec}"], codec=codec, lossy=True, progress=False)
    return root, roots


def codec_cfg(roots: dict, lq: str, gt: str, **extra) -> dict:
    if extra.get("phase", "train") == "train":
        extra["batch_size_per_gpu"] = 2
    return paired_cfg(roots, 2, lmdb=True, dataroot_lq=roots[lq], dataroot_gt=roots[gt], seed=3, **extra)


@pytest.mark.parametrize("lq, gt", [("lq_jpeg2000", "gt_jpeg2000"), ("lq_htj2k", "gt_htj2k"), ("lq_raw", "gt_raw"),
                                    ("lq_raw", "gt_jpeg2000"), ("lq_lmdb", "gt_raw"), ("lq_jpeg2000", "gt_htj2k")])
@pytest.mark.parametrize("phase", ["train", "val"])
def test_lossless_codecs_give_the_png_batches_exactly(nn_pairs, lq, gt, phase):
    _, roots = nn_pairs
    with dali_sr.build_loader(codec_cfg(roots, lq, gt, phase=phase)) as loader:  # raw sides skip the decoder
        assert (loader.index.lq_arrays is not None, loader.index.gt_arrays is not None) == (lq == "lq_raw",
                                                                                           gt == "gt_raw")
    reference = batches(codec_cfg(roots, "lq_lmdb", "gt_lmdb", phase=phase), epochs=2)
    got = batches(codec_cfg(roots, lq, gt, phase=phase), epochs=2)
    assert_same_pixels(got, reference)
    for b in got:
        lq = b["lq"].numpy()
        assert np.array_equal(b["gt"].numpy(), lq.repeat(2, axis=-2).repeat(2, axis=-1))
        assert b["lq_path"] == b["gt_path"]  # LMDB keys, the same on both sides


def test_jpeg_lmdb_loads_close_to_png(nn_pairs):
    _, roots = nn_pairs
    reference = batches(codec_cfg(roots, "lq_lmdb", "gt_lmdb"))
    got = batches(codec_cfg(roots, "lq_jpeg", "gt_jpeg"))
    assert len(got) == len(reference)
    for x, y in zip(got, reference):
        assert x["gt"].shape == y["gt"].shape
        assert 0 < (x["gt"] - y["gt"]).abs().mean() < 0.15  # lossy (noise is its worst case), same crops


def test_mixed_codecs_in_one_lmdb_load_exactly(nn_pairs, tmp_path):
    """Values of one LMDB in different codecs (meta lines say so) -> the PNG batches."""
    _, roots = nn_pairs
    mixed = {}
    for side in ("gt", "lq"):
        kinds = ("lmdb", "raw", "jpeg2000", "htj2k")
        sources = [lmdb_values(roots[f"{side}_{c}"]) for c in kinds]
        metas = [Path(roots[f"{side}_{c}"], "meta_info.txt").read_text().splitlines() for c in kinds]
        path = tmp_path / f"{side}_mixed.lmdb"
        keys = sorted(sources[0])
        with lmdb.open(str(path), map_size=1 << 26) as env, env.begin(write=True) as txn:
            for i, key in enumerate(keys):
                txn.put(key.encode(), sources[i % len(kinds)][key])
        (path / "meta_info.txt").write_text("\n".join(metas[i % len(kinds)][i] for i in range(len(keys))) + "\n")
        mixed[side] = str(path)
    codecs = {sniff_codec(v[:SNIFF_BYTES]) for v in lmdb_values(mixed["gt"]).values()}
    assert codecs == {"png", "raw", "jpeg2000", "htj2k"}
    roots = dict(roots, lq_mixed=mixed["lq"], gt_mixed=mixed["gt"])
    for phase in ("train", "val"):
        assert_same_pixels(batches(codec_cfg(roots, "lq_mixed", "gt_mixed", phase=phase)),
                           batches(codec_cfg(roots, "lq_lmdb", "gt_lmdb", phase=phase)))


@pytest.mark.parametrize("codecs", [("raw",), ("jpeg2000",), ("htj2k",), ("raw", "png", "jpeg2000", "htj2k")])
def test_raw_and_jpeg2000_files_on_disk_load_exactly(nn_pairs, tmp_path, codecs):
    """Folders of .ppm / .jp2 files (or both, with PNG, file by file) give the PNG folders' batches."""
    _, roots = nn_pairs
    folders = {}
    for side in ("gt", "lq"):
        folder = tmp_path / side
        folder.mkdir()
        for k, path in enumerate(sorted(Path(roots[side]).iterdir())):
            codec = codecs[k % len(codecs)]
            img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            (folder / (path.stem + extension(codec, 3))).write_bytes(encode(img, codec, str(path)))
        folders[side] = str(folder)
    for phase in ("train", "val"):
        extra = {"batch_size_per_gpu": 2} if phase == "train" else {}
        reference = batches(paired_cfg(roots, 2, seed=3, phase=phase, **extra))
        cfg = paired_cfg(folders, 2, seed=3, phase=phase, **extra)
        with dali_sr.build_loader(cfg) as loader:
            assert (loader.index.gt_arrays is not None) == (codecs == ("raw",))
        assert_same_pixels(batches(cfg), reference)


@pytest.mark.parametrize("fault, match", [
    ("png", "value is png, but meta_info.txt says every value here is raw; re-pack"),
    ("truncated", r"raw value holds 22457 pixel bytes, not 72x104x3 from its header; the value is truncated"),
])
def test_bad_raw_values_are_named_by_key(nn_pairs, tmp_path, fault, match):
    _, roots = nn_pairs
    values = lmdb_values(roots["gt_raw"])
    key = sorted(values)[1]
    values[key] = lmdb_values(roots["gt_lmdb"])[key] if fault == "png" else values[key][:-7]
    bad = tmp_path / "gt_bad.lmdb"
    with lmdb.open(str(bad), map_size=1 << 26) as env, env.begin(write=True) as txn:
        for k, value in values.items():
            txn.put(k.encode(), value)
    (bad / "meta_info.txt").write_text(Path(roots["gt_raw"], "meta_info.txt").read_text())
    cfg = codec_cfg(dict(roots, gt_bad=str(bad)), "lq_raw", "gt_bad", phase="val")
    with pytest.raises(DatasetError, match=f"key '?{key}'?.*{match}"):
        batches(cfg)


# -- clips ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("codec", ["raw", "jpeg2000", "htj2k"])
@pytest.mark.parametrize("kind", ["REDSDataset", "REDSRecurrentDataset"])
def test_clip_pipelines_read_lossless_codecs_exactly(tmp_path, codec, kind):
    roots = make_nn_clips(tmp_path, 2, {"000": (6, 32, 36), "001": (5, 36, 32)}, lmdb=True)
    for side in ("gt", "lq"):
        roots[f"{side}_{codec}"] = str(tmp_path / f"{side}_{codec}.lmdb")
        pack(roots[side], roots[f"{side}_{codec}"], codec=codec, preset="reds", progress=False)
    extra = dict(val_partition="official", batch_size_per_gpu=2, seed=5)
    reference = batches(clip_cfg(roots, 2, kind, lmdb=True, **extra), epochs=2)
    cfg = clip_cfg(roots, 2, kind, lmdb=True, dataroot_lq=roots[f"lq_{codec}"], dataroot_gt=roots[f"gt_{codec}"],
                   **extra)
    with dali_sr.build_loader(cfg) as loader:
        assert (loader.index.lq_arrays is not None) == (codec == "raw")
    got = batches(cfg, epochs=2)
    assert_same_pixels(got, reference)
    assert [b["key"] for b in got] == [b["key"] for b in reference]
