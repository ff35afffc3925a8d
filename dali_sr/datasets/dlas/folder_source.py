"""External source of image-folder samples: the image bytes and, from its header, the window the graph cuts (the
centre crop and square, placed where DL-Art-School cuts them after its flip), the flip, the INTER_AREA target
size and the cut to a multiple; with LQ, the corruption chain's per-sample draws; with `fetch_alt_image`, the same
for the next frame of a video (`<anything>%08d.<ext>`: the number plus one, in the same folder). With
`make_pixels` (the CPU graph with `target_size`) each image's column holds its finished HQ pixels instead."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

import os

import numpy as np

from ...config import Config
from ...degrade.chain import Chain, Resize, Step
from ...degrade.draws import chain_columns, draw_sample
from ...errors import DatasetError
from ...parallel import ordered_map
from ...storage.backends import DiskStorage
from ...storage.codecs import encode
from ..decoded import decode_rgb
from ..plan import EpochPlan, Sampling
from ..source import Batch, PlanSource, read_value
from .folder_index import FolderIndex, rows_batch

_STREAM = 0xD1A5_F01D  # tells a sample's corruption generator apart from any other use of its seed
IMAGE_COLUMNS = ("", "_anchor", "_shape", "_hflip", "_resized", "_in_hw", "_target_hw", "_keep")  # after hq / alt


def image_columns(prefix: str) -> tuple[str, ...]:
    """The columns of one image of a row (`hq`, or `alt`: the next frame)."""
    return tuple(prefix + suffix for suffix in IMAGE_COLUMNS)


def next_frame(key: str) -> Optional[str]:
    """The key of the frame after `key` (its name ends in an 8-digit number: that number plus one), or None."""
    stem, ext = os.path.splitext(key)
    digits = stem[-8:]
    if len(os.path.basename(stem)) <= 8 or not digits.isdigit():
        return None
    return f"{stem[:-8]}{int(digits) + 1:08d}{ext}"


def exact_area(step: Step) -> bool:
    """Whether the graph runs `step` as cv2's INTER_AREA (the chain's area downscale to the LQ size), which reads
    its size and input size but no mode."""
    return isinstance(step, Resize) and step.modes == ("area",) and step.to == "lq" and step.prob >= 1


def used_draws(chain: Optional[Chain]) -> tuple[str, ...]:
    """The chain's draw columns the graph reads."""
    if chain is None:
        return ()
    unused = {f"{step.id}_mode" for step in chain.steps if exact_area(step)}
    return tuple(name for name in chain_columns(chain) if name not in unused)


@dataclass(frozen=True)
class FolderOutputs:
    """The source's columns (each image's, `has_alt`, the chain's draws, `idx`) and the graph's outputs."""

    draws: tuple[str, ...]
    makes_lq: bool
    alt: bool  # the next frame too
    decoded: bool = False  # each image's column holds its HQ pixels, made by the source (no geometry columns)

    @property
    def columns(self) -> tuple[str, ...]:
        image = (lambda prefix: (prefix,) if self.decoded else image_columns(prefix))
        alt = image("alt") + ("has_alt",) if self.alt else ()
        return image("hq") + alt + self.draws + ("idx",)

    @property
    def graph_outputs(self) -> tuple[str, ...]:
        pair = ("hq",) + ("lq",) * self.makes_lq
        alt = tuple(f"alt_{name}" for name in pair) + ("has_alt",) if self.alt else ()
        return pair + alt + ("idx",)


@dataclass(frozen=True)
class Geometry:
    """Where one image's HQ comes from: the window (x, y, w, h) of the stored image, flipped or not, its size
    after the INTER_AREA resize (h, w) and after the cut to a multiple (h, w)."""

    window: tuple[int, int, int, int]
    flipped: bool
    resized: tuple[int, int]
    kept: tuple[int, int]


