"""Image types whose `dataroot_gt` / `dataroot_lq` may be lists of folders (or LMDBs), as traiNNer-redux writes
them, and whose `dataset_enlarge_ratio` may be `auto`.

`PairedImageListDataset` is `PairedImageDataset` over lists: the N-th GT root pairs with the N-th LQ root, and the
pairs of every root are read as one dataset (in root order). Folders pair as traiNNer-redux pairs them: files
under the folder and its sub-folders, by name without the extension (`a.png` with `a.jpg`), or by
`filename_tmpl` (GT files without a partner are then left out); LMDBs, shards and `meta_info` files as
`PairedImageDataset` reads them. Without LQ roots the GT images alone are indexed and LQ is made from them
(bicubic, or a `degradation` list).
`ImageListDataset` is `FFHQDataset` over lists: images alone, yielded as `gt`.

`dataset_enlarge_ratio: auto` is traiNNer-redux's rule: max(2000 x batch_size_per_gpu // images, 1), applied to
the training set once it is indexed.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any, Optional

from ...config import Config, TypeOptions
from ...errors import ConfigError, DatasetError, listing, named_errors
from ...schema.fields import NONE, Field
from ...storage.backends import DiskStorage, searchable_folder
from ...storage.folders import loader_image_names
from ...storage.joined import JoinedStorage, joined_key
from ...storage.raw_pixels import raw_files_side
from ..kind import DatasetKind
from .index import PairedIndex, build_paired_index
from .source import PairedSource

AUTO_BATCHES = 2000  # traiNNer-redux's `auto`: enough repeats for this many batches per epoch


def _roots(value: Any) -> bool:
    return isinstance(value, str) and bool(value) or (
        isinstance(value, (list, tuple)) and bool(value) and all(isinstance(r, str) and r for r in value))


ROOTS = Field((str, list, tuple, NONE), None, _roots, "a folder or a non-empty list of folders")
_KEYS = {
    "dataroot_gt": ROOTS,
    "dataroot_lq": ROOTS,
    "dataset_enlarge_ratio": Field((int, str), 1, lambda v: v == "auto" or isinstance(v, int) and 1 <= v <= 10 ** 6,
                                   "'auto' or an integer in [1, 1000000]"),
}
ENLARGE_RATIO = _KEYS["dataset_enlarge_ratio"]


@dataclass(frozen=True)
class ListOptions:
    """The roots as lists and the ratio as given ('auto' or an integer)."""

    dataroot_gt: Optional[tuple[str, ...]]
    dataroot_lq: Optional[tuple[str, ...]]
    dataset_enlarge_ratio: Any


def _as_list(value: Any) -> Optional[tuple[str, ...]]:
    return None if value is None else (value,) if isinstance(value, str) else tuple(value)


def _options(**values: Any) -> ListOptions:
    return ListOptions(_as_list(values["dataroot_gt"]), _as_list(values["dataroot_lq"]),
                       values["dataset_enlarge_ratio"])


def _prepare_images(v: dict, where: str) -> dict:
    """Images alone: no LQ keys; `scale` is 1 unless given."""
    for key in ("dataroot_lq", "degradation"):
        if v[key] is not None:
            raise ConfigError(f"{where}: {v['type']} yields images alone; remove '{key}' (for SR pairs use "
                              f"PairedImageListDataset)")
    if v["scale"] is None:
        v["scale"] = 1
    return v


def _finish(cfg: Config, where: str) -> Config:
    """The first roots as the `Config`'s (names in messages) and ratio 1 where `auto` repeats the index itself."""
    o = cfg.options
    if o.dataroot_gt is None:
        raise ConfigError(f"{where}: {cfg.type} needs dataroot_gt (a folder or a list of folders)")
    if o.dataroot_lq is not None and len(o.dataroot_lq) != len(o.dataroot_gt):
        raise ConfigError(f"{where}: dataroot_lq lists {len(o.dataroot_lq)} folder(s) and dataroot_gt "
                          f"{len(o.dataroot_gt)}; give one LQ folder per GT folder (the N-th pairs with the N-th)")
    ratio = o.dataset_enlarge_ratio
    return replace(cfg, dataroot_gt=o.dataroot_gt[0], dataroot_lq=o.dataroot_lq[0] if o.dataroot_lq else None,
                   dataset_enlarge_ratio=1 if ratio == "auto" or not cfg.is_train else ratio)


