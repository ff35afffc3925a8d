"""The samples of SingleImageDataset and MultiFrameDataset: every tile of every chunk folder under `paths` (with
`num_frames`, with the frame folders of its video that it reads), each root's samples repeated `weights` times,
with the geometry DL-Art-School gives each sample (HQ size after `target_size` and `force_multiple`, the tile's
centre and side in `ref.jpg`, moved as its `resize_point` moves them)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Sequence

from ...config import Config
from ...errors import DatasetError
from ...storage.backends import DiskStorage
from ..storages import fingerprint
from .chunk_cache import chunk_folders
from .chunks import CENTERS_NAME, REF_NAME, ChunkFolder
from .roots import weighted_roots
from .chunk_options import ChunkOptions

# DL-Art-School's centre and side of every tile when centres are not read from centers.pt (`strict` off).
DEFAULT_CENTER, DEFAULT_WIDTH = (128, 128), 256


def resize_point(point: tuple[int, int], old: int, new: int) -> tuple[int, int]:
    """A point of a square of side `old` moved to a square of side `new`, truncated (DL-Art-School's arithmetic)."""
    ratio = float(new) / float(old)
    return int(ratio * float(point[0])), int(ratio * float(point[1]))


@dataclass(frozen=True)
class TileFolder:
    """A chunk folder as read: its storage (the dataset root), facts, tiles after `ignore_first`, and per tile
    its centre and side in `ref.jpg` pixels."""

    store: DiskStorage
    folder: ChunkFolder
    tiles: tuple[str, ...]
    squares: tuple[tuple[tuple[int, int], int], ...]

    @property
    def side(self) -> int:
        return self.folder.size[0]

    def key(self, name: str) -> str:
        return f"{self.folder.name}/{name}"


Sample = tuple[tuple[int, ...], int]  # (its frames' positions in `folders`, its tile's position in each folder)


@dataclass
class TileIndex:
    """Samples as (frame folders, tile) positions into `folders` (one frame folder per sample for single images);
    `hq_side` is every sample's HQ side; `frames` is `num_frames` (0: single images, no time axis)."""

    name: str
    folders: list[TileFolder]
    samples: list[Sample]
    target_side: int  # every sample's HQ side after target_size (the tiles' own side without it)
    hq_side: int  # after force_multiple
    frames: int = 0

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def tile_side(self) -> Optional[int]:
        """The side of every tile, when all folders' tiles have one; else None."""
        sides = {folder.side for folder in self.folders}
        return sides.pop() if len(sides) == 1 else None

    def tile_path(self, i: int) -> str:
        """The sample's tile file (of its last frame, as DL-Art-School's `GT_path`)."""
        frames, t = self.samples[i]
        folder = self.folders[frames[-1]]
        return folder.store.label(folder.key(folder.tiles[t]))

    def paths(self, indices: Sequence[int]) -> list[str]:
        return [self.tile_path(i) for i in indices]

    def fingerprint(self) -> str:
        return fingerprint(self.tile_path(i) for i in range(len(self)))

    def close(self) -> None:
        for store in {id(f.store): f.store for f in self.folders}.values():
            store.close()


def _tile_id(folder_path: str, tile: str) -> int:
    stem = os.path.splitext(tile)[0]
    if not stem.isdigit():
        raise DatasetError(f"{os.path.join(folder_path, tile)}: a tile's name must be its number (%08d.jpg) to find "
                           f"it in {CENTERS_NAME}; rename it, or set strict: false")
    return int(stem)


def _squares(path: str, folder: ChunkFolder, tiles: tuple[str, ...],
             o: ChunkOptions) -> tuple[tuple[tuple[int, int], int], ...]:
    """Each tile's (centre, side) in ref.jpg: from centers.pt with `strict`/`needs_metadata`, else DL-Art-School's
    fixed ones; none are used without `need_ref`."""
    if not o.need_ref:
        return tuple(((0, 0), 0) for _ in tiles)
    if folder.ref_size is None:
        raise DatasetError(f"{path}: no {REF_NAME}, which need_ref reads; re-extract the folder or set need_ref: false")
    if folder.ref_size != folder.size:
        raise DatasetError(f"{os.path.join(path, REF_NAME)} is {folder.ref_size[0]}x{folder.ref_size[1]} but the "
                           f"folder's tiles are {folder.size[0]}x{folder.size[1]}; the reference must have the tile "
                           f"size (re-extract the folder)")
    if not o.centers_needed:
        return tuple((DEFAULT_CENTER, DEFAULT_WIDTH) for _ in tiles)
    centers_file = os.path.join(path, CENTERS_NAME)
    if folder.centers_error is not None:
        raise DatasetError(folder.centers_error)
    if folder.centers is None:
        raise DatasetError(f"{centers_file} is missing, which strict / needs_metadata read; re-extract the folder or "
                           f"set strict: false")
    squares = []
    for tile in tiles:
        tile_id = _tile_id(path, tile)
        if tile_id not in folder.centers:
            raise DatasetError(f"{centers_file} has no entry for tile {tile_id} ({tile}); the file was overwritten "
                               f"(re-extract the folder) or set strict: false")
        squares.append(folder.centers[tile_id])
    return tuple(squares)


def _target_side(path: str, folder: ChunkFolder, target: Optional[int]) -> int:
    """The HQ side of the folder's tiles after `target_size`: a whole-factor INTER_AREA downscale."""
    h, w = folder.size
    if h != w:
        raise DatasetError(f"{os.path.join(path, folder.tiles[0])}: tile is {h}x{w}, not square; DL-Art-School's "
                           f"chunks are square tiles (re-extract the folder)")
    if target is None:
        return h
    if target > h or h % target:
        raise DatasetError(f"{path}: tiles are {h}x{h} and target_size {target} is not a whole-factor reduction of "
                           f"them (INTER_AREA is read as its exact box mean); choose a target_size that divides {h}")
    return target


def _video_windows(folders: list[TileFolder], first: int, frames: int, where: str) -> list[Sample]:
    """The samples of the folders from `first` on as videos: a folder whose name ends in a 12-character frame
    counter is a frame of the video its name's rest names; each tile of each frame starts a sample of `frames`
    consecutive frames of its video ending at it (or the video's first `frames`), at the same tile position."""
    videos: dict[str, list[int]] = {}
    for f in range(first, len(folders)):
        name = folders[f].folder.name
        if len(name) <= 12:
            raise DatasetError(f"{where}: folder {name} has no 12-character frame counter after a video name; "
                               f"MultiFrameDataset reads folders named <video><12-character frame>")
        videos.setdefault(name[:-12], []).append(f)
    samples: list[Sample] = []
    for video, members in videos.items():
        if len(members) < frames:
            raise DatasetError(f"{where}: video {video} has {len(members)} frame folder(s), fewer than num_frames "
                               f"{frames}; lower num_frames or remove the video")
        for k, f in enumerate(members):
            start = max(k - frames + 1, 0)
            window = tuple(members[start:start + frames])
            for t in range(len(folders[f].tiles)):
                short = next((folders[w] for w in window if t >= len(folders[w].tiles)), None)
                if short is not None:
                    raise DatasetError(f"{where}: frame folder {short.folder.name} has {len(short.tiles)} tile(s) but "
                                       f"{folders[f].folder.name} has {len(folders[f].tiles)}; the frames of a video "
                                       f"need the same tiles (re-extract video {video})")
                samples.append((window, t))
    return samples


def build_tile_index(cfg: Config) -> TileIndex:
    """Every tile under `paths`, checked before any batch: sizes, references and centres as the options need."""
    o: ChunkOptions = cfg.options
    folders: list[TileFolder] = []
    samples: list[Sample] = []
    sides: dict[int, str] = {}  # HQ side -> the first folder giving it
    for root, weight in weighted_roots(o.paths, o.weights, cfg.name):
        store = DiskStorage(root)
        first = len(folders)
        for folder in chunk_folders(root):
            tiles = folder.tiles[o.ignore_first:]
            if not tiles:
                continue
            path = os.path.join(root, folder.name)
            sides.setdefault(_target_side(path, folder, o.target_size), path)
            folders.append(TileFolder(store, folder, tiles, _squares(path, folder, tiles, o)))
        if o.num_frames:
            mine = _video_windows(folders, first, o.num_frames, root)
        else:
            mine = [((f,), t) for f in range(first, len(folders)) for t in range(len(folders[f].tiles))]
        samples += mine * weight
    if not samples:
        raise DatasetError(f"{cfg.name}: no tiles under {o.paths} (each source image's folder holds its %08d.jpg "
                           f"tiles); check 'paths' or extract the chunks with dali-sr extract-chunks")
    if len(sides) > 1:
        (a, first_path), (b, other) = list(sides.items())[:2]
        raise DatasetError(f"{cfg.name}: tiles of {first_path} are {a}x{a} but those of {other} {b}x{b}; a batch "
                           f"needs one size: set target_size")
    target = next(iter(sides))
    multiple = o.force_multiple * cfg.scale
    hq_side = target - target % multiple
    if hq_side == 0:
        raise DatasetError(f"{cfg.name}: tiles of {target}x{target} hold no multiple of force_multiple x scale "
                           f"({multiple}); lower force_multiple")
    return TileIndex(cfg.name, folders, samples, target, hq_side, o.num_frames)