def geometry(options: Any, scale: int, hw: tuple[int, int], flip: bool, name: str, cut: bool = True) -> Geometry:
    """DL-Art-School's cuts of an image of size `hw`: centre crop, flip, centre square (none of them unless `cut`:
    it resizes the next frame of a video whole), resize, multiple. `DatasetError` naming the image (`name`) when
    it is too small for them."""
    h, w = hw
    x, y = 0, 0
    side = options.center_crop_hq_sz if cut else None
    if side is not None:
        if side > h or side > w:
            raise DatasetError(f"{name} is {h}x{w}, smaller than center_crop_hq_sz {side}; remove it or lower "
                               f"center_crop_hq_sz")
        x, y, h, w = w // 2 - side // 2, h // 2 - side // 2, side, side
    if options.force_square and cut:
        dim = min(h, w)
        dx, dy = (w - dim) // 2, (h - dim) // 2
        x, y, h, w = x + (w - dim - dx if flip else dx), y + dy, dim, dim  # the square of the flipped image
    target = options.target_size
    resized = (target, target) if target is not None and target != h else (h, w)
    if resized[0] > h or resized[1] > w:
        raise DatasetError(f"{name}: its HQ is {h}x{w}, smaller than target_size {target} (INTER_AREA only "
                           f"downscales here); remove it or lower target_size")
    multiple = options.force_multiple * scale
    kept = (resized[0] - resized[0] % multiple, resized[1] - resized[1] % multiple)
    if min(kept) == 0:
        raise DatasetError(f"{name}: its HQ is {resized[0]}x{resized[1]}, smaller than scale x force_multiple "
                           f"{multiple}; remove it")
    return Geometry((x, y, w, h), flip, resized, kept)


def hq_pixels(value: np.ndarray, name: str, hw: tuple[int, int], g: Geometry) -> np.ndarray:
    """An image's HQ as DL-Art-School makes it, float32 HWC in [0, 1]: decoded, its window cut, flipped, cv2's
    INTER_AREA to the target size (on the float image, as DL-Art-School resizes), cut to the multiple."""
    import cv2

    x, y, w, h = g.window
    image = decode_rgb(value, name, hw)[y:y + h, x:x + w]
    image = (image[:, ::-1] if g.flipped else image).astype(np.float32) / np.float32(255.0)
    if g.resized != (h, w):
        image = cv2.resize(image, (g.resized[1], g.resized[0]), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image[:g.kept[0], :g.kept[1]])