def auto_enlarge_ratio(images: int, batch_size: int) -> int:
    """traiNNer-redux's `dataset_enlarge_ratio: auto`."""
    return max(AUTO_BATCHES * batch_size // images, 1)


def _join(parts: list[PairedIndex], name: str) -> PairedIndex:
    """One index over the parts' storages, keys numbered by part."""
    if len(parts) == 1:
        return parts[0]
    for side in ("lq_arrays", "gt_arrays"):
        if len({getattr(p, side) for p in parts}) > 1:
            roots = [p.gt.root for p in parts]
            raise DatasetError(f"{name}: the roots {', '.join(roots)} hold their values differently (raw pixels in "
                               f"some, encoded images in others); pack them the same way")
    lq = JoinedStorage([p.lq for p in parts]) if parts[0].lq is not None else None
    keys = lambda side: [joined_key(n, k) for n, p in enumerate(parts) for k in getattr(p, side)]  # noqa: E731
    return PairedIndex(name, lq, JoinedStorage([p.gt for p in parts]), keys("lq_keys"), keys("gt_keys"),
                       parts[0].lq_arrays, parts[0].gt_arrays)


def image_files(root: str) -> list[str]:
    """The image files under `root` and its sub-folders (hidden ones left out), relative to it, sorted."""
    if not searchable_folder(root, "dataset folder"):
        raise DatasetError(f"dataset folder {root} does not exist; fix dataroot_gt / dataroot_lq")
    found = []
    for folder, subfolders, _ in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        found += [os.path.relpath(os.path.join(folder, n), root) for n in loader_image_names(folder)]
    return sorted(found)


def _missing(cfg: Config, stems: set, side: str, root: str) -> DatasetError:
    return DatasetError(f"{cfg.name}: {len(stems)} {side} partner(s) missing from {root}: {listing(sorted(stems))}; "
                        f"add them or remove the other side's files")


def _folder_pairs(cfg: Config, gt_root: str, lq_root: Optional[str]) -> PairedIndex:
    """traiNNer-redux's pairs of two folders (sub-folders included): files of the same name but for the
    extension; with a `filename_tmpl` other than '{}', each GT file's templated name, GT files without one left
    out. GT alone without an LQ folder."""
    gt_names = image_files(gt_root)
    pairs: list[tuple[str, str]] = []
    if lq_root is not None:
        stem = lambda name: os.path.splitext(name)[0]  # noqa: E731
        lq_by_stem = {stem(n): n for n in image_files(lq_root)}
        if cfg.filename_tmpl == "{}":
            gt_stems = {stem(n) for n in gt_names}
            if set(lq_by_stem) - gt_stems:
                raise _missing(cfg, set(lq_by_stem) - gt_stems, "GT", gt_root)
            if gt_stems - set(lq_by_stem):
                raise _missing(cfg, gt_stems - set(lq_by_stem), "LQ", lq_root)
        for name in sorted(gt_names, key=stem):
            folder, base = os.path.split(stem(name))
            lq_stem = os.path.join(folder, cfg.filename_tmpl.format(base))
            if lq_stem in lq_by_stem:
                pairs.append((lq_by_stem[lq_stem], name))
    lq_keys, gt_keys = ([p[0] for p in pairs], [p[1] for p in pairs]) if lq_root is not None else (gt_names, gt_names)
    gt = DiskStorage(gt_root)
    lq = DiskStorage(lq_root) if lq_root is not None else None
    return PairedIndex(cfg.name, lq, gt, lq_keys, gt_keys, raw_files_side(lq_keys) if lq else None,
                       raw_files_side(gt_keys))


def _part(cfg: Config, gt: str, lq: Optional[str]) -> PairedIndex:
    """One root pair: traiNNer-redux's folder pairing on disk, else (LMDBs, shards, meta_info) the paired index."""
    if cfg.io_backend == "disk" and not cfg.meta_info_file:
        with named_errors(cfg.name):
            return _folder_pairs(cfg, gt, lq)
    return build_paired_index(replace(cfg, dataroot_gt=gt, dataroot_lq=lq))


def build_list_index(cfg: Config) -> PairedIndex:
    """The pairs (or images) of every root, in root order; repeated by the `auto` ratio in training."""
    o = cfg.options
    lq_roots = o.dataroot_lq or (None,) * len(o.dataroot_gt)
    parts: list[PairedIndex] = []
    try:
        for gt, lq in zip(o.dataroot_gt, lq_roots):
            part = _part(cfg, gt, lq)
            parts.append(part)
            if len(part) == 0:
                raise DatasetError(f"{cfg.name}: no {'pairs' if lq else 'images'} in {gt}; check dataroot_gt")
        index = _join(parts, cfg.name)
    except BaseException:
        for part in parts:
            part.close()
        raise
    if cfg.is_train and o.dataset_enlarge_ratio == "auto":
        ratio = auto_enlarge_ratio(len(index), cfg.batch_size)
        index.lq_keys, index.gt_keys = index.lq_keys * ratio, index.gt_keys * ratio
    return index


PAIRED_LIST = DatasetKind(TypeOptions(_KEYS, _options, finish=_finish), build_list_index, PairedSource)
IMAGE_LIST = DatasetKind(TypeOptions(_KEYS, _options, needs_gt_size=False, makes_lq=False, prepare=_prepare_images,
                                     finish=_finish), build_list_index, PairedSource)
