"""MultiFrameDataset over chunk folders of two videos written by hand in DL-Art-School's layout (a folder per frame,
named by the video and a 12-character frame counter): each sample's frames are consecutive frames of one video
at one tile position, compared with cv2 references of the tile files."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import dali_sr
from dali_sr import ConfigError, DatasetError
from test_dlas_chunks import photos, reference

TILE, TILES_PER_FRAME = 16, 2
VIDEOS = {"clipA_": 4, "clipB_": 3}  # video name -> frames


def write_videos(root: Path) -> dict[str, list[str]]:
    """Each frame a folder `<video><frame:012d>` of tiles cut from a window of a photo that moves by frame, with
    ref.jpg and centers.pt. Returns each video's frame folder names in order."""
    sources = list(photos().values())
    tile_id, folders = 0, {}
    for v, (video, frames) in enumerate(VIDEOS.items()):
        img = sources[v]
        folders[video] = []
        for k in range(frames):
            name = f"{video}{k:012d}"
            folder = root / name
            folder.mkdir(parents=True)
            window = img[8 * k:8 * k + 64, 8 * k:8 * k + 128]  # two 64 x 64 tiles side by side
            cv2.imwrite(str(folder / "ref.jpg"), cv2.resize(window[:, :64], (TILE, TILE),
                                                            interpolation=cv2.INTER_AREA))
            centers = {}
            for t in range(TILES_PER_FRAME):
                piece = cv2.resize(window[:, 64 * t:64 * t + 64], (TILE, TILE), interpolation=cv2.INTER_AREA)
                cv2.imwrite(str(folder / f"{tile_id:08d}.jpg"), piece, [cv2.IMWRITE_JPEG_QUALITY, 95])
                centers[tile_id] = ((8 + t, 8 - t), 8 + 2 * t)
                tile_id += 1
            torch.save(centers, folder / "centers.pt")
            folders[video].append(name)
    return folders


def frames_cfg(root: Path, **extra) -> dict:
    cfg = {"mode": "multi_frame_extensible", "name": "frames", "paths": str(root), "scale": 2, "num_frames": 3,
           "phase": "val", "batch_size": 32, "device": "cpu", "n_workers": 2, "need_ref": True, "strict": True}
    cfg.update(extra)
    return cfg


def expected_windows(folders: dict[str, list[str]], n: int) -> list[tuple[list[str], int]]:
    """Per sample (frame folders, tile position): `n` consecutive frames of its video ending at its own frame, or
    the video's first `n` frames near its start."""
    samples = []
    for frames in folders.values():
        for k in range(len(frames)):
            start = max(k - n + 1, 0)
            for t in range(TILES_PER_FRAME):
                samples.append((frames[start:start + n], t))
    return samples


def test_samples_are_consecutive_frames_of_one_video(tmp_path):
    folders = write_videos(tmp_path)
    with dali_sr.build_loader(frames_cfg(tmp_path, target_size=8)) as loader:
        batch = next(iter(loader))
    samples = expected_windows(folders, 3)
    assert batch["hq"].shape == (14, 3, 3, 8, 8) and batch["lq"].shape == (14, 3, 3, 4, 4)
    assert batch["gt_fullsize_ref"].shape == (14, 3, 4, 8, 8) and batch["gt_center"].shape == (14, 3, 2)
    assert "LQ_path" not in batch
    for j, (frames, t) in enumerate(samples):
        tiles = [sorted((tmp_path / f).glob("0*.jpg"))[t] for f in frames]
        assert batch["GT_path"][j] == str(tiles[-1])
        for k, tile in enumerate(tiles):
            center, width = torch.load(tile.parent / "centers.pt")[int(tile.stem)]
            want = reference(str(tile), center, width, 8, 1, 2, True)
            for key, value in want.items():
                np.testing.assert_allclose(batch[key][j][k].numpy(), value, atol=2e-6, rtol=0,
                                           err_msg=f"{key} of frame {k} of sample {j}")


def test_without_need_ref_frames_have_zero_references(tmp_path):
    write_videos(tmp_path)
    with dali_sr.build_loader(frames_cfg(tmp_path, need_ref=False, strict=False, num_frames=2)) as loader:
        batch = next(iter(loader))
    assert batch["lq_fullsize_ref"].shape == (14, 2, 4, 8, 8) and not batch["lq_fullsize_ref"].any()
    assert not batch["gt_center"].any()


def test_a_video_shorter_than_num_frames_is_named(tmp_path):
    write_videos(tmp_path)
    with pytest.raises(DatasetError, match="video clipB_ has 3 frame folder\\(s\\), fewer than num_frames 4"):
        dali_sr.build_loader(frames_cfg(tmp_path, num_frames=4))


def test_frames_need_the_same_tiles(tmp_path):
    write_videos(tmp_path)
    (tmp_path / "clipA_000000000001" / "00000003.jpg").unlink()
    with pytest.raises(DatasetError, match="frame folder clipA_000000000001 has 1 tile\\(s\\) but clipA_000000000000 "
                                           "has 2"):
        dali_sr.build_loader(frames_cfg(tmp_path))


def test_a_folder_without_a_frame_counter_is_named(tmp_path):
    write_videos(tmp_path)
    (tmp_path / "clipB_000000000002").rename(tmp_path / "short")
    with pytest.raises(DatasetError, match="folder short has no 12-character frame counter"):
        dali_sr.build_loader(frames_cfg(tmp_path))


def test_num_frames_is_required():
    with pytest.raises(ConfigError, match="MultiFrameDataset needs 'num_frames'"):
        dali_sr.load_config({k: v for k, v in frames_cfg(Path("/data")).items() if k != "num_frames"})
