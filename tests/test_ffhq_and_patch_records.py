"""`type: FFHQDataset` (GT alone, as BasicSR's) from folders, LMDBs and shards, and TFRecords of raw Y patches in
TensorFlow's layout read as they are (LQ made by bicubic)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tfrecord

import dali_sr
from dali_sr.errors import ConfigError, DatasetError
from dali_sr.prep.extract_tfrecords import extract_tfrecords
from dali_sr.prep.pack import pack
from test_gt_only import assert_bicubic_of

MEAN, STD = [0.5, 0.4, 0.3], [0.2, 0.25, 0.5]


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """FFHQ-format records (shape CHW, data raw RGB CHW), extracted to a PNG folder, an LMDB and WebDataset shards."""
    root = tmp_path_factory.mktemp("ffhq")
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (3, 16, 16), dtype=np.uint8) for _ in range(6)]
    writer = tfrecord.TFRecordWriter(str(root / "ffhq-r04.tfrecords"))
    for img in images:
        writer.write({"shape": (list(img.shape), "int"), "data": (img.tobytes(), "byte")})
    writer.close()
    extract_tfrecords(str(root / "ffhq-r04.tfrecords"), str(root / "png"), progress=False)
    extract_tfrecords(str(root / "ffhq-r04.tfrecords"), str(root / "lmdb"), lmdb=True, progress=False)
    pack(str(root / "png" / "ffhq_16"), str(root / "wds"), fmt="wds", shards=2, progress=False)
    rgb = {f"{i:08d}": img.transpose(1, 2, 0) for i, img in enumerate(images)}  # HWC RGB
    return {"disk": str(root / "png" / "ffhq_16"), "lmdb": str(root / "lmdb" / "ffhq_16.lmdb"),
            "webdataset": str(root / "wds"), "rgb": rgb}


@pytest.mark.parametrize("backend", ["disk", "lmdb", "webdataset"])
def test_ffhq_yields_whole_gt_images_flipped_and_normalized_as_basicsr(faces, backend):
    cfg = {"type": "FFHQDataset", "dataroot_gt": faces[backend], "io_backend": {"type": backend},
           "use_hflip": True, "mean": MEAN, "std": STD, "batch_size_per_gpu": 3, "device": "cpu", "num_threads": 1}
    seen, flipped = set(), 0
    with dali_sr.build_loader(cfg) as loader:
        for batch in loader:
            assert sorted(batch) == ["gt", "gt_path"]
            for k, path in enumerate(batch["gt_path"]):
                # BasicSR's names: LMDB keys 00000000/r04 (its gt_path), files 00000000.png
                key, level = path.split("/") if backend == "lmdb" else (Path(path).stem, "r04")
                assert level == "r04", path
                ref = (faces["rgb"][key].astype(np.float32) / 255 - np.float32(MEAN)) / np.float32(STD)
                got = batch["gt"][k].numpy().transpose(1, 2, 0)
                same = np.array_equal(got, ref)
                assert same or np.array_equal(got, ref[:, ::-1]), path
                flipped += not same
                seen.add(key)
    assert seen == set(faces["rgb"]) and 0 < flipped < 6


def test_ffhq_refuses_lq_keys():
    for key, value in (("dataroot_lq", "lq"), ("degradation", "bicubic")):
        with pytest.raises(ConfigError, match=f"FFHQDataset yields GT images alone; remove '{key}'"):
            dali_sr.load_config({"type": "FFHQDataset", "dataroot_gt": "gt", key: value})


# -- TensorFlow's layout: raw Y patches -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def y_patches(tmp_path_factory):
    root = tmp_path_factory.mktemp("tf")
    rng = np.random.default_rng(5)
    patches = [rng.integers(0, 256, (24, 24), dtype=np.uint8) for _ in range(10)]
    for shard in range(2):
        writer = tfrecord.TFRecordWriter(str(root / f"train-{shard}.tfrecord"))
        for p in patches[shard * 5:(shard + 1) * 5]:
            writer.write({"gt": (p.tobytes(), "byte")})
        writer.close()
    return root, patches


def patch_cfg(root, **io):
    return {"type": "PairedImageDataset", "scale": 2, "dataroot_gt": str(root), "color": "y", "gt_size": 24,
            "io_backend": {"type": "tfrecord", "feature": "gt", "patch_shape": [24, 24], **io},
            "batch_size_per_gpu": 5, "device": "cpu", "num_threads": 1, "shuffle": False}


def test_raw_y_patch_records_read_as_they_are_with_bicubic_lq(y_patches):
    root, patches = y_patches
    with dali_sr.build_loader(patch_cfg(root)) as loader:
        batches = list(loader)
    assert [p for b in batches for p in b["gt_path"]] == [f"train-{s}/{n:08d}" for s in range(2) for n in range(5)]
    for b in batches:
        assert b["gt"].shape == (5, 1, 24, 24) and b["lq"].shape == (5, 1, 12, 12)
        for k, key in enumerate(b["gt_path"]):
            shard, number = key.split("/")
            patch = patches[int(shard[-1]) * 5 + int(number)]
            np.testing.assert_array_equal(b["gt"][k, 0].numpy(), patch.astype(np.float32) / 255)
            assert_bicubic_of(b["lq"][k], b["gt"][k], 2)


def test_patch_records_errors_name_the_record_and_the_key(y_patches, tmp_path):
    root, _ = y_patches
    with pytest.raises(DatasetError, match=r"train-0.tfrecord: the record at byte 0 has no bytes feature 'image'; set "
                                           r"io_backend.feature"):
        with dali_sr.build_loader(patch_cfg(root, feature="image")) as loader:
            list(loader)
    with pytest.raises(DatasetError, match=r"raw value has 576 bytes, not the 20x24x1 of its meta file or "
                                           r"io_backend.patch_shape"):
        with dali_sr.build_loader({**patch_cfg(root, patch_shape=[20, 24]), "gt_size": 20}) as loader:
            list(loader)
    with pytest.raises(ConfigError, match=r"patch_shape \[24, 24, 1\] holds one-channel Y patches; set color: y"):
        dali_sr.load_config({**patch_cfg(root), "color": None})
    (tmp_path / "cut.tfrecord").write_bytes((root / "train-0.tfrecord").read_bytes()[:-10])
    with pytest.raises(DatasetError, match=r"cut.tfrecord: truncated at byte \d+: record 4 at byte \d+ ends at byte"):
        dali_sr.build_loader(patch_cfg(tmp_path))
