"""`SceneLQClipDataset`: LQ clips alone, whole frames, from flat folders of frames named `SCENE_FRAME.ext`, as
traiNNer-redux's `SingleVideoDataset` reads them to run a video model on (no GT, no crop, no flips).

Each folder's image files (`.png`, `.jpg`, `.jpeg`) are sorted by name and grouped into scenes by the text before
their first `_`; the folders of a list are read in order and a scene's frames are gathered across them (a scene
named in two folders is one scene, the first folder's frames first). A sample is every window of `num_frame`
consecutive frames of a scene (scenes in the order first met, windows by first frame); a scene shorter than the
window gives none. Batches hold `lq` (B, T, C, H, W) and `lq_path`, the file of each window's frame
`num_frame // 2`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

import numpy as np

from ...config import Config, TypeOptions
from ...errors import ConfigError, DatasetError
from ...schema.fields import integer
from ...storage.backends import DiskStorage
from ...storage.codecs import encode
from ...storage.joined import JoinedStorage, joined_key
from ..kind import DatasetKind
from ..outputs import ImageSide, Window
from ..paired.lists import ROOTS
from ..plan import EpochPlan
from ..source import Batch, PlanSource, read_value
from ..storages import fingerprint
from .scenes import frame_files

_KEYS = {"dataroot_lq": ROOTS, "num_frame": integer(1, 255, nullable=True)}


@dataclass(frozen=True)
class LQSceneOptions:
    """The LQ folders as a list and the window length."""

    dataroot_lq: Optional[tuple[str, ...]]
    num_frame: Optional[int]


def _options(**values: Any) -> LQSceneOptions:
    roots = values["dataroot_lq"]
    return LQSceneOptions(None if roots is None else (roots,) if isinstance(roots, str) else tuple(roots),
                          values["num_frame"])


def _prepare(v: dict, where: str) -> dict:
    """LQ alone: no GT, no made LQ, no patch; `scale` is 1 unless given (the model's factor, not read here)."""
    for key in ("dataroot_gt", "degradation", "gt_size"):
        if v[key] is not None:
            raise ConfigError(f"{where}: {v['type']} reads LQ clips alone, whole; remove '{key}' (for clips with "
                              f"their GT use SceneClipDataset)")
    if v["scale"] is None:
        v["scale"] = 1
    return v


def _finish(cfg: Config, where: str) -> Config:
    o = cfg.options
    if cfg.is_train:
        raise ConfigError(f"{where}: {cfg.type} yields LQ clips without GT, to run a model on; use it in phase val "
                          f"or test (train on clips with their GT with SceneClipDataset)")
    if o.dataroot_lq is None:
        raise ConfigError(f"{where}: {cfg.type} needs dataroot_lq (a folder or a list of folders)")
    if o.num_frame is None:
        raise ConfigError(f"{where}: {cfg.type} needs 'num_frame' (frames per window, e.g. 5)")
    if cfg.io_backend != "disk":
        raise ConfigError(f"{where}: {cfg.type} reads folders of frame files; set io_backend: {{type: disk}}")
    return replace(cfg, dataroot_lq=o.dataroot_lq[0])


@dataclass
class LQSceneIndex:
    """Scenes with their frames (keys of the joined folders), and the windows as (scene, first frame) rows."""

    name: str
    store: JoinedStorage
    scenes: list[str]
    frames: list[list[str]]
    windows: np.ndarray  # (samples, 2) int64
    num_frame: int

    def __len__(self) -> int:
        return len(self.windows)

    def keys(self, i: int) -> list[str]:
        """The frame keys of window `i`, in time order."""
        scene, first = (int(x) for x in self.windows[i])
        return self.frames[scene][first:first + self.num_frame]

    def middle_path(self, i: int) -> str:
        """The file of window `i`'s frame `num_frame // 2` (traiNNer-redux's `lq_path`)."""
        return self.store.label(self.keys(i)[self.num_frame // 2])

    def fingerprint(self) -> str:
        return fingerprint(self.scenes, (k for frames in self.frames for k in frames), [str(self.num_frame)])

    def close(self) -> None:
        self.store.close()


def build_lq_scene_index(cfg: Config) -> LQSceneIndex:
    """The scenes gathered over every folder and their windows; `DatasetError` when no scene fills one."""
    o = cfg.options
    n = o.num_frame
    by_scene: dict[str, list[str]] = {}
    for number, root in enumerate(o.dataroot_lq):
        for f in frame_files(root, cfg.name):
            by_scene.setdefault(f.split("_")[0], []).append(joined_key(number, f))
    scenes, frames = list(by_scene), list(by_scene.values())
    windows = [(s, first) for s, keys in enumerate(frames) for first in range(len(keys) - n + 1)]
    if not windows:
        raise DatasetError(f"{cfg.name}: no scene of {', '.join(o.dataroot_lq)} has {n} frames (num_frame); check "
                           f"the folders (frames named SCENE_FRAME.png) or lower num_frame")
    store = JoinedStorage([DiskStorage(r) for r in o.dataroot_lq])
    return LQSceneIndex(cfg.name, store, scenes, frames, np.array(windows, np.int64).reshape(-1, 2), n)


@dataclass(frozen=True)
class LQClipOutputs:
    """The source's columns (a frame column per window position, then `idx`) and the graph's outputs."""

    lq: ImageSide

    @property
    def columns(self) -> tuple[str, ...]:
        return self.lq.columns + ("idx",)

    graph_outputs = ("lq", "idx")


class LQClipSource(PlanSource):
    """A DALI row per window: its frames' encoded bytes as columns `lq_0` .. `lq_{T-1}`; `idx` the window."""

    def __init__(self, cfg: Config, index: LQSceneIndex, sampling: Any, start: tuple[int, int] = (0, 0)):
        super().__init__(cfg, index, sampling, start)
        columns = tuple(f"lq_{k}" for k in range(index.num_frame))
        self.outputs = LQClipOutputs(ImageSide("lq", columns, False, Window.NONE))

    def _assemble(self, plan: EpochPlan, rows: slice) -> Batch:
        ix = self.index
        samples = plan.indices[rows]
        values: list[list[np.ndarray]] = [[] for _ in range(ix.num_frame)]
        images, first_size, first_frame = [], None, ""
        for i in samples:
            keys = ix.keys(int(i))
            for k, key in enumerate(keys):
                value, hw = read_value(ix.store, key, None)
                if first_size is None:
                    first_size, first_frame = hw, ix.store.describe(key)
                elif hw != first_size:
                    raise DatasetError(
                        f"{ix.name}: LQ frame {ix.store.describe(key)} is {hw[1]}x{hw[0]} but {first_frame} is "
                        f"{first_size[1]}x{first_size[0]}; the frames of a window, and of a batch, must have one "
                        f"size (use batch_size_per_gpu: 1 for scenes of different sizes)")
                values[k].append(value)
            images.append([(ix.store, key) for key in keys])
        columns: dict[str, Any] = dict(zip(self.outputs.lq.columns, values))
        columns["idx"] = samples.astype(np.int64)
        return Batch(columns, images)

    def placeholder_columns(self) -> dict[str, Any]:
        blank = np.frombuffer(encode(np.zeros((1, 1, 3), np.uint8), "png", "placeholder"), np.uint8)
        return {**{c: [blank] for c in self.outputs.lq.columns}, "idx": np.full(1, -1, np.int64)}

    def collate(self, out: dict[str, Any]) -> dict[str, Any]:
        """traiNNer-redux's batch: `lq` (B, T, C, H, W) and `lq_path` of each window's middle frame."""
        idx = out.pop("idx").numpy().astype(np.int64).reshape(-1).tolist()
        return {"lq": out["lq"], "lq_path": [self.index.middle_path(i) for i in idx]}


LQ_SCENE_CLIPS = DatasetKind(TypeOptions(_KEYS, _options, needs_gt_size=False, makes_lq=False, prepare=_prepare,
                                         finish=_finish), build_lq_scene_index, LQClipSource)
