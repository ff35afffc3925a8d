"""`MultiScaleDataset`: DL-Art-School's tile trees. Each image is flipped and transposed (each with probability
1/2), cut to a square at a random offset from its centre, resized (INTER_AREA) to `hq_tile_size` x 2^`num_scales`,
and split into the tree of 1 + 4 + 16 + ... tiles (the whole image, its quarters, their quarters, ...), each
resized to the tile size; LQ tiles are the same tree of the corrupted image, downscaled by `scale`."""
from __future__ import annotations

from dataclasses import make_dataclass, replace
from typing import Any

import numpy as np

from ...config import Config, TypeOptions
from ...degrade.dlas import CORRUPTION_KEYS, corruption_chain
from ...degrade.draws import draw_sample
from ...errors import ConfigError, DatasetError
from ...schema.fields import Field, integer
from ..kind import DatasetKind
from ..plan import EpochPlan, Sampling
from ..source import Batch, PlanSource
from .folder_index import FolderIndex, build_folder_index, rows_batch
from .folder_source import used_draws
from .roots import PATHS

MULTISCALE_KEYS: dict[str, Field] = {
    "paths": PATHS,
    "hq_tile_size": integer(1, 4096),
    "num_scales": integer(1, 8),  # depths of the tree: 1 + 4 + ... + 4^(num_scales - 1) tiles
    **CORRUPTION_KEYS,
}
MultiScaleOptions = make_dataclass("MultiScaleOptions", [(key, object, None) for key in MULTISCALE_KEYS],
                                   frozen=True)
MultiScaleOptions.__module__ = __name__  # where pickle finds it (a Config travels to source worker processes)
_STREAM = 0x3D1A_5CA1  # tells a sample's square offset and corruption draws apart from any other use of its seed
COLUMNS = ("hq", "hflip", "vflip", "transpose", "square_anchor", "square_shape", "in_hw")


