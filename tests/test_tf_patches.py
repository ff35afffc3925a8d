"""`dali-sr pack --format tf-patches`: the TensorFlow SR loader's patch records, byte for byte as an independent
writer (the `tfrecord` package, TensorFlow's example.proto) makes them, read back pixel-exact by the loader."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import dali_sr
from dali_sr.cli import main
from dali_sr.errors import ConfigError, DatasetError
from dali_sr.prep.tf_patches import pack_tf_patches
from dali_sr.storage.tfrecord import scan_file
from test_gt_only import basicsr_imresize

tfrecord_writer = pytest.importorskip("tfrecord.writer")

# (h, w) of the sources, in name order; one too small for a patch, one gray, sides that leave a margin
SOURCES = {"a.png": (60, 80), "b-1.png": (40, 47), "b.png": (17, 30), "c.png": (24, 24), "d_gray.png": (50, 33)}
PATCH, FILES = 24, 3


def matlab_y(rgb: np.ndarray) -> np.ndarray:
    """MATLAB's `rgb2ycbcr` Y of uint8 RGB: 16 + (65.481 R + 128.553 G + 24.966 B) / 255, rounded, in float64."""
    r, g, b = (rgb[..., c].astype(np.float64) for c in range(3))
    return np.floor(16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0 + 0.5).astype(np.uint8)


def reference_patches(src: Path, patch: int, color: str) -> list[np.ndarray]:
    """Every window as the TF loader's `gen_tfrecords` cuts it, images in sorted path order."""
    out = []
    step = patch // 3 * 2
    for path in sorted(src.glob("*.png")):
        rgb = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        img = matlab_y(rgb) if color == "y" else rgb
        for top in range(0, img.shape[0] - patch + 1, step):
            for left in range(0, img.shape[1] - patch + 1, step):
                out.append(img[top:top + patch, left:left + patch])
    return out


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("tf_src")
    rng = np.random.default_rng(24)
    for name, (h, w) in SOURCES.items():
        img = rng.integers(0, 256, (h, w) if "gray" in name else (h, w, 3), dtype=np.uint8)
        cv2.imwrite(str(src / name), img)
    return src


def write_reference(folder: Path, patches: list[np.ndarray], files: int) -> None:
    writers = [tfrecord_writer.TFRecordWriter(str(folder / f"data{i}.tfrecords")) for i in range(files)]
    for n, p in enumerate(patches):
        writers[n % files].write({"gt": (p.tobytes(), "byte")})
    for w in writers:
        w.close()


@pytest.mark.parametrize("color", ["y", "rgb"])
def test_records_are_byte_exact_with_an_independent_writer(sources, tmp_path, color):
    report = pack_tf_patches(str(sources), str(tmp_path / "ours"), patch=PATCH, files=FILES, color=color,
                             progress=False)
    patches = reference_patches(sources, PATCH, color)
    (tmp_path / "ref").mkdir()
    write_reference(tmp_path / "ref", patches, FILES)
    ours = tmp_path / "ours"
    names = sorted(p.name for p in ours.iterdir())
    assert names == sorted([f"data{i}.tfrecords" for i in range(FILES)] + [f"data{i}.idx" for i in range(FILES)]
                           + ["sample_num.txt"])
    assert report.records == len(patches) > 15
    assert (ours / "sample_num.txt").read_text() == f"{len(patches)}\n"
    for i in range(FILES):
        assert (ours / f"data{i}.tfrecords").read_bytes() == (tmp_path / "ref" / f"data{i}.tfrecords").read_bytes()
        entries = scan_file(ours / f"data{i}.tfrecords")
        assert (ours / f"data{i}.idx").read_text() == "".join(f"{o} {s}\n" for o, s in entries)
    assert not (tmp_path / "ours.partial").exists()


@pytest.mark.parametrize("patch", [3, 5, 9, 16])
def test_window_grid_follows_the_step_rule(sources, tmp_path, patch):
    report = pack_tf_patches(str(sources), str(tmp_path / "p"), patch=patch, files=1, progress=False)
    step = patch // 3 * 2
    want = sum(len(range(0, h - patch + 1, step)) * len(range(0, w - patch + 1, step)) for h, w in SOURCES.values())
    assert report.records == want == len(reference_patches(sources, patch, "y"))


def loader_cfg(root: Path, shape: list[int], **extra) -> dict:
    return {"type": "PairedImageDataset", "scale": 2, "dataroot_gt": str(root), "gt_size": PATCH,
            "io_backend": {"type": "tfrecord", "feature": "gt", "patch_shape": shape},
            "batch_size_per_gpu": 4, "device": "cpu", "num_threads": 1, "shuffle": False, **extra}


