"""The sample index of paired (LQ, GT) images: which keys pair up, checked before any batch."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Sequence


from ...config import Config
from ...errors import DatasetError, listing
from ...storage.backends import DiskStorage, Storage, check_relative_key
from ...storage.folders import loader_image_names
from ...storage.meta_files import LmdbMeta, read_meta_info_file
from ...storage.opening import keyed_meta
from ...storage.raw_pixels import ArraySide, raw_files_side
from ..storages import build_on_storages, fingerprint


@dataclass
class PairedIndex:
    """Sorted (LQ key, GT key) pairs over two storages; per side, how to read values that are pixels.

    A GT-only index (LQ made from GT) has no LQ storage; its LQ keys are the GT keys.
    """

    name: str
    lq: Optional[Storage]
    gt: Storage
    lq_keys: list[str]
    gt_keys: list[str]
    lq_arrays: Optional[ArraySide] = None
    gt_arrays: Optional[ArraySide] = None

    def __len__(self) -> int:
        return len(self.gt_keys)

    def paths(self, indices: Sequence[int]) -> dict[str, list[str]]:
        """BasicSR's `lq_path` / `gt_path` for the given sample indices (file paths or LMDB keys)."""
        lq = self.lq or self.gt  # GT-only: the LQ is made from the GT image
        return {"lq_path": [lq.label(self.lq_keys[i]) for i in indices],
                "gt_path": [self.gt.label(self.gt_keys[i]) for i in indices]}

    def fingerprint(self) -> str:
        """A digest of the pairs' keys, in reading order (`Loader.state_dict` compares it on resume)."""
        return fingerprint(self.lq_keys, self.gt_keys)

    def close(self) -> None:
        if self.lq is not None:
            self.lq.close()
        self.gt.close()


def _lq_name(gt_name: str, tmpl: str) -> str:
    """BasicSR's LQ partner: `filename_tmpl` applied to the GT file's stem, at the LQ root."""
    stem, ext = os.path.splitext(os.path.basename(gt_name))
    return tmpl.format(stem) + ext


def _disk_pairs(cfg: Config, lq: DiskStorage, gt: DiskStorage) -> tuple[list[str], list[str]]:
    if cfg.meta_info_file:
        rows = read_meta_info_file(cfg.meta_info_file)
        gt_keys = [r[0] for r in rows]
        lq_keys = [r[1] if len(r) > 1 else _lq_name(r[0], cfg.filename_tmpl) for r in rows]
        for key in gt_keys + lq_keys:
            check_relative_key(key, cfg.meta_info_file)
        for store, keys, side in ((gt, gt_keys, "GT"), (lq, lq_keys, "LQ")):
            missing = [store.path(k) for k in keys if not store.has(k)]
            if missing:
                raise DatasetError(f"{cfg.name}: {len(missing)} {side} file(s) listed in {cfg.meta_info_file} do not "
                                   f"exist: {listing(missing)}; fix the meta file or the folder")
        return lq_keys, gt_keys  # the meta file's order, as BasicSR
    gt_keys = loader_image_names(gt.root)
    lq_present = set(loader_image_names(lq.root))
    lq_keys = [_lq_name(k, cfg.filename_tmpl) for k in gt_keys]
    missing = [lq.path(k) for k in lq_keys if k not in lq_present]
    if missing:
        raise DatasetError(f"{cfg.name}: LQ partner missing for {len(missing)} GT image(s): expected {listing(missing)} "
                           f"(filename_tmpl {cfg.filename_tmpl!r}); add the files or fix filename_tmpl")
    extra = sorted(lq_present - set(lq_keys))
    if extra:
        raise DatasetError(f"{cfg.name}: {len(extra)} LQ file(s) have no GT partner in {gt.root}: "
                           f"{listing([lq.path(k) for k in extra])}; remove them or add the GT images")
    return lq_keys, gt_keys


def _keyed_pairs(cfg: Config, lq: Storage, gt: Storage, lq_meta: LmdbMeta, gt_meta: LmdbMeta) -> PairedIndex:
    """Pairs of two storages that list their keys (LMDBs, shard folders): the same keys on both sides."""
    if (lq_meta.raw_shape is None) != (gt_meta.raw_shape is None):
        raise DatasetError(f"{cfg.name}: one LMDB holds raw EDVR arrays and the other encoded images "
                           f"({lq.root}, {gt.root}); pack both the same way")
    lq_set, gt_set = set(lq_meta.keys), set(gt_meta.keys)
    if lq_set != gt_set:
        only_gt, only_lq = sorted(gt_set - lq_set), sorted(lq_set - gt_set)
        where = (f"key {only_gt[0]!r} is in GT {gt.root} but not in LQ {lq.root}" if only_gt
                 else f"key {only_lq[0]!r} is in LQ {lq.root} but not in GT {gt.root}")
        raise DatasetError(f"{cfg.name}: paired {cfg.io_backend} sides must hold the same keys: {where} "
                           f"({len(only_gt) + len(only_lq)} differ); re-create them from matching folders")
    keys = sorted(gt_set)
    for key in keys:
        check_relative_key(key, gt.root)
    gt.require(keys)
    lq.require(keys)
    return PairedIndex(cfg.name, lq, gt, keys, list(keys), lq_meta.arrays, gt_meta.arrays)


def _gt_only(cfg: Config, gt: Storage) -> PairedIndex:
    """GT keys alone: an LMDB's meta keys, a meta_info_file's GT names or a folder scan."""
    meta = keyed_meta(gt)
    if meta is not None:
        keys = sorted(set(meta.keys))
        gt.require(keys)
        arrays = meta.arrays
    else:
        keys = [row[0] for row in read_meta_info_file(cfg.meta_info_file)] if cfg.meta_info_file else \
            loader_image_names(gt.root)
        missing = [gt.path(k) for k in keys if not gt.has(k)]
        if missing:
            raise DatasetError(f"{cfg.name}: {len(missing)} GT file(s) listed in {cfg.meta_info_file} do not exist: "
                               f"{listing(missing)}; fix the meta file or the folder")
        arrays = raw_files_side(keys)
    for key in keys:
        check_relative_key(key, gt.root)
    return PairedIndex(cfg.name, None, gt, list(keys), list(keys), None, arrays)


def build_paired_index(cfg: Config) -> PairedIndex:
    """Index the pairs of `cfg` (LMDB meta, meta_info_file or folder scan); fail early and by name."""
    def pairs(lq: Optional[Storage], gt: Storage) -> PairedIndex:
        if lq is None:
            return _gt_only(cfg, gt)
        lq_meta, gt_meta = keyed_meta(lq), keyed_meta(gt)
        if lq_meta is not None and gt_meta is not None:
            return _keyed_pairs(cfg, lq, gt, lq_meta, gt_meta)
        lq_keys, gt_keys = _disk_pairs(cfg, lq, gt)
        return PairedIndex(cfg.name, lq, gt, lq_keys, gt_keys, raw_files_side(lq_keys), raw_files_side(gt_keys))

    index = build_on_storages(cfg, pairs)
    if len(index) == 0:
        index.close()
        raise DatasetError(f"{cfg.name}: dataset is empty (no images in {cfg.dataroot_gt}); check dataroot_gt")
    return index
