"""TorchDataset (DL-Art-School's wrapper of torchvision's datasets) read from tiny datasets written in each
on-disk layout, its batches compared with references computed here: the stored pixels and labels, PIL's
bilinear resize (what torchvision's `Resize` runs on PIL images), centre crop and ImageNet normalisation in
NumPy."""
from __future__ import annotations

import gzip
import os
import pickle
import struct

import numpy as np
import pytest
from PIL import Image

import dali_sr
from dali_sr.errors import ConfigError, DatasetError

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
LEVEL = 1 / 255 / 0.224  # one uint8 level after normalisation (the widest of the three channels)


def normalised(hwc: np.ndarray) -> np.ndarray:
    """torchvision's ToTensor + Normalize(ImageNet) of an HWC uint8 image, in float32: CHW."""
    x = hwc.astype(np.float32) / np.float32(255)
    return ((x - MEAN) / STD).transpose(2, 0, 1)


def resized_centre(hwc: np.ndarray, size: int) -> np.ndarray:
    """torchvision's Resize(size) (PIL bilinear, shorter side to size) then CenterCrop(size)."""
    h, w = hwc.shape[:2]
    rw, rh = (size, int(size * h / w)) if w <= h else (int(size * w / h), size)
    img = hwc if (rh, rw) == (h, w) else np.asarray(Image.fromarray(hwc).resize((rw, rh), Image.BILINEAR))
    top, left = int(round((rh - size) / 2)), int(round((rw - size) / 2))
    return img[top:top + size, left:left + size]


def write_idx(path: str, array: np.ndarray, gz: bool) -> None:
    data = (struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
            + array.astype(np.uint8).tobytes())
    with open(path + (".gz" if gz else ""), "wb") as f:
        f.write(gzip.compress(data) if gz else data)


def make_mnist(root, folder: str = "MNIST", n: int = (7, 3), gz: bool = False, seed: int = 0) -> dict:
    """MNIST's raw layout with `n` (train, test) random 28 x 28 digits; returns the images and labels written."""
    rng = np.random.default_rng(seed)
    raw = os.path.join(root, folder, "raw")
    os.makedirs(raw, exist_ok=True)
    written = {}
    for prefix, count in zip(("train", "t10k"), n):
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, count, dtype=np.uint8)
        write_idx(os.path.join(raw, f"{prefix}-images-idx3-ubyte"), images, gz)
        write_idx(os.path.join(raw, f"{prefix}-labels-idx1-ubyte"), labels, gz)
        written[prefix] = (images, labels)
    return written


