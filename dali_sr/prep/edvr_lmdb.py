"""`dali-sr pack SRC DST.lmdb --format edvr`: clip folders -> an old EDVR LMDB, as EDVR's `create_lmdb_mp.py`
writes it.

SRC holds clip folders of frames (`SRC/000000/000000.jpg`, any image format OpenCV reads). Keys are
`{clip}_{frame}` with the frame's file name as it is, without its extension, in the order of EDVR's
sorted folder walk; each value is the bytes of the array `cv2.imread(path, cv2.IMREAD_UNCHANGED)`
returns (HWC, BGR, uint8); `meta_info.pkl` is the pickled dict `{'name', 'resolution': 'C_H_W',
'keys'}` with the keys in that order. EDVR reads every value with the one `resolution`, so every
frame must have the first frame's shape: the first that does not is named, before anything is
written when its header already shows it.

The LMDB is built in `DST.partial`, and `meta_info.pkl`, without which no loader takes the folder for
a dataset, is written last, just before the rename to DST: a killed run never leaves a loadable LMDB.
A run that fails removes its partial build; there is nothing to resume (values are not re-encoded,
so a new run costs what the first did).
"""
from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import ConfigError, DatasetError
from ..parallel import ordered_map
from ..progress import progress as progress_bar
from ..storage.folders import walk_images
from ..storage.lmdb_writer import LmdbWriter
from .partial_lmdb import check_destination, holds_work, move_into_place, partial_path, remove, start_partial
from .source_image import read_source_image, source_image_size

EDVR_FORMAT = "edvr"
EDVR_VALUES = "bgr-array"  # what its values are, for reports
EDVR_META = "meta_info.pkl"
_EDVR_FILES = frozenset({"data.mdb", "lock.mdb", EDVR_META})  # what `--force` may replace
_SEP = "_"  # between clip and frame in EDVR keys


@dataclass(frozen=True)
class EdvrFrame:
    key: str  # `{clip}_{frame}`
    path: str


@dataclass(frozen=True)
class EdvrPacked:
    """What `pack_edvr` wrote: frames, bytes of their values, the LMDB's final map size, files left out."""

    images: int
    value_bytes: int
    map_size: int
    ignored: int


def check_edvr_options(codec: str, preset: Optional[str], recursive: bool, only_im4: bool,
                       list_file: Optional[str], shards: int, resume: bool) -> None:
    """`ConfigError` for a `pack` option that `--format edvr` does not take."""
    given = [name for name, on in (("--codec", codec != "png"), ("--preset", preset is not None),
                                   ("--recursive", recursive), ("--only-im4", only_im4),
                                   ("--list", list_file is not None), ("--shards", shards != 1)) if on]
    if given:
        raise ConfigError(f"{given[0]} does not apply to --format edvr: its values are raw BGR arrays of "
                          f"SRC/clip/frame files; remove {given[0]}")
    if resume:
        raise ConfigError("--format edvr has no --resume: it writes its LMDB in one run; rerun with --force to start "
                          "over")


def edvr_frames(src: Path) -> tuple[list[EdvrFrame], int]:
    """The frames under `src` (one level of clip folders) with their EDVR keys, in EDVR's order, and the count of
    files left out (hidden or not images); `DatasetError` naming a file that does not fit the layout."""
    if not src.is_dir():
        raise DatasetError(f"source folder {src} does not exist or is not a folder; fix SRC")
    found, ignored = walk_images(src, recursive=True)
    frames: list[EdvrFrame] = []
    for parts in found:
        path = str(src.joinpath(*parts))
        if len(parts) != 2:
            raise DatasetError(f"{path}: --format edvr expects SRC/clip/frame files (e.g. 000000/000000.jpg); point "
                               f"SRC at the folder that holds the clip folders")
        clip, stem = parts[0], os.path.splitext(parts[1])[0]
        if _SEP in stem:
            raise DatasetError(f"{path}: frame name {stem!r} contains '_', but EDVR keys are clip_frame and readers "
                               f"split them at the last '_'; rename the frames (e.g. 000000.jpg)")
        key = f"{clip}{_SEP}{stem}"
        if not key.isascii():
            raise DatasetError(f"{path}: key {key!r} is not ASCII (EDVR encodes keys as ASCII); rename the file or "
                               f"folder")
        if frames and frames[-1].key == key:
            raise DatasetError(f"{frames[-1].path} and {path} both give key {key!r}; remove or rename one of them")
        frames.append(EdvrFrame(key, path))
    if not frames:
        raise DatasetError(f"no frames found in clip folders under {src} (expected SRC/clip/frame.png or .jpg)")
    return frames, ignored