@pytest.mark.parametrize("color", ["y", "rgb"])
def test_the_loader_reads_the_records_back_pixel_exact(sources, tmp_path, color):
    pack_tf_patches(str(sources), str(tmp_path / "r"), patch=PATCH, files=FILES, color=color, progress=False)
    patches = reference_patches(sources, PATCH, color)
    shape = [PATCH, PATCH] if color == "y" else [PATCH, PATCH, 3]
    cfg = loader_cfg(tmp_path / "r", shape, **({"color": "y"} if color == "y" else {}))
    seen = []
    with dali_sr.build_loader(cfg) as loader:
        for batch in loader:
            for k, key in enumerate(batch["gt_path"]):
                shard, number = key.split("/")
                n = int(number) * FILES + int(shard.removeprefix("data"))
                got = (batch["gt"][k].numpy().transpose(1, 2, 0) * 255).round()
                want = patches[n] if color == "rgb" else patches[n][:, :, None]
                np.testing.assert_array_equal(got, want, err_msg=key)
                if color == "y":  # LQ: MATLAB's bicubic of the Y patch, not rounded, as the TensorFlow loader's
                    ref = basicsr_imresize(want / 255.0, 2)
                    assert np.abs(batch["lq"][k].numpy().transpose(1, 2, 0) - ref).max() <= 2e-6
                seen.append(n)
    assert len(seen) == len(patches) // 4 * 4 and len(set(seen)) == len(seen)


def test_an_interrupted_pack_leaves_nothing_loadable(sources, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        (src / name).write_bytes((sources / name).read_bytes())
    (src / "c.png").write_bytes((sources / "c.png").read_bytes()[:-40])  # cut short: fails when reached
    dst = tmp_path / "out"
    with pytest.raises(DatasetError, match="c.png"):
        pack_tf_patches(str(src), str(dst), patch=PATCH, files=FILES, progress=False, workers=1)
    assert not dst.exists() and (tmp_path / "out.partial").is_dir()
    with pytest.raises(DatasetError, match="unfinished pack of out; pass --resume to continue it or --force"):
        pack_tf_patches(str(src), str(dst), patch=PATCH, files=FILES, progress=False)
    (src / "c.png").write_bytes((sources / "c.png").read_bytes())
    pack_tf_patches(str(src), str(dst), patch=PATCH, files=FILES, progress=False, force=True)
    assert (dst / "sample_num.txt").read_text() == f"{len(reference_patches(sources, PATCH, 'y'))}\n"
    assert not (tmp_path / "out.partial").exists()
    with pytest.raises(DatasetError, match="already exists; pass --force"):
        pack_tf_patches(str(src), str(dst), patch=PATCH, files=FILES, progress=False)


def test_command_line_writes_the_folder_and_refuses_resume(sources, tmp_path, capsys):
    dst = tmp_path / "cli"
    assert main(["pack", str(sources), str(dst), "--format", "tf-patches", "--patch", "16", "--files", "2",
                 "--quiet"]) == 0
    assert "patches of 5 images" in capsys.readouterr().out
    assert sorted(p.name for p in dst.iterdir())[:2] == ["data0.idx", "data0.tfrecords"]
    assert main(["pack", str(sources), str(dst), "--format", "tf-patches", "--resume"]) == 2
    assert "not resumable; rerun with --force" in capsys.readouterr().err
    assert main(["pack", str(sources), str(tmp_path / "s"), "--format", "tf-patches", "--shards", "4"]) == 2
    assert "--shards does not apply to --format tf-patches" in capsys.readouterr().err
    with pytest.raises(DatasetError, match="holds a 400x400 patch; lower --patch"):
        pack_tf_patches(str(sources), str(tmp_path / "big"), patch=400, progress=False)
    assert not (tmp_path / "big").exists()
    with pytest.raises(ConfigError, match="--patch must be an integer of at least 3"):
        pack_tf_patches(str(sources), str(tmp_path / "small"), patch=2, progress=False)


def test_dalis_tfrecord_reader_reads_the_files_through_their_indexes(sources, tmp_path):
    from nvidia.dali import fn, pipeline_def
    from nvidia.dali import tfrecord as tfrec

    pack_tf_patches(str(sources), str(tmp_path / "d"), patch=PATCH, files=FILES, progress=False)
    patches = reference_patches(sources, PATCH, "y")
    files = [str(tmp_path / "d" / f"data{i}.tfrecords") for i in range(FILES)]
    indexes = [str(tmp_path / "d" / f"data{i}.idx") for i in range(FILES)]

    @pipeline_def(batch_size=1, num_threads=1, device_id=None)
    def read():
        return fn.readers.tfrecord(path=files, index_path=indexes, random_shuffle=False,
                                   features={"gt": tfrec.FixedLenFeature((), tfrec.string, "")})["gt"]

    pipe = read()
    pipe.build()
    got = [np.array(pipe.run()[0][0]).tobytes() for _ in range(len(patches))]
    want = [p.tobytes() for i in range(FILES) for p in patches[i::FILES]]  # file by file, records in order
    assert got == want
