"""The samples of DL-Art-School's `TorchDataset`: torchvision's datasets read from the layouts torchvision stores
them in under `root`, never downloaded.

MNIST / Fashion-MNIST (`<root>/MNIST/raw/`, `<root>/FashionMNIST/raw/`: IDX files, plain or `.gz`) and
CIFAR-10 / CIFAR-100 (`<root>/cifar-10-batches-py/`, `<root>/cifar-100-python/`: pickled batches, read as plain
data only) hold raw pixels, kept in memory; an image folder (`<root>/<class>/**/<image>`, classes sorted, as
torchvision's `ImageFolder`; ImageNet: `<root>/<split>/<wnid>/...`) holds encoded files, decoded by DALI.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np

from ...errors import ConfigError, DatasetError, listing
from ...storage.backends import DiskStorage
from ...storage.idx_files import read_idx
from ...storage.plain_pickle import load_plain_pickle
from ..storages import fingerprint

DATASETS = ("mnist", "fmnist", "cifar10", "cifar100", "imagefolder", "imagenet")
# the constructor arguments dali_sr reads per dataset (`download` is accepted: nothing is ever downloaded)
KWARGS = {"mnist": ("root", "train", "download"), "fmnist": ("root", "train", "download"),
          "cifar10": ("root", "train", "download"), "cifar100": ("root", "train", "download"),
          "imagefolder": ("root",), "imagenet": ("root", "split")}
# torchvision's image extensions (`IMG_EXTENSIONS`), compared in lower case
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
_MNIST_FOLDERS = {"mnist": "MNIST", "fmnist": "FashionMNIST"}
_CIFAR = {"cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"]),
          "cifar100": ("cifar-100-python", ["train"], ["test"])}


@dataclass
class TorchIndex:
    """The samples of one dataset, items `offset` to `stop` - 1 of it, with their labels.

    Raw-pixel datasets hold `pixels` (n, h, w, c) uint8 and `parts`, the (file, count) they came from, in order;
    image folders hold `files` and `keys`, one relative path per item.
    """

    name: str
    labels: np.ndarray
    offset: int
    stop: int
    coarse_labels: Optional[np.ndarray] = None
    pixels: Optional[np.ndarray] = None
    parts: list[tuple[str, int]] = field(default_factory=list)
    files: Optional[DiskStorage] = None
    keys: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return self.stop - self.offset

    def item(self, i: int) -> int:
        """The dataset item of sample `i`."""
        return self.offset + i

    def path(self, item: int) -> str:
        """Where `item` is stored: its image file, or `<file>#<index in the file>` for raw pixels."""
        if self.files is not None:
            return self.files.label(self.keys[item])
        for name, count in self.parts:
            if item < count:
                return f"{name}#{item}"
            item -= count
        raise IndexError(item)

    def paths(self, indices: Sequence[int]) -> list[str]:
        return [self.path(self.item(i)) for i in indices]

    def fingerprint(self) -> str:
        """A digest of what the samples are: their sources, sizes, labels and the item range."""
        shape = "x".join(map(str, self.pixels.shape)) if self.pixels is not None else ""
        return fingerprint([f"{n}:{c}" for n, c in self.parts], self.keys,
                           [shape, str(self.offset), str(self.stop), hashlib.sha256(self.labels.tobytes()).hexdigest()])

    def close(self) -> None:
        pass


def check_kwargs(dataset: str, kwargs: dict, where: str) -> None:
    """The constructor arguments of `dataset`: a `root`, and only the others dali_sr reads."""
    for key, value in kwargs.items():
        if key not in KWARGS[dataset]:
            raise ConfigError(f"{where}: kwargs '{key}' is not an argument dali_sr reads for dataset {dataset} "
                              f"(it takes {', '.join(KWARGS[dataset])}); remove it")
    if not isinstance(kwargs.get("root"), str) or not kwargs["root"]:
        raise ConfigError(f"{where}: kwargs needs 'root', the folder dataset {dataset} is stored under")
    for key in ("train", "download"):
        if not isinstance(kwargs.get(key, False), bool):
            raise ConfigError(f"{where}: kwargs '{key}' must be true/false, got {kwargs[key]!r}")
    if kwargs.get("split", "train") not in ("train", "val"):
        raise ConfigError(f"{where}: kwargs 'split' must be 'train' or 'val', got {kwargs['split']!r}")


def _missing(name: str, path: str, what: str) -> DatasetError:
    return DatasetError(f"{name}: missing {path}; place {what} there (dali_sr reads datasets from disk and never "
                        f"downloads them)")


def _mnist(name: str, dataset: str, root: str, train: bool) -> tuple[np.ndarray, np.ndarray, list]:
    raw = os.path.join(root, _MNIST_FOLDERS[dataset], "raw")
    prefix = "train" if train else "t10k"
    arrays, files = [], []
    for stem in (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"):
        path = next((p for p in (os.path.join(raw, stem), os.path.join(raw, stem + ".gz")) if os.path.isfile(p)),
                    None)
        if path is None:
            raise _missing(name, os.path.join(raw, stem), f"{stem} (or {stem}.gz) of {_MNIST_FOLDERS[dataset]}")
        arrays.append(read_idx(path))
        files.append(path)
    images, labels = arrays
    if images.ndim != 3 or images.dtype != np.uint8 or labels.ndim != 1 or len(labels) != len(images):
        raise DatasetError(f"{name}: {files[0]} holds {images.dtype} {images.shape} and {files[1]} "
                           f"{labels.dtype} {labels.shape}, not n 2-D uint8 images and n labels; replace them with "
                           f"the dataset's original files")
    return images[..., None], labels.astype(np.int64), [(files[0], len(images))]


def _cifar(name: str, dataset: str, root: str,
           train: bool) -> tuple[np.ndarray, np.ndarray, list, Optional[np.ndarray]]:
    folder, train_files, test_files = _CIFAR[dataset]
    fine = "labels" if dataset == "cifar10" else "fine_labels"
    pixels, labels, coarse, parts = [], [], [], []
    for stem in train_files if train else test_files:
        path = os.path.join(root, folder, stem)
        if not os.path.isfile(path):
            raise _missing(name, path, f"the python version of {dataset.upper()} (its '{stem}' batch)")
        batch = load_plain_pickle(path)
        wanted = (fine, "data") + (("coarse_labels",) if dataset == "cifar100" else ())
        if not isinstance(batch, dict) or any(key not in batch for key in wanted):
            raise DatasetError(f"{name}: {path} is not a CIFAR batch (a dict with {', '.join(wanted)}); replace it "
                               f"with the dataset's original file")
        data = batch["data"]
        if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
                and data.shape[1] == 3 * 32 * 32 and all(len(batch[k]) == len(data) for k in wanted[:1] + wanted[2:])):
            raise DatasetError(f"{name}: {path} holds {getattr(data, 'shape', type(data).__name__)} data for "
                               f"{len(batch[fine])} labels, not n rows of 3072 uint8 pixels and n labels; replace it "
                               f"with the dataset's original file")
        pixels.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(batch[fine], np.int64))
        if dataset == "cifar100":
            coarse.append(np.asarray(batch["coarse_labels"], np.int64))
        parts.append((path, len(data)))
    return (np.ascontiguousarray(np.concatenate(pixels)), np.concatenate(labels), parts,
            np.concatenate(coarse) if coarse else None)


def _image_folder(name: str, root: str) -> tuple[DiskStorage, list[str], np.ndarray]:
    """torchvision's `ImageFolder`: one class per sub-folder (sorted; label = its position), the images under it
    at any depth, in sorted walking order."""
    if not os.path.isdir(root):
        raise _missing(name, root, "the image folder (one sub-folder per class)")
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
    if not classes:
        raise DatasetError(f"{name}: {root} has no class sub-folders; put the images in one folder per class")
    keys, labels, empty = [], [], []
    for label, cls in enumerate(classes):
        found = []
        for folder, dirs, files in sorted(os.walk(os.path.join(root, cls), followlinks=True)):
            dirs.sort()
            rel = os.path.relpath(folder, root)
            found += [os.path.join(rel, f) for f in sorted(files) if f.lower().endswith(IMAGE_EXTENSIONS)]
        if not found:
            empty.append(cls)
        keys += found
        labels += [label] * len(found)
    if empty:
        raise DatasetError(f"{name}: no image ({', '.join(IMAGE_EXTENSIONS)}) in class folder(s) "
                           f"{listing([os.path.join(root, c) for c in empty])}; add images or remove the folder")
    return DiskStorage(root), keys, np.asarray(labels, np.int64)


def build_torch_index(name: str, dataset: str, kwargs: dict[str, Any], fixed_len: Optional[int],
                      offset: int) -> TorchIndex:
    """The samples of `dataset` stored under `kwargs['root']`: items `offset` to `fixed_len` (default: all) - 1."""
    root = kwargs["root"]
    if dataset in _MNIST_FOLDERS:
        pixels, labels, parts = _mnist(name, dataset, root, kwargs.get("train", True))
        index = TorchIndex(name, labels, 0, 0, pixels=pixels, parts=parts)
    elif dataset in _CIFAR:
        pixels, labels, parts, coarse = _cifar(name, dataset, root, kwargs.get("train", True))
        index = TorchIndex(name, labels, 0, 0, coarse_labels=coarse, pixels=pixels, parts=parts)
    else:
        folder = os.path.join(root, kwargs.get("split", "train")) if dataset == "imagenet" else root
        files, keys, labels = _image_folder(name, folder)
        index = TorchIndex(name, labels, 0, 0, files=files, keys=keys)
    total = len(labels)
    stop = total if fixed_len is None else fixed_len
    if stop > total or offset >= stop:
        raise DatasetError(f"{name}: items offset {offset} to fixed_len {stop} are not within the {total} items of "
                           f"{dataset} under {root}; lower offset / fixed_len")
    index.offset, index.stop = offset, stop
    return index