def make_cifar(root, hundred: bool, per_batch: int = 2, seed: int = 1) -> dict:
    """CIFAR's python layout: pickled dicts of plain lists and a (n, 3072) uint8 array (CHW rows)."""
    rng = np.random.default_rng(seed)
    folder, train, test = (("cifar-100-python", ["train"], ["test"]) if hundred else
                           ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"]))
    os.makedirs(os.path.join(root, folder), exist_ok=True)
    written = {}
    for stem in train + test:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        batch = {"batch_label": stem, "data": data, "filenames": [f"{stem}_{i}.png" for i in range(per_batch)]}
        fine = rng.integers(0, 100 if hundred else 10, per_batch).tolist()
        if hundred:
            batch.update(fine_labels=fine, coarse_labels=rng.integers(0, 20, per_batch).tolist())
        else:
            batch["labels"] = fine
        with open(os.path.join(root, folder, stem), "wb") as f:
            pickle.dump(batch, f, protocol=2)
        written[stem] = batch
    return written


def cifar_pixels(batch: dict) -> np.ndarray:
    return batch["data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


def gradient_photo(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth RGB image (photograph-like: no pixel noise) with a seed-dependent pattern."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    p = seed + 1
    r = 127 + 120 * np.sin(x / (7 + p)) * np.cos(y / 11)
    g = 127 + 120 * np.cos((x + y) / (13 + p))
    b = 255 * (x + 2 * y) / (w + 2 * h)
    return np.clip(np.stack([r, g, b], axis=2), 0, 255).round().astype(np.uint8)


def make_image_folder(root, sizes: dict) -> dict:
    """Class folders of PNG photos (one nested a level down); returns {relative path: (pixels, label)}."""
    written = {}
    for label, cls in enumerate(sorted(sizes)):
        for i, (h, w) in enumerate(sizes[cls]):
            rel = os.path.join(cls, "sub" if i == 1 else "", f"img{i}.png")
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            pixels = gradient_photo(h, w, 3 * label + i)
            Image.fromarray(pixels).save(os.path.join(root, rel))
            written[os.path.normpath(rel)] = (pixels, label)
    return written


def batches(cfg: dict, **overrides) -> list[dict]:
    with dali_sr.build_loader({"type": "TorchDataset", "batch_size_per_gpu": 1, **cfg}, device="cpu",
                              **overrides) as loader:
        return [b for b in loader]


def item_of(path: str) -> int:
    return int(path.rsplit("#", 1)[1])


# -- raw-pixel datasets ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset, folder, gz", [("mnist", "MNIST", False), ("fmnist", "FashionMNIST", True)])
@pytest.mark.parametrize("train", [True, False])
def test_mnist_pixels_labels_and_paths(tmp_path, dataset, folder, gz, train):
    """Every item once in order (validation), gray as three equal channels, stored labels, `<file>#<item>`."""
    written = make_mnist(tmp_path, folder, gz=gz)
    images, labels = written["train" if train else "t10k"]
    got = batches({"dataset": dataset, "kwargs": {"root": str(tmp_path), "train": train}, "image_size": 28,
                   "phase": "val", "batch_size_per_gpu": 2})
    prefix = "train" if train else "t10k"
    file = os.path.join(str(tmp_path), folder, "raw", f"{prefix}-images-idx3-ubyte" + (".gz" if gz else ""))
    paths = [p for b in got for p in b["GT_path"]]
    assert paths == [f"{file}#{i}" for i in range(len(images))]
    assert [p for b in got for p in b["LQ_path"]] == paths
    hq = np.concatenate([b["hq"].numpy() for b in got])
    want = np.stack([normalised(np.repeat(im[..., None], 3, axis=2)) for im in images])
    np.testing.assert_allclose(hq, want, rtol=0, atol=1e-6)
    assert np.array_equal(np.concatenate([b["labels"].numpy() for b in got]), labels.astype(np.int64))
    assert all(b["lq"] is b["hq"] for b in got) and all("coarse_labels" not in b for b in got)
    assert got[0]["labels"].dtype.is_floating_point is False and str(got[0]["labels"].dtype) == "torch.int64"


def test_mnist_upscaled_as_pil_bilinear_within_one_level(tmp_path):
    """Resize(40) of a 28 x 28 digit: PIL's bilinear upscale; DALI's linear rounding differs by one level at most."""
    images, _ = make_mnist(tmp_path)["train"]
    got = batches({"dataset": "mnist", "kwargs": {"root": str(tmp_path)}, "image_size": 40, "phase": "val"})
    for b in got:
        gray = images[item_of(b["GT_path"][0])]
        want = normalised(np.repeat(resized_centre(gray, 40)[..., None], 3, axis=2))
        assert b["hq"].shape == (1, 3, 40, 40)
        np.testing.assert_allclose(b["hq"][0].numpy(), want, rtol=0, atol=LEVEL + 1e-5)


@pytest.mark.parametrize("hundred", [False, True])
@pytest.mark.parametrize("train", [True, False])
def test_cifar_batches_pixels_labels_coarse_labels_and_paths(tmp_path, hundred, train):
    written = make_cifar(tmp_path, hundred)
    stems = ((["train"] if train else ["test"]) if hundred
             else ([f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]))
    folder = "cifar-100-python" if hundred else "cifar-10-batches-py"
    got = batches({"dataset": "cifar100" if hundred else "cifar10", "image_size": 32, "phase": "val",
                   "kwargs": {"root": str(tmp_path), "train": train, "download": True}, "batch_size_per_gpu": 3})
    want_paths = [f"{tmp_path}/{folder}/{s}#{j}" for s in stems for j in range(2)]
    assert [p for b in got for p in b["GT_path"]] == want_paths
    pixels = np.concatenate([cifar_pixels(written[s]) for s in stems])
    np.testing.assert_allclose(np.concatenate([b["hq"].numpy() for b in got]),
                               np.stack([normalised(p) for p in pixels]), rtol=0, atol=1e-6)
    fine = [x for s in stems for x in written[s]["fine_labels" if hundred else "labels"]]
    assert np.concatenate([b["labels"].numpy() for b in got]).tolist() == fine
    if hundred:
        coarse = [x for s in stems for x in written[s]["coarse_labels"]]
        assert np.concatenate([b["coarse_labels"].numpy() for b in got]).tolist() == coarse
    else:
        assert all("coarse_labels" not in b for b in got)


def test_training_flips_half_the_samples_horizontally(tmp_path):
    """RandomHorizontalFlip: each sample is the image or its mirror, drawn per sample from the seed."""
    written = make_cifar(tmp_path, hundred=False, per_batch=8)
    pixels = np.concatenate([cifar_pixels(written[f"data_batch_{i}"]) for i in range(1, 6)])
    got = batches({"dataset": "cifar10", "image_size": 32, "kwargs": {"root": str(tmp_path)}, "batch_size_per_gpu": 8},
                  seed=3)
    flipped = []
    for b in got:
        for hq, path in zip(b["hq"].numpy(), b["GT_path"]):
            item = int(path.rsplit("#", 1)[1]) + 8 * (int(path.split("data_batch_")[1][0]) - 1)
            plain, mirror = normalised(pixels[item]), normalised(pixels[item][:, ::-1])
            is_mirror = np.abs(hq - mirror).max() < 1e-6
            assert is_mirror or np.abs(hq - plain).max() < 1e-6
            flipped.append(is_mirror)
    assert len(flipped) == 40 and 10 <= sum(flipped) <= 30
    again = batches({"dataset": "cifar10", "image_size": 32, "kwargs": {"root": str(tmp_path)},
                     "batch_size_per_gpu": 8}, seed=3)
    assert all(np.array_equal(a["hq"].numpy(), b["hq"].numpy()) for a, b in zip(got, again))


@pytest.mark.parametrize("fixed_len, offset, items", [(None, 3, range(3, 7)), (5, 0, range(0, 5)),
                                                      (6, 2, range(2, 6))])
def test_fixed_len_and_offset_choose_items(tmp_path, fixed_len, offset, items):
    """DL-Art-School's length is fixed_len (default: all) - offset, sample i being item i + offset."""
    make_mnist(tmp_path)
    cfg = {"dataset": "mnist", "kwargs": {"root": str(tmp_path)}, "image_size": 28, "phase": "val",
           "offset": offset, **({"fixed_len": fixed_len} if fixed_len else {})}
    with dali_sr.build_loader({"type": "TorchDataset", "batch_size_per_gpu": 1, **cfg}, device="cpu") as loader:
        assert len(loader) == len(items)
        assert [item_of(b["GT_path"][0]) for b in loader] == list(items)


# -- image folders ----------------------------------------------------------------------------------------------
def test_image_folder_resized_centre_cropped_with_class_labels(tmp_path):
    """Classes sorted, images at any depth; Resize(24) + CenterCrop(24) as PIL computes them (smooth photos:
    DALI's antialiased linear filter stays within two levels of PIL's bilinear one when downscaling)."""
    written = make_image_folder(tmp_path, {"dog": [(40, 30), (36, 48)], "cat": [(24, 24), (50, 33)]})
    got = batches({"dataset": "imagefolder", "kwargs": {"root": str(tmp_path)}, "image_size": 24, "phase": "val"})
    rels = [os.path.relpath(b["GT_path"][0], tmp_path) for b in got]
    assert rels == ["cat/img0.png", "cat/sub/img1.png", "dog/img0.png", "dog/sub/img1.png"]
    for b, rel in zip(got, rels):
        pixels, label = written[rel]
        assert b["labels"].tolist() == [label] and b["LQ_path"] == b["GT_path"]
        np.testing.assert_allclose(b["hq"][0].numpy(), normalised(resized_centre(pixels, 24)), rtol=0,
                                   atol=2 * LEVEL + 1e-5)


def test_imagenet_reads_the_split_folder(tmp_path):
    written = make_image_folder(tmp_path / "val", {"n01440764": [(20, 20)], "n01443537": [(20, 20)]})
    got = batches({"dataset": "imagenet", "kwargs": {"root": str(tmp_path), "split": "val"}, "image_size": 20,
                   "phase": "val"})
    assert [os.path.relpath(b["GT_path"][0], tmp_path / "val") for b in got] == sorted(written)
    for b in got:
        pixels, label = written[os.path.relpath(b["GT_path"][0], tmp_path / "val")]
        assert b["labels"].tolist() == [label]
        np.testing.assert_allclose(b["hq"][0].numpy(), normalised(pixels), rtol=0, atol=1e-6)


def test_random_resized_crop_windows_follow_torchvision(tmp_path):
    """random_crop: the window of each sample, read back from a coordinate-coded image (R = x, G = y), covers
    8 %-100 % of the area at an aspect ratio in [3/4, 4/3], inside the image, resized to image_size."""
    h, w = 200, 240
    y, x = np.mgrid[0:h, 0:w]
    coded = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), np.zeros_like(x)], axis=2).astype(np.uint8)
    os.makedirs(tmp_path / "only")
    Image.fromarray(coded).save(tmp_path / "only" / "a.png")
    got = batches({"dataset": "imagefolder", "kwargs": {"root": str(tmp_path)}, "image_size": 16,
                   "random_crop": True, "dataset_enlarge_ratio": 40, "batch_size_per_gpu": 8})
    areas = []
    for b in got:
        for hq in b["hq"].numpy():
            rgb = (hq.transpose(1, 2, 0) * STD + MEAN) * 255
            x0, x1 = sorted((rgb[:, 0, 0].mean() * (w - 1) / 255, rgb[:, -1, 0].mean() * (w - 1) / 255))
            y0, y1 = rgb[0, :, 1].mean() * (h - 1) / 255, rgb[-1, :, 1].mean() * (h - 1) / 255
            cw, ch = (x1 - x0) * 16 / 15, (y1 - y0) * 16 / 15  # pixel centres span 15/16 of the window
            assert hq.shape == (3, 16, 16) and -2 <= x0 and x1 <= w + 1 and -2 <= y0 and y1 <= h + 1
            assert 0.7 <= cw / ch <= 1.45 and 0.06 <= cw * ch / (w * h) <= 1.02
            areas.append(cw * ch / (w * h))
    assert len(areas) == 40 and max(areas) - min(areas) > 0.3