def _check_destination(src: Path, dst: Path, force: bool) -> None:
    """DST is named `*.lmdb` (EDVR's script requires it), lies outside SRC, and is new or (with `force`) an EDVR
    LMDB folder."""
    if not dst.name.endswith(".lmdb"):
        raise ConfigError(f"{dst}: the LMDB folder name must end with '.lmdb' (EDVR's script requires it); e.g. "
                          f"{dst.name}.lmdb")
    if force and dst.is_dir() and not dst.is_symlink():
        strangers = sorted(p.name for p in dst.iterdir() if p.name not in _EDVR_FILES)
        if strangers:
            raise DatasetError(f"{dst} is not an EDVR LMDB folder (it holds {strangers[0]}); --force only replaces "
                               f"LMDB folders, remove it yourself")
    check_destination(src, dst, force, True, "pack", lambda name: name in _EDVR_FILES)


def _shape_error(path: str, shape: tuple, first: EdvrFrame, first_shape: tuple) -> DatasetError:
    def dims(s: tuple) -> str:
        return "x".join(map(str, s))

    return DatasetError(f"{path}: {dims(shape)} differs from {dims(first_shape)} of the first frame {first.path}; "
                        f"an EDVR LMDB holds one shape (meta_info.pkl's resolution): resize the frames or pack them "
                        f"into separate LMDBs")


def _read_frame(frame: EdvrFrame, max_pixels: int):
    """The frame as `cv2.imread(path, IMREAD_UNCHANGED)` gives it, only if EDVR's readers can take it."""
    img = read_source_image(frame.path, max_pixels)
    if img.dtype.name != "uint8":
        raise DatasetError(f"{frame.path}: {img.dtype} pixels; EDVR's readers take 8-bit (uint8) frames: convert the "
                           f"frames to 8-bit")
    if img.ndim != 3 or img.shape[2] != 3:
        channels = 1 if img.ndim == 2 else img.shape[2]
        raise DatasetError(f"{frame.path}: {channels} channel(s); EDVR's readers take 3-channel BGR frames: convert "
                           f"the frames to 3-channel colour")
    return img


def pack_edvr(src: Path, dst: Path, *, force: bool, workers: int, commit_every: int, max_pixels: int,
              progress: bool, map_size: Optional[int] = None) -> EdvrPacked:
    """Write the old EDVR LMDB `dst` from the clip folders of `src` (see the module doc)."""
    _check_destination(src, dst, force)
    partial = partial_path(str(dst))
    if partial.exists() and holds_work(partial) and not force:
        raise DatasetError(f"{partial} holds an unfinished pack of {dst.name}; rerun with --force to start over")
    frames, ignored = edvr_frames(src)
    first = frames[0]
    sizes = ordered_map(lambda f: source_image_size(f.path, max_pixels), frames, workers)
    with progress_bar(len(frames), "check", "img", progress) as bar:
        try:
            for frame, hw in zip(frames, sizes):
                if frame is first:
                    first_hw = hw
                elif hw != first_hw:
                    raise _shape_error(frame.path, hw, first, first_hw)
                bar.update()
        finally:
            sizes.close()
    if partial.exists():
        remove(partial)
    start_partial(partial, {"format": "dali_sr pack partial v1", "tag": EDVR_FORMAT, "command": "pack"})
    import lmdb

    try:
        env = lmdb.open(str(partial), map_size=map_size or max(64 << 20, 2 * len(frames) * first_hw[0] *
                                                                   first_hw[1] * 3))
        try:
            first_shape, value_bytes = _fill(env, frames, workers, commit_every, max_pixels, progress, dst.name)
            final_map = env.info()["map_size"]
        finally:
            env.close()
        c_h_w = f"{first_shape[2]}_{first_shape[0]}_{first_shape[1]}"
        meta = {"name": dst.name.removesuffix(".lmdb"), "resolution": c_h_w, "keys": [f.key for f in frames]}
        _write_meta(partial, meta)
        move_into_place(partial, dst)
    except BaseException:
        if partial.exists():
            remove(partial)
        raise
    return EdvrPacked(len(frames), value_bytes, final_map, ignored)


def _fill(env, frames: list[EdvrFrame], workers: int, commit_every: int, max_pixels: int, progress: bool,
          name: str) -> tuple[tuple, int]:
    """Put every frame's array into `env` in key order; (the shape all share, bytes written)."""
    writer = LmdbWriter(env, commit_every)
    results = ordered_map(lambda f: _read_frame(f, max_pixels), frames, workers)
    first_shape, value_bytes = None, 0
    with progress_bar(len(frames), f"pack {name}", "img", progress) as bar:
        try:
            for frame, img in zip(frames, results):
                if first_shape is None:
                    first_shape = img.shape
                elif img.shape != first_shape:
                    raise _shape_error(frame.path, img.shape, frames[0], first_shape)
                value = img.tobytes()  # C order: the bytes EDVR's txn.put(key, array) stores
                writer.put(frame.key, value)
                value_bytes += len(value)
                bar.update()
            writer.commit()
        finally:
            results.close()
    return first_shape, value_bytes


def _write_meta(folder: Path, meta: dict) -> None:
    """`meta_info.pkl` as EDVR's `pickle.dump(meta_info, f)` writes it, whole or not at all."""
    tmp = folder / (EDVR_META + ".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(meta, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, folder / EDVR_META)
