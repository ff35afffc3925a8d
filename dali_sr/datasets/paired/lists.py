"""Image types whose `dataroot_gt` / `dataroot_lq` may be lists of folders (or LMDBs), as traiNNer-redux writes
them, and whose `dataset_enlarge_ratio` may be `auto`.

`PairedImageListDataset` is `PairedImageDataset` over lists: the N-th GT root pairs with the N-th LQ root, by
file name within the pair, and the pairs of every root are read as one dataset (in root order). Without LQ roots
the GT images alone are indexed and LQ is made from them (bicubic, or a `degradation` list).
`ImageListDataset` is `FFHQDataset` over lists: images alone, yielded as `gt`.

`dataset_enlarge_ratio: auto` is traiNNer-redux's rule: max(2000 x batch_size_per_gpu // images, 1), applied to
the training set once it is indexed.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

from ...config import Config, TypeOptions
from ...errors import ConfigError, DatasetError
from ...schema.fields import NONE, Field
from ...storage.joined import JoinedStorage, joined_key
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


def build_list_index(cfg: Config) -> PairedIndex:
    """The pairs (or images) of every root, in root order; repeated by the `auto` ratio in training."""
    o = cfg.options
    lq_roots = o.dataroot_lq or (None,) * len(o.dataroot_gt)
    parts: list[PairedIndex] = []
    try:
        for gt, lq in zip(o.dataroot_gt, lq_roots):
            parts.append(build_paired_index(replace(cfg, dataroot_gt=gt, dataroot_lq=lq)))
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