# -- bad input --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset, missing", [
    ("mnist", "MNIST/raw/train-images-idx3-ubyte; place train-images-idx3-ubyte (or train-images-idx3-ubyte.gz)"),
    ("fmnist", "FashionMNIST/raw/train-images-idx3-ubyte"),
    ("cifar10", "cifar-10-batches-py/data_batch_1; place the python version of CIFAR10"),
    ("cifar100", "cifar-100-python/train; place the python version of CIFAR100"),
    ("imagenet", "train; place the image folder"),
])
def test_missing_dataset_files_are_named_with_where_to_place_them(tmp_path, dataset, missing):
    with pytest.raises(DatasetError, match="never downloads") as e:
        batches({"dataset": dataset, "kwargs": {"root": str(tmp_path)}, "image_size": 8})
    assert f"{tmp_path}/{missing}" in str(e.value) and "\n" not in str(e.value)


def test_cifar_batch_with_a_hostile_global_is_refused(tmp_path):
    make_cifar(tmp_path, hundred=False)

    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    path = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    path.write_bytes(pickle.dumps({"data": Payload(), "labels": []}, protocol=2))
    with pytest.raises(DatasetError, match=f"{path}: refused to unpickle: the file holds the global posix.system"):
        batches({"dataset": "cifar10", "kwargs": {"root": str(tmp_path)}, "image_size": 32})