def tree_order(num_scales: int) -> list[int]:
    """DL-Art-School's tile order (the whole image, then each node's four quarters, top-left, top-right,
    bottom-left, bottom-right, followed by their subtrees in turn) as positions in level order (depth by depth,
    each depth's tiles row by row)."""
    nodes = [(0, 0, 0)]

    def quarters(depth: int, row: int, col: int) -> None:
        if depth >= num_scales:
            return
        kids = [(depth, 2 * row + i // 2, 2 * col + i % 2) for i in range(4)]
        nodes.extend(kids)
        for _, r, c in kids:
            quarters(depth + 1, r, c)

    quarters(1, 0, 0)
    return [(4 ** d - 1) // 3 + r * 2 ** d + c for d, r, c in nodes]


def sample_generator(seed: int, epoch: int, position: int) -> np.random.Generator:
    """The generator of a sample's square offset, then its corruption draws, at `position` in the epoch."""
    return np.random.default_rng([seed, epoch, position, _STREAM])


def square_offset(rng: np.random.Generator) -> float:
    """DL-Art-School's offset of the square from the centre: normal with sigma 0.3, clipped to [-1, 1]."""
    return float(np.clip(rng.normal(scale=0.3), -1.0, 1.0))


def square_window(hw: tuple[int, int], transposed: bool, offset: float) -> tuple[int, int, int]:
    """(x, y, side) of the square of a flipped / transposed image of stored size `hw`: DL-Art-School's offset from
    the centre (`offset` in [-1, 1] of the centre less 2), kept inside the image."""
    h, w = (hw[1], hw[0]) if transposed else hw
    side, diff = min(h, w), abs(h - w)
    centre = diff // 2
    start = min(max(int(centre + offset * (centre - 2)), 0), diff)
    return (0, start, side) if h > w else (start, 0, side)


def _prepare(v: dict, where: str) -> dict:
    for key in ("dataroot_gt", "dataroot_lq", "degradation", "gt_size", "use_hflip", "use_flip", "use_rot",
                "use_vflip", "color"):
        if v[key]:
            raise ConfigError(f"{where}: MultiScaleDataset does not read '{key}'; remove it")
    for key in ("paths", "hq_tile_size", "num_scales", "scale"):
        if v[key] is None:
            raise ConfigError(f"{where}: MultiScaleDataset needs '{key}'")
    if v["hq_tile_size"] % v["scale"]:
        raise ConfigError(f"{where}: hq_tile_size {v['hq_tile_size']} is not a multiple of scale {v['scale']}")
    return v


def _finish(cfg: Config, where: str) -> Config:
    """The corruptions of the whole resized image (no downscale in the chain: the tiles are downscaled)."""
    values = {key: getattr(cfg.options, key) for key in CORRUPTION_KEYS}
    return replace(cfg, degradation=corruption_chain(values, 1, where))


class TreeOutputs:
    """The source's columns and the graph's outputs."""

    def __init__(self, draws: tuple[str, ...]):
        self.draws = draws
        self.columns = COLUMNS + draws + ("idx",)
        self.graph_outputs = ("hq", "lq", "idx")


class TreeSource(PlanSource):
    """One DALI row per image: its flips, its square and the corruption draws."""

    def __init__(self, cfg: Config, index: FolderIndex, sampling: Sampling, start: tuple[int, int] = (0, 0)):
        super().__init__(cfg, index, sampling, start)
        self.outputs = TreeOutputs(used_draws(cfg.degradation))
        self.cap = cfg.options.hq_tile_size * 2 ** cfg.options.num_scales
        self.order = tree_order(cfg.options.num_scales)

    def _row(self, epoch: int, position: int, hw: tuple[int, int], transposed: bool, name: str) -> dict[str, Any]:
        rng = sample_generator(self.cfg.seed, epoch, position)
        offset = square_offset(rng)
        x, y, side = square_window(hw, transposed, offset)
        if side < self.cap:
            raise DatasetError(f"{name} is {hw[0]}x{hw[1]}, its square smaller than hq_tile_size x 2^num_scales "
                               f"{self.cap} (INTER_AREA only downscales here); remove it or lower hq_tile_size")
        draws = draw_sample(self.cfg.degradation, rng, (self.cap, self.cap))[0]
        return {"square_anchor": np.array([x, y], np.int32), "square_shape": np.array([side, side], np.int32),
                "in_hw": np.array([side, side], np.float32), **{k: draws[k] for k in self.outputs.draws}}

    def _assemble(self, plan: EpochPlan, rows: slice) -> Batch:
        indices, positions, flags = plan.indices[rows], plan.positions[rows], plan.flips[rows]
        samples, images = [], []
        for i, position, (hflip, vflip, transpose) in zip(indices, positions, flags):
            store, key, value, hw = self.index.read(int(i))
            samples.append({"hq": value, "hflip": np.array(int(hflip), np.int32),
                            "vflip": np.array(int(vflip), np.int32), "transpose": np.array(bool(transpose)),
                            **self._row(plan.epoch, int(position), hw, bool(transpose), store.describe(key))})
            images.append([(store, key)])
        return rows_batch(samples, images, self.outputs.columns[:-1], indices)

    def placeholder_columns(self) -> dict[str, Any]:
        from ...storage.codecs import encode

        blank = np.frombuffer(encode(np.zeros((self.cap, self.cap, 3), np.uint8), "png", "placeholder"), np.uint8)
        row = {"hq": blank, "hflip": np.array(0, np.int32), "vflip": np.array(0, np.int32),
               "transpose": np.array(False), **self._row(0, 0, (self.cap, self.cap), False, "placeholder")}
        return {**{k: [v] for k, v in row.items()}, "idx": np.full(1, -1, np.int64)}

    def collate(self, out: dict[str, Any]) -> dict[str, Any]:
        """DL-Art-School's batch: `hq` (B, N, C, t, t) and `lq` (B, N, C, t / scale, t / scale) with the tiles in
        its order, and `GT_path`."""
        idx = out.pop("idx").numpy().astype(np.int64).tolist()
        out["hq"], out["lq"] = out["hq"][:, self.order], out["lq"][:, self.order]
        out["GT_path"] = self.index.paths(idx)
        return out


def build_index(cfg: Config) -> FolderIndex:
    """The images of the config's `paths`."""
    return build_folder_index(cfg.name, cfg.options.paths, None)


MULTI_SCALE = DatasetKind(TypeOptions(MULTISCALE_KEYS, MultiScaleOptions, needs_gt_size=False, makes_lq=False,
                                      prepare=_prepare, finish=_finish), build_index, TreeSource)
