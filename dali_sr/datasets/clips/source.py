"""External source of clip samples: frame bytes, one crop window per sample, augment flags.

Each sample's frames come from its `ClipWindow` (interval, redraw and reverse draws from the
epoch plan). The crop window is drawn once per sample from the frame headers and shared by
every LQ frame; the GT window is `scale` times it. Two batch layouts:

- stacked (one GT frame per sample): a DALI row per sample, LQ frames as `num_frame`
  columns `lq_0..` that the graph decodes and stacks;
- per frame (GT for every frame, recurrent types): a DALI row per frame, columns `lq`, `gt`,
  so one decoder per side sees all frames; rows of a sample share window and flags.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...config import Config
from ...errors import DatasetError
from ..outputs import ImageSide, SourceOutputs, Window, derived, flips, side
from ..plan import EpochPlan, Sampling
from ..source import Batch, PlanSource, read_value
from .index import ClipIndex
from .windows import Draw, pick


def clip_outputs(cfg: Config, index: ClipIndex) -> SourceOutputs:
    """Stacked windows: LQ columns `lq_0..lq_{T-1}` and `gt`; per-frame rows (GT for every frame): `lq`, `gt`.

    GT-only: stacked LQ columns hold the GT values of the LQ frames, cut with the GT window (the graph
    degrades them); per-frame rows have no LQ column (LQ is made from each GT frame)."""
    train, stacked = cfg.is_train, not index.rules.window.every_frame_gt
    lq_columns = tuple(f"lq_{k}" for k in range(index.rules.num_frame)) if stacked else ("lq",)
    pixels = index.lq_arrays is not None
    if index.lq is not None:
        lq = side("lq", lq_columns, pixels, train)
    elif stacked:
        lq = ImageSide("lq", lq_columns, pixels, Window.NONE if pixels else (Window.CROP if train else Window.CUT))
    else:
        lq = derived("lq")
    return SourceOutputs(lq=lq, gt=side("gt", ("gt",), index.gt_arrays is not None, train),
                         flips=flips(train, cfg.use_hflip, cfg.use_rot, cfg.use_vflip), training=train,
                         stacked=stacked, degradation=cfg.degradation)


class ClipSource(PlanSource):
    """External source of clips: the columns of `clip_outputs`; `idx` is (rows, 2): the sample's slot in the
    batch and the global id of its key frame."""

    idx_shape = (1, 2)

    def __init__(self, cfg: Config, index: ClipIndex, sampling: Sampling, start: tuple[int, int] = (0, 0)):
        super().__init__(cfg, index, sampling, start)
        self.rules = index.rules
        self.outputs = clip_outputs(cfg, index)

    @property
    def rows_per_batch(self) -> int:
        """The most DALI rows one batch can have (the pipeline's batch size)."""
        window = self.rules.window
        if not window.every_frame_gt:
            return self.cfg.batch_size
        if window.whole_clip:
            return self.cfg.batch_size * max(len(s) for s in self.index.stems)
        return self.cfg.batch_size * self.rules.num_frame

    # -- which frames -------------------------------------------------------------------------
    def _frames(self, clip: int, frame: int, draws: np.ndarray) -> tuple[list[int], list[int], int]:
        """(LQ frame positions, GT frame positions, key frame) of one sample."""
        r = self.rules
        reverse = self.cfg.is_train and r.random_reverse
        draw = Draw(frame, self.index.count(clip), r.num_frame, pick(r.interval_list, draws[0]), draws[1], r.padding,
                    draws[2], reverse)
        lq = r.window.frames(draw)
        key = r.window.key_frame(lq, draw)
        if reverse and not r.window.directed and draws[2] < 0.5:
            lq = lq[::-1]
        return lq, r.window.gt_frames(lq, key), key

    # -- reading and checking -----------------------------------------------------------------
    def _read(self, clip: int, positions: list[int], gt_side: bool) -> tuple[list, list[tuple[int, int]]]:
        ix = self.index
        store, keys = (ix.gt, ix.gt_keys[clip]) if gt_side else (ix.lq_store, ix.lq_keys[clip])
        arrays = ix.gt_arrays if gt_side else ix.lq_arrays
        values, sizes = [], []
        for p in positions:
            value, hw = read_value(store, keys[p], arrays)
            values.append(value)
            sizes.append(hw)
        return values, sizes

    def _check(self, clip: int, lq_pos: list[int], lq_sizes: list, gt_pos: list[int], gt_sizes: list) -> None:
        ix, lq_hw = self.index, lq_sizes[0]
        side = "LQ" if ix.lq is not None else "GT"
        for p, hw in zip(lq_pos, lq_sizes):
            if hw != lq_hw:
                raise DatasetError(f"{ix.name}: {side} frame {ix.lq_store.describe(ix.lq_keys[clip][p])} is "
                                   f"{hw[0]}x{hw[1]} but {ix.lq_store.describe(ix.lq_keys[clip][lq_pos[0]])} is "
                                   f"{lq_hw[0]}x{lq_hw[1]}; all frames of a clip must have one size")
        if ix.lq is None:
            self._check_gt_only(f"GT frames of clip {ix.clips[clip]} are", lq_hw, "remove the clip")
            return
        lq = f"LQ frames of clip {ix.clips[clip]} are"
        for p, hw in zip(gt_pos, gt_sizes):
            self._check_gt(f"GT frame {ix.gt.describe(ix.gt_keys[clip][p])}", lq, lq_hw, hw)
        self._check_patch(lq, lq_hw, "remove the clip")

    # -- batches ------------------------------------------------------------------------------
    def _assemble(self, plan: EpochPlan, rows: slice) -> Batch:
        samples, uniforms, flags, draws = plan.indices[rows], plan.uniforms[rows], plan.flips[rows], plan.clip_draws[rows]
        ix, flat = self.index, not self.outputs.stacked
        lq_cols: list[list] = [[] for _ in self.outputs.lq.columns]
        gt_col: list = []
        per_row: dict[str, list] = {k: [] for k in ("lq_anchor", "lq_shape", "flags", "idx")}
        fed_rows: list = []
        frame_names: list[str] = []  # the first LQ frame of each row, for messages
        for slot, i in enumerate(samples):
            clip, frame = int(ix.sample_clip[i]), int(ix.sample_frame[i])
            lq_pos, gt_pos, key = self._frames(clip, frame, draws[slot])
            lqs, lq_sizes = self._read(clip, lq_pos, gt_side=False)
            gts, gt_sizes = self._read(clip, gt_pos, gt_side=True)
            self._check(clip, lq_pos, lq_sizes, gt_pos, gt_sizes)
            gt_only = ix.lq is None  # every window at GT scale
            anchor, shape = (self._gt_window if gt_only else self._window)(uniforms[slot], *lq_sizes[0])
            lqs = self._cut(lqs, ix.lq_arrays, anchor, shape, gt=False)
            gts = self._cut(gts, ix.gt_arrays, anchor, shape, gt=not gt_only)
            lq_named = [[(ix.lq_store, ix.lq_keys[clip][p])] if ix.lq_arrays is None else [] for p in lq_pos]
            gt_named = [[(ix.gt, ix.gt_keys[clip][p])] if ix.gt_arrays is None else [] for p in gt_pos]
            if flat:  # a row per frame
                if slot and len(lq_pos) != len(gt_col) // slot:
                    raise DatasetError(f"{ix.name}: a batch mixes clips of different lengths ({ix.clips[clip]} has "
                                       f"{len(lq_pos)} frames); use batch_size_per_gpu: 1 or clips of one length")
                dali_rows = [([lq], gt, lq_n + gt_n) for lq, gt, lq_n, gt_n in zip(lqs, gts, lq_named, gt_named)]
            else:  # a row per sample, LQ frames side by side
                dali_rows = [(lqs, gts[0], [image for named in lq_named + gt_named for image in named])]
            for lq_values, gt_value, names in dali_rows:
                for col, value in zip(lq_cols, lq_values):
                    col.append(value)
                gt_col.append(gt_value)
                per_row["lq_anchor"].append(anchor)
                per_row["lq_shape"].append(shape)
                per_row["flags"].append(flags[slot])
                per_row["idx"].append((slot, ix.frame_id(clip, key)))
                fed_rows.append(names)
                frame_names.append(ix.lq_store.describe(ix.lq_keys[clip][lq_pos[0]]))
        lq_shape = np.array(per_row["lq_shape"], np.int32)
        if not self.cfg.is_train and (lq_shape != lq_shape[0]).any():
            j = int(np.flatnonzero((lq_shape != lq_shape[0]).any(axis=1))[0])
            first, other = (frame_names[k] for k in (0, j))
            raise DatasetError(f"{ix.name}: validation batch mixes frame sizes ({first} is {lq_shape[0][1]}x"
                               f"{lq_shape[0][0]}, {other} is {lq_shape[j][1]}x{lq_shape[j][0]}); use "
                               f"batch_size_per_gpu: 1 for whole-frame validation")
        columns: dict[str, Any] = dict(zip(self.outputs.lq.columns, lq_cols))
        anchors, flags = np.array(per_row["lq_anchor"], np.int32), np.array(per_row["flags"], bool).reshape(-1, 3)
        if ix.lq is None:  # GT-only: the windows are GT windows, the same for the LQ frames' GT values
            windows = {"lq_anchor": anchors, "lq_shape": lq_shape, "gt_anchor": anchors, "gt_shape": lq_shape,
                       **self._flags(flags)}
        else:
            windows = self._windows_and_flags(anchors, lq_shape, flags)
        columns.update(gt=gt_col, idx=np.array(per_row["idx"], np.int64), **windows)
        return Batch(columns, fed_rows)

    # -- after DALI -----------------------------------------------------------------------------
    def collate(self, out: dict[str, Any]) -> dict[str, Any]:
        """DALI rows -> BasicSR's video batch: `lq` (B, T, C, h, w), `gt` (B, C, H, W) or (B, T, C, H, W), names."""
        idx = out.pop("idx").numpy()
        _, first = np.unique(idx[:, 0], return_index=True)
        b = len(first)
        lq, gt = out["lq"], out["gt"]
        lq = lq.reshape(b, -1, *lq.shape[2:])
        gt = gt.reshape(b, -1, *gt.shape[2:])
        if not self.rules.window.every_frame_gt:
            gt = gt[:, 0]
        elif self.rules.flip_sequence:
            import torch

            lq, gt = torch.cat([lq, lq.flip(1)], 1), torch.cat([gt, gt.flip(1)], 1)
        out["lq"], out["gt"] = lq, gt
        out.update(self._names([int(i) for i in idx[first, 1]]))
        return out

    def _names(self, frame_ids: list[int]) -> dict[str, list]:
        ix, r = self.index, self.rules
        if self.cfg.is_train:
            return {"key": ix.keys(frame_ids)}
        located = [ix.locate(i) for i in frame_ids]
        if r.window.whole_clip:
            return {"folder": [ix.clips[c] for c, _ in located]}
        half = r.num_frame // 2
        if not r.window.per_frame:  # Vimeo90K test: one folder, clips counted (VideoTestVimeo90KDataset)
            names = {"folder": ["vimeo90k"] * len(located), "idx": [f"{c}/{len(ix.clips)}" for c, _ in located],
                     "border": [0] * len(located)}
        else:
            names = {"folder": [ix.clips[c] for c, _ in located],
                     "idx": [f"{f}/{ix.count(c)}" for c, f in located],
                     "border": [int(f < half or f >= ix.count(c) - half) for c, f in located]}
        names["lq_path"] = [ix.lq_store.label(ix.lq_keys[c][f]) for c, f in located]
        names["gt_path"] = [ix.gt.label(ix.gt_keys[c][f]) for c, f in located]
        return names
