"""The external source of SingleImageDataset and MultiFrameDataset: per sample and frame the tile's bytes (or,
`make_pixels`, its HQ pixels), with
`need_ref` the finished references (`chunk_refs`: made once per folder, the tile's mask added), the reshape that
makes the `target_size` box mean; the tiles' centres in the HQ and LQ images, and the chain's draws (one set per
sample: every frame of a sample is corrupted alike)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

import numpy as np

from ...config import Config
from ...degrade.chain import Chain, Resize
from ...degrade.draws import chain_columns, draw_sample
from ...errors import DatasetError
from ...parallel import ordered_map
from ...storage.codecs import encode
from ..decoded import decode_rgb
from ..plan import EpochPlan, Sampling
from ..source import Batch, PlanSource
from .chunk_refs import ReferenceImages, at_hq_side
from .tile_index import TileIndex, resize_point

_STREAM = 0xD1A5  # tells a sample's corruption generator apart from any other use of its seed


def lq_resize(chain: Chain) -> int:
    """The position in `chain.steps` of its last resize to the LQ size, which the graph makes as a box mean."""
    return max(i for i, step in enumerate(chain.steps) if isinstance(step, Resize) and step.to == "lq")


@dataclass(frozen=True)
class TileOutputs:
    """The columns the source hands the graph and what the graph returns, in order."""

    need_ref: bool
    draws: tuple[str, ...]  # a chain's draw columns (none for the plain downscale)
    frames: int = 0  # MultiFrameDataset's num_frames: `tile_0` .. of each frame; 0: one image, no time axis
    folds: bool = True  # each tile's `fold` (tiles of several sides); without, the graph knows the one side
    lq_fold: bool = False  # the LQ resize's `lq_fold` (a chain with steps before it, which may resample)
    decoded: bool = False  # each `tile` column holds the tile's HQ pixels, made by the source

    @property
    def frame_names(self) -> tuple[str, ...]:
        """The suffix of each frame's columns."""
        return tuple(f"_{k}" for k in range(max(self.frames, 1)))

    @property
    def columns(self) -> tuple[str, ...]:
        names = ("tile", "gt_ref", "lq_ref") if self.need_ref else ("tile",)
        names += ("fold",) if self.folds and not self.decoded else ()
        per_frame = tuple(name + k for k in self.frame_names for name in names)
        return per_frame + ("gt_center", "lq_center") + self.corrupt_columns + ("idx",)

    @property
    def corrupt_columns(self) -> tuple[str, ...]:
        return self.draws + (("lq_fold",) if self.lq_fold else ())

    @property
    def graph_outputs(self) -> tuple[str, ...]:
        refs = ("gt_fullsize_ref", "lq_fullsize_ref") if self.need_ref else ()
        return ("lq", "hq") + refs + ("gt_center", "lq_center", "idx")