def test_cifar_batch_that_is_not_a_batch_is_named(tmp_path):
    make_cifar(tmp_path, hundred=True)
    path = tmp_path / "cifar-100-python" / "train"
    path.write_bytes(pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [1, 2]}, protocol=2))
    with pytest.raises(DatasetError, match=f"{path} is not a CIFAR batch .a dict with fine_labels, data, "
                                           f"coarse_labels"):
        batches({"dataset": "cifar100", "kwargs": {"root": str(tmp_path)}, "image_size": 32})


def test_empty_class_folder_and_no_classes_are_named(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match=f"no image .* in class folder.s. {tmp_path}/a;"):
        batches({"dataset": "imagefolder", "kwargs": {"root": str(tmp_path / "")}, "image_size": 8})
    with pytest.raises(DatasetError, match=f"{tmp_path}/a has no class sub-folders"):
        batches({"dataset": "imagefolder", "kwargs": {"root": str(tmp_path / "a")}, "image_size": 8})


def test_items_outside_the_dataset_are_refused(tmp_path):
    make_mnist(tmp_path)
    with pytest.raises(DatasetError, match="items offset 2 to fixed_len 9 are not within the 7 items of mnist"):
        batches({"dataset": "mnist", "kwargs": {"root": str(tmp_path)}, "image_size": 8, "offset": 2,
                 "fixed_len": 9})
    with pytest.raises(DatasetError, match="items offset 7 to fixed_len 7"):
        batches({"dataset": "mnist", "kwargs": {"root": str(tmp_path)}, "image_size": 8, "offset": 7})