class FolderSource(PlanSource):
    """One DALI row per image: its bytes and geometry, or (`make_pixels`) its HQ pixels."""

    def __init__(self, cfg: Config, index: FolderIndex, sampling: Sampling, start: tuple[int, int] = (0, 0)):
        super().__init__(cfg, index, sampling, start)
        chain = cfg.degradation
        self.outputs = FolderOutputs(used_draws(chain), chain is not None, bool(cfg.options.fetch_alt_image))

    def make_pixels(self, on: bool) -> None:
        """With `on`, hand DALI each image's HQ pixels (`hq_pixels`, made on `num_threads` worker threads) instead
        of its bytes and geometry: on the CPU, OpenCV's INTER_AREA by a fractional factor costs a fraction of the
        graph's exact one. Set before the pipeline is built."""
        self.outputs = replace(self.outputs, decoded=on)

    @staticmethod
    def _row(prefix: str, value: np.ndarray, g: Geometry) -> dict[str, np.ndarray]:
        """The columns of one image: its bytes and geometry."""
        x, y, w, h = g.window
        values = (value, np.array([x, y], np.int32), np.array([w, h], np.int32), np.array(int(g.flipped), np.int32),
                  np.array(g.resized != (h, w)), np.array([h, w], np.float32), np.array(g.resized, np.float32),
                  np.array([g.kept[1], g.kept[0]], np.int32))
        return dict(zip(image_columns(prefix), values))

    def _alt(self, store: DiskStorage, key: str, main: tuple, kept: tuple[int, int]) -> tuple[dict, tuple]:
        """The next frame's columns, resized whole, and its (bytes, name, (h, w), geometry); the image's own
        (`main`, the same four) when there is none, as DL-Art-School does."""
        alt = next_frame(key)
        if alt is None or not store.has(alt):
            return {**self._row("alt", main[0], main[3]), "has_alt": np.array(False)}, main
        value, hw = read_value(store, alt, None)
        g = geometry(self.cfg.options, self.cfg.scale, hw, False, store.describe(alt), cut=False)
        if g.kept != kept:
            raise DatasetError(f"{store.describe(alt)}: the next frame's HQ is {g.kept[0]}x{g.kept[1]}, not "
                               f"{kept[0]}x{kept[1]} as {store.describe(key)}'s; give frames of one size")
        return {**self._row("alt", value, g), "has_alt": np.array(True)}, (value, store.describe(alt), hw, g)

    def _draws(self, epoch: int, position: int, kept: tuple[int, int]) -> dict[str, np.ndarray]:
        """The chain's draws for a sample at `position` whose HQ is `kept` (h, w)."""
        if not self.outputs.draws:
            return {}
        rng = np.random.default_rng([self.cfg.seed, epoch, position, _STREAM])
        draws = draw_sample(self.cfg.degradation, rng, kept)[0]
        return {name: draws[name] for name in self.outputs.draws}

    def _assemble(self, plan: EpochPlan, rows: slice) -> Batch:
        indices, positions = plan.indices[rows], plan.positions[rows]
        flips = plan.flips[rows, 0] & (not self.cfg.options.disable_flip)
        samples, images, kept, decodes = [], [], [], []
        for i, position, flip in zip(indices, positions, flips):
            store, key, value, hw = self.index.read(int(i))
            g = geometry(self.cfg.options, self.cfg.scale, hw, bool(flip), store.describe(key))
            row = {**self._row("hq", value, g), **self._draws(plan.epoch, int(position), g.kept)}
            decodes.append((row, "hq", (value, store.describe(key), hw, g)))
            if self.outputs.alt:
                alt, job = self._alt(store, key, decodes[-1][2], g.kept)
                row.update(alt)
                decodes.append((row, "alt", job))
            samples.append(row)
            images.append([] if self.outputs.decoded else [(store, key)])
            kept.append(g.kept)
        other = first_mismatch(kept)
        if other is not None:
            first, other = self.index.paths([int(indices[0]), int(indices[other])])
            raise DatasetError(f"{self.index.name}: one batch mixes HQ sizes ({first} and {other}); set target_size "
                               f"or use batch_size_per_gpu: 1")
        if self.outputs.decoded:
            made = ordered_map(lambda d: hq_pixels(*d[2]), decodes, min(self.cfg.num_threads, len(decodes)))
            for (row, prefix, _), pixels in zip(decodes, made):
                row[prefix] = pixels
        return rows_batch(samples, images, self.outputs.columns[:-1], indices)

    def placeholder_columns(self) -> dict[str, Any]:
        side = self.cfg.options.target_size or self.cfg.scale * self.cfg.options.force_multiple
        blank = np.frombuffer(encode(np.zeros((side, side, 3), np.uint8), "png", "placeholder"), np.uint8)
        g = Geometry((0, 0, side, side), False, (side, side), (side, side))
        row = {**self._row("hq", blank, g), **self._draws(0, 0, g.kept)}
        if self.outputs.alt:
            row.update({**self._row("alt", blank, g), "has_alt": np.array(False)})
        if self.outputs.decoded:
            row.update({prefix: np.zeros((side, side, 3), np.float32) for prefix in ("hq", "alt") if prefix in row})
        return {**{k: [v] for k, v in row.items()}, "idx": np.full(1, -1, np.int64)}

    def collate(self, out: dict[str, Any]) -> dict[str, Any]:
        """DL-Art-School's batch: `hq`, `lq` (unless skip_lq), `LQ_path`, `HQ_path`, `has_alt` (whether the next
        frame was found: false without fetch_alt_image) and with fetch_alt_image `alt_hq`, `alt_lq`."""
        import torch

        idx = out.pop("idx").numpy().astype(np.int64).tolist()
        paths = self.index.paths(idx)
        has_alt = out.pop("has_alt").reshape(-1).bool() if self.outputs.alt else torch.zeros(len(idx), dtype=torch.bool)
        out.update(LQ_path=paths, HQ_path=list(paths), has_alt=has_alt)
        return out


def first_mismatch(kept: list[tuple[int, int]]) -> Optional[int]:
    """The first row whose HQ size differs from the first row's."""
    return next((j for j, k in enumerate(kept) if k != kept[0]), None)