class TileSource(PlanSource):
    """Batches of SingleImageDataset and MultiFrameDataset samples for `pipelines.dlas_chunks`."""

    def __init__(self, cfg: Config, index: TileIndex, sampling: Sampling, start: tuple[int, int] = (0, 0)):
        super().__init__(cfg, index, sampling, start)
        self.need_ref = cfg.options.need_ref
        chain = cfg.degradation
        self.chain: Optional[Chain] = chain if chain is not None and len(chain.steps) > 1 else None
        self.outputs = TileOutputs(self.need_ref, self._draw_columns(), index.frames, index.tile_side is None,
                                   self.chain is not None and lq_resize(self.chain) > 0)
        self.refs = ReferenceImages(index.target_side, index.hq_side, cfg.scale, cfg.num_threads)

    def make_pixels(self, on: bool) -> None:
        """With `on`, hand DALI each tile's HQ pixels (decoded, box means to `target_size`, cut, in [0, 1]; made on
        `num_threads` worker threads) instead of its bytes: on the CPU the graph's operators cost more than the
        same arithmetic in OpenCV and NumPy. Set before the pipeline is built."""
        self.outputs = replace(self.outputs, decoded=on)

    def _tile_pixels(self, value: np.ndarray, name: str, side: int) -> np.ndarray:
        """A tile's HQ pixels, float32 HWC in [0, 1], as the graph makes them from its bytes."""
        ix = self.index
        return at_hq_side(decode_rgb(value, name, (side, side)), side, ix.target_side, ix.hq_side) / np.float32(255.0)

    def _draw_columns(self) -> tuple[str, ...]:
        """The chain's draw columns but those of its resize to the LQ size (a box mean by `lq_fold`)."""
        if self.chain is None:
            return ()
        resize = self.chain.steps[lq_resize(self.chain)]
        own = {f"{resize.id}_{name}" for name in ("on", "size", "roi", "mode")}
        return tuple(name for name in chain_columns(self.chain) if name not in own)

    def centers(self, center: tuple[int, int], tile_side: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """The tile's centre in the HQ and the LQ image (target_size, force_multiple, scale, each as
        DL-Art-School's `resize_point` moves it)."""
        ix = self.index
        hq = resize_point(resize_point(center, tile_side, ix.target_side), ix.target_side, ix.hq_side)
        return hq, resize_point(hq, ix.hq_side, ix.hq_side // self.cfg.scale)

    def _assemble(self, plan: EpochPlan, rows: slice) -> Batch:
        ix = self.index
        indices = plan.indices[rows]
        columns: dict[str, list] = {name: [] for name in self.outputs.columns}
        if self.need_ref:
            self.refs.load((f, ix.folders[f]) for i in indices for f in ix.samples[int(i)][0])
        row_images, tiles = [], []
        for i in indices:
            frames, t = ix.samples[int(i)]
            images, centers = [], []
            for suffix, f in zip(self.outputs.frame_names, frames):
                folder = ix.folders[f]
                key = folder.key(folder.tiles[t])
                columns["tile" + suffix].append(folder.store.get(key))
                if self.outputs.decoded:
                    tiles.append(("tile" + suffix, len(columns["tile" + suffix]) - 1, folder.store.describe(key),
                                  folder.side))
                else:
                    images.append((folder.store, key))
                center, width = folder.squares[t]
                if self.need_ref:
                    gt_ref, lq_ref = self.refs.pair(f, folder, center, width)
                    columns["gt_ref" + suffix].append(gt_ref)
                    columns["lq_ref" + suffix].append(lq_ref)
                else:
                    center = (0, 0)
                if "fold" + suffix in columns:
                    columns["fold" + suffix].append(self._fold(folder.side))
                centers.append(self.centers(center, folder.side))
            hq_centers, lq_centers = (np.array(c, np.int64) for c in zip(*centers))
            columns["gt_center"].append(hq_centers if ix.frames else hq_centers[0])
            columns["lq_center"].append(lq_centers if ix.frames else lq_centers[0])
            row_images.append(images)
        made = ordered_map(lambda j: self._tile_pixels(columns[j[0]][j[1]], j[2], j[3]), tiles,
                           min(self.cfg.num_threads, max(1, len(tiles))))
        for (name, k, _, _), pixels in zip(tiles, made):
            columns[name][k] = pixels
        columns.update(self._draws(plan, rows))
        columns["idx"] = indices.astype(np.int64)
        return Batch(columns, row_images)

    def _fold(self, tile_side: int) -> np.ndarray:
        """The reshape of a tile whose box mean is its `target_size` image: (h', f, w', f, -1)."""
        side = self.index.target_side
        return np.array([side, tile_side // side, side, tile_side // side, -1], np.int64)

    def _draws(self, plan: EpochPlan, rows: slice) -> dict[str, list]:
        """The chain's per-sample draws, from (seed, epoch, the sample's slot in the epoch)."""
        if self.chain is None:
            return {}
        per_row: dict[str, list] = {name: [] for name in self.outputs.corrupt_columns}
        for position in plan.positions[rows]:
            draws = self._sample_draws(np.random.default_rng([self.cfg.seed, plan.epoch, int(position), _STREAM]))
            for name in per_row:
                per_row[name].append(draws[name])
        return per_row

    def _sample_draws(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """One sample's draws and the `lq_fold` of its resize to the LQ size (a whole-factor box mean)."""
        side = self.index.hq_side
        draws, _ = draw_sample(self.chain, rng, (side, side))
        step = self.chain.steps[lq_resize(self.chain)]
        (out_h, out_w), (in_h, in_w) = draws[f"{step.id}_size"], draws[f"{step.id}_roi"]
        if in_h % out_h or in_w % out_w:
            raise DatasetError(f"{self.index.name}: the corruption chain resizes {int(in_h)}x{int(in_w)} to the LQ "
                               f"size {int(out_h)}x{int(out_w)}, not a whole factor; change "
                               f"corrupt_before_downsize_factor")
        draws["lq_fold"] = np.array([out_h, in_h // out_h, out_w, in_w // out_w, -1], np.int64)
        return draws

    def placeholder_columns(self) -> dict[str, Any]:
        """One blank sample of the first folder's geometry."""
        side, hq, lq = self.index.folders[0].side, self.index.hq_side, self.index.hq_side // self.cfg.scale
        blank = np.frombuffer(encode(np.zeros((side, side, 3), np.uint8), "png", "placeholder"), np.uint8)
        centers = np.zeros((1, self.index.frames, 2) if self.index.frames else (1, 2), np.int64)
        columns: dict[str, Any] = {"gt_center": centers, "lq_center": centers, "idx": np.full((1,), -1, np.int64)}
        for suffix in self.outputs.frame_names:
            columns.update({"tile" + suffix: [np.zeros((hq, hq, 3), np.float32) if self.outputs.decoded else blank],
                            "fold" + suffix: [self._fold(side)], "gt_ref" + suffix: [np.zeros((4, hq, hq), np.float32)],
                            "lq_ref" + suffix: [np.zeros((4, lq, lq), np.float32)]})
        if self.chain is not None:
            draws = self._sample_draws(np.random.default_rng(0))
            columns.update({name: [draws[name]] for name in self.outputs.corrupt_columns})
        return columns

    def collate(self, out: dict[str, Any]) -> dict[str, Any]:
        """DL-Art-School's sample dict, batched: `GT_path` the tile's file (the last frame's), and `LQ_path` the
        same for single images; without `need_ref` the references are zeros, as DL-Art-School yields them."""
        import torch  # the loader yields torch tensors

        paths = self.index.paths(out.pop("idx").numpy().astype(np.int64).reshape(-1).tolist())
        if not self.need_ref:
            for ref, image in (("gt_fullsize_ref", out["hq"]), ("lq_fullsize_ref", out["lq"])):
                shape = image.shape[:-3] + (4,) + image.shape[-2:]
                out[ref] = torch.zeros(shape, dtype=image.dtype, device=image.device)
        out["gt_center"] = out["gt_center"].long()
        out["lq_center"] = out["lq_center"].long()
        return {**out, "GT_path": paths} if self.index.frames else {**out, "LQ_path": paths, "GT_path": list(paths)}