@pytest.mark.parametrize("cfg, message", [
    ({"dataset": "svhn"}, "'dataset' must be one of"),
    ({"kwargs": {"root": "r", "transform": None}}, "kwargs 'transform' is not an argument dali_sr reads for dataset "
                                                   "mnist .it takes root, train, download."),
    ({"kwargs": {"train": True}}, "kwargs needs 'root'"),
    ({"kwargs": {"root": "r", "train": "yes"}}, "kwargs 'train' must be true/false"),
    ({"dataset": "imagenet", "kwargs": {"root": "r", "split": "test"}}, "kwargs 'split' must be 'train' or 'val'"),
    ({"image_size": None}, "TorchDataset needs 'image_size'"),
    ({"mean": [0.5], "std": [0.5]}, "normalised with ImageNet's mean and std; remove 'mean'"),
    ({"dataroot_gt": "x"}, "remove 'dataroot_gt'"),
    ({"use_rot": True}, "flips horizontally in training .p = 0.5. and nothing else; remove 'use_rot'"),
    ({"random_crops": True}, "unknown key 'random_crops'.*random_crop"),
])
def test_bad_options_are_refused_in_one_line(cfg, message):
    base = {"type": "TorchDataset", "dataset": "mnist", "kwargs": {"root": "r"}, "image_size": 8}
    with pytest.raises(ConfigError, match=message) as e:
        dali_sr.load_config({k: v for k, v in {**base, **cfg}.items() if v is not None})
    assert "\n" not in str(e.value)


def test_random_resized_crop_falls_back_to_the_centre_for_extreme_images():
    """Ten failed tries (a 1 x 100 strip) leave torchvision's fallback: the widest window of aspect 4/3 at most,
    centred."""
    from dali_sr.datasets.dlas.torch_dataset import random_resized_crop

    rng = np.random.default_rng(0)
    assert random_resized_crop(rng, 1, 100) == ((100 - 1) // 2, 0, 1, 1)
    assert random_resized_crop(rng, 100, 1) == (0, (100 - 1) // 2, 1, 1)


def test_corrupt_image_in_a_folder_is_named(tmp_path):
    make_image_folder(tmp_path, {"a": [(20, 20), (30, 30)]})
    path = tmp_path / "a" / "img0.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    with pytest.raises(DatasetError, match=f"{path}: truncated or corrupt PNG header"):
        batches({"dataset": "imagefolder", "kwargs": {"root": str(tmp_path)}, "image_size": 8})


@pytest.mark.slow
def test_source_workers_give_the_same_batches(tmp_path):
    """The source in DALI's worker processes (index and random crops included) gives the training thread's batches."""
    make_cifar(tmp_path, hundred=True, per_batch=8)
    cfg = {"dataset": "cifar100", "kwargs": {"root": str(tmp_path)}, "image_size": 24, "random_crop": True,
           "batch_size_per_gpu": 4}
    here, workers = batches(cfg), batches(cfg, source_workers=2)
    assert len(here) == 2 and [b["GT_path"] for b in here] == [b["GT_path"] for b in workers]
    for a, b in zip(here, workers):
        assert np.array_equal(a["hq"].numpy(), b["hq"].numpy())
        assert np.array_equal(a["coarse_labels"].numpy(), b["coarse_labels"].numpy())


def test_resume_mid_epoch_gives_the_same_next_batches(tmp_path):
    """Random crops and flips are drawn from (seed, epoch, slot): a loader resumed from a state_dict goes on with
    the batches the first one would have given."""
    make_cifar(tmp_path, hundred=False, per_batch=4)
    cfg = {"type": "TorchDataset", "dataset": "cifar10", "kwargs": {"root": str(tmp_path)}, "image_size": 20,
           "random_crop": True, "batch_size_per_gpu": 4}
    with dali_sr.build_loader(cfg, device="cpu", seed=5) as loader:
        it = iter(loader)
        next(it)
        state = loader.state_dict()
        rest = [b["hq"].numpy() for b in it]
    with dali_sr.build_loader(cfg, device="cpu", seed=5) as resumed:
        resumed.load_state_dict(state)
        again = [b["hq"].numpy() for b in resumed]
    assert len(rest) == 4 and all(np.array_equal(a, b) for a, b in zip(rest, again)) and len(again) == len(rest)
