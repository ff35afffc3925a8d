"""`dali-sr bench` on clips: the synthetic REDS dataset, the BasicSR-style REDSDataset baseline,
decode-only, the clips report, and the whole command."""
from __future__ import annotations

import json
import os
import random
import statistics
from pathlib import Path
from typing import Any, Callable, Iterator

import cv2
import numpy as np
import pytest
import torch
import yaml

from conftest import nearest_upsample
from dali_sr import build_loader, cli, load_config
from dali_sr.bench import contenders, proctree, runner, synthetic_configs
from dali_sr.bench.clip_baseline import BasicSRClipDataset, basicsr_window, clip_baseline_batches
from dali_sr.datasets.clips.index import ClipIndex
from dali_sr.config import Config
from dali_sr.storage.lmdb_writer import write_lmdb
from dali_sr.loader import Loader
from dali_sr.synthetic.clips import clip_names, make_clip_dataset

SCALE = 4
CLIPS = ("000", "001", "240")  # a REDS4 validation clip, a training clip, an 'official' validation clip
FRAMES, LQ_HW, PATCH = 8, (24, 20), 8


# -- the synthetic clip dataset ---------------------------------------------------------------
@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> dict[str, str]:
    return make_clip_dataset(str(tmp_path_factory.mktemp("synth")), clips=3, frames=FRAMES, gt_hw=(64, 64),
                             scale=SCALE)


def _pan_step(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """The (dy, dx), each in [-3, 3], with b[y, x] == a[y + dy, x + dx] wherever both exist."""
    h, w = a.shape[:2]
    steps = [(dy, dx) for dy in range(-3, 4) for dx in range(-3, 4)
             if np.array_equal(b[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)],
                               a[max(0, dy):h - max(0, -dy), max(0, dx):w - max(0, -dx)])]
    assert len(steps) == 1, steps
    return steps[0]


def test_synthetic_clips_layout_meta_and_lmdb_keys(synthetic):
    root = Path(synthetic["gt"]).parent
    assert clip_names(3) == ["001", "002", "003"] and "011" not in clip_names(12) and len(clip_names(12)) == 12
    assert Path(synthetic["meta_info_file"]).read_text() == "".join(f"{c} 8 (64,64,3)\n" for c in clip_names(3))
    frames = [f"{f:08d}.png" for f in range(FRAMES)]
    for side in ("gt", "lq"):
        assert sorted(os.listdir(synthetic[side])) == ["001", "002", "003"]
        for clip in clip_names(3):
            assert sorted(os.listdir(Path(synthetic[side], clip))) == frames
        lines = Path(synthetic[f"{side}_lmdb"], "meta_info.txt").read_text().splitlines()
        size = 64 if side == "gt" else 16
        assert lines == [f"{c}/{f:08d}.png ({size},{size},3) 1" for c in clip_names(3) for f in range(FRAMES)]
    assert root.joinpath(".complete").is_file()


def test_synthetic_lq_is_inter_area_of_gt_and_frames_pan(synthetic, loader_of):
    index = loader_of(_clip_config(synthetic["gt_lmdb"], synthetic["lq_lmdb"], synthetic["meta_info_file"], lmdb=True,
                                   num_frame=3)).index
    assert index.clips == clip_names(3) and [index.count(c) for c in range(3)] == [FRAMES] * 3
    for c, clip in enumerate(clip_names(3)):
        gts = [cv2.imread(str(Path(synthetic["gt"], clip, f"{f:08d}.png"))) for f in range(FRAMES)]
        for f, gt in enumerate(gts):
            lq = cv2.imread(str(Path(synthetic["lq"], clip, f"{f:08d}.png")))
            assert np.array_equal(lq, cv2.resize(gt, (16, 16), interpolation=cv2.INTER_AREA))
            # the LMDBs hold the files' bytes under BasicSR's keys
            assert index.gt_keys[c][f] == index.lq_keys[c][f] == f"{clip}/{f:08d}"
            assert index.gt.get(index.gt_keys[c][f]).tobytes() == \
                Path(synthetic["gt"], clip, f"{f:08d}.png").read_bytes()
            assert index.lq.get(index.lq_keys[c][f]).tobytes() == \
                Path(synthetic["lq"], clip, f"{f:08d}.png").read_bytes()
        steps = {_pan_step(a, b) for a, b in zip(gts, gts[1:])}
        assert len(steps) == 1 and (0, 0) not in steps  # one steady, slow pan per clip


def test_synthetic_clips_are_built_once(synthetic):
    root = Path(synthetic["gt"]).parent
    watched = [root / ".complete", root / "gt" / "001" / "00000000.png", root / "gt.lmdb" / "data.mdb"]
    before = [p.stat().st_mtime_ns for p in watched]
    assert make_clip_dataset(str(root), clips=3, frames=FRAMES, gt_hw=(64, 64), scale=SCALE) == synthetic
    assert [p.stat().st_mtime_ns for p in watched] == before


# -- a REDS-layout dataset whose GT is the nearest upsample of its LQ -------------------------------
def _tag(clip: int, frame: int) -> int:
    """The value of every B pixel of LQ frame `frame` of the `clip`-th clip of CLIPS."""
    return 32 * clip + frame


@pytest.fixture(scope="module")
def nn_clips(tmp_path_factory) -> Path:
    """CLIPS of FRAMES random 24x20 LQ frames (B channel = the frame's tag), GT x4 nearest, folders + LMDBs."""
    root = tmp_path_factory.mktemp("nn_clips")
    rng = np.random.default_rng(3)
    items: dict[str, list] = {"gt": [], "lq": []}
    for c, clip in enumerate(CLIPS):
        for f in range(FRAMES):
            lq = rng.integers(0, 256, (*LQ_HW, 3), dtype=np.uint8)
            lq[..., 0] = _tag(c, f)
            for side, img in (("lq", lq), ("gt", nearest_upsample(lq, SCALE))):
                data = cv2.imencode(".png", img)[1].tobytes()
                path = root / side / clip / f"{f:08d}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                items[side].append((f"{clip}/{f:08d}", data, img.shape))
    for side in ("gt", "lq"):
        write_lmdb(str(root / f"{side}.lmdb"), items[side])
    h, w = LQ_HW[0] * SCALE, LQ_HW[1] * SCALE
    (root / "meta.txt").write_text("".join(f"{clip} {FRAMES} ({h},{w},3)\n" for clip in CLIPS))
    return root


def _clip_section(gt: str, lq: str, meta: str, lmdb: bool, **extra) -> dict[str, Any]:
    """A REDSDataset dataset section, CPU, training."""
    return {"type": "REDSDataset", "name": "clips", "scale": SCALE, "gt_size": PATCH * SCALE, "dataroot_gt": gt,
            "dataroot_lq": lq, "meta_info_file": meta, "io_backend": {"type": "lmdb" if lmdb else "disk"},
            "use_hflip": True, "use_rot": True, "batch_size_per_gpu": 4, "device": "cpu", "num_threads": 1, **extra}


def _clip_config(gt: str, lq: str, meta: str, lmdb: bool, **extra) -> Config:
    return load_config(_clip_section(gt, lq, meta, lmdb, **extra))


def _nn_section(root: Path, lmdb: bool = True, **extra) -> dict[str, Any]:
    if lmdb:
        return _clip_section(str(root / "gt.lmdb"), str(root / "lq.lmdb"), str(root / "meta.txt"), True, **extra)
    return _clip_section(str(root / "gt"), str(root / "lq"), str(root / "meta.txt"), False, **extra)


def _nn_config(root: Path, lmdb: bool = True, **extra) -> Config:
    return load_config(_nn_section(root, lmdb, **extra))


@pytest.fixture
def loader_of() -> Iterator[Callable[[Config], Loader]]:
    """Builds loaders (bench's clip index is `loader.index`), closed after the test."""
    loaders: list[Loader] = []

    def build(cfg: Config) -> Loader:
        loaders.append(build_loader(cfg))
        return loaders[-1]

    yield build
    for loader in loaders:
        loader.close()


def _sample_keys(index: ClipIndex) -> list[str]:
    """BasicSR's key of every sample, in sample order."""
    return [index.key(int(c), int(f)) for c, f in zip(index.sample_clip, index.sample_frame)]


def _tags(frames: torch.Tensor) -> list[int]:
    """The tag of each (C, h, w) frame: its constant R channel (B before BGR -> RGB)."""
    out = []
    for frame in frames:
        values = (frame[2] * 255).round().unique()
        assert len(values) == 1
        out.append(int(values[0]))
    return out


def _placements(source: np.ndarray, patch: np.ndarray) -> set[tuple]:
    """Every (hflip, vflip, transpose, top, left) of BasicSR's crop + augment that turns `source` into `patch`."""
    found = set()
    for h in (False, True):
        for v in (False, True):
            img = source[::-1 if v else 1, ::-1 if h else 1]
            for t in (False, True):
                view = img.transpose(1, 0, 2) if t else img
                windows = np.lib.stride_tricks.sliding_window_view(view, patch.shape)[..., 0, :, :, :]
                for top, left in zip(*np.nonzero((windows == patch).all(axis=(-3, -2, -1)))):
                    found.add((h, v, t, int(top), int(left)))
    return found


def _hwc(frame: torch.Tensor) -> np.ndarray:
    """A CHW float [0, 1] tensor as HWC uint8."""
    return (frame.numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)


def _lq_source(root: Path, clip: str, frame: int) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(root / "lq" / clip / f"{frame:08d}.png")), cv2.COLOR_BGR2RGB)


@pytest.mark.parametrize("val_partition, clips", [("REDS4", ("001", "240")), ("official", ("000", "001"))])
def test_baseline_samples_are_the_training_frames(nn_clips, loader_of, val_partition, clips):
    cfg = _nn_config(nn_clips, num_frame=3, val_partition=val_partition)
    index = loader_of(cfg).index
    keys = [f"{c}/{f:08d}" for c in clips for f in range(FRAMES)]
    assert _sample_keys(index) == keys
    dataset = BasicSRClipDataset(cfg, index)
    assert [dataset[i]["key"] for i in range(len(dataset))] == keys


@pytest.mark.parametrize("lmdb", [True, False], ids=["lmdb", "disk"])
def test_baseline_samples_windows_crops_and_flips_as_basicsr(nn_clips, loader_of, lmdb):
    cfg = _nn_config(nn_clips, lmdb, num_frame=3, interval_list=[1, 2, 3], random_reverse=True)
    index = loader_of(cfg).index
    dataset = BasicSRClipDataset(cfg, index)
    keys = _sample_keys(index)
    assert len(dataset) == 2 * FRAMES
    random.seed(0)
    intervals, flags = set(), set()
    for n in range(64):
        sample = dataset[n % len(dataset)]
        lq, gt, key = sample["lq"], sample["gt"], sample["key"]
        assert lq.shape == (3, 3, PATCH, PATCH) and gt.shape == (3, PATCH * SCALE, PATCH * SCALE)
        assert lq.dtype == gt.dtype == torch.float32 and key == keys[n % len(dataset)]
        assert torch.equal(gt, lq[1].repeat_interleave(SCALE, 1).repeat_interleave(SCALE, 2))  # GT: the centre
        clip = key.split("/")[0]
        c = CLIPS.index(clip)
        frames = [t - _tag(c, 0) for t in _tags(lq)]
        assert all(0 <= f < FRAMES for f in frames)  # every frame from the key's clip
        step = frames[1] - frames[0]
        assert frames[2] - frames[1] == step and abs(step) in (1, 2, 3)
        centre, key_frame = frames[1], int(key.split("/")[1])
        assert centre == key_frame or not abs(step) <= key_frame < FRAMES - abs(step)  # redrawn only if it left
        intervals.add(step)
        # one crop window and one flip set for every frame
        common = set.intersection(*(_placements(_lq_source(nn_clips, clip, f), _hwc(lq[t]))
                                    for t, f in enumerate(frames)))
        assert common, f"sample {n}: the frames were not cropped and flipped alike"
        flags |= {placement[:3] for placement in common}
    assert intervals == {-3, -2, -1, 1, 2, 3}  # every interval, both directions
    assert len(flags) == 8


def test_baseline_batches_through_dataloader_workers(nn_clips, loader_of):
    cfg = _nn_config(nn_clips, num_frame=5, interval_list=[1])
    index = loader_of(cfg).index
    keys = _sample_keys(index)
    batches = clip_baseline_batches(cfg, index, workers=1, on_gpu=False)
    for _ in range(5):  # more than one epoch of 4 batches
        batch = next(batches)
        assert batch["lq"].shape == (4, 5, 3, PATCH, PATCH) and batch["gt"].shape == (4, 3, PATCH * SCALE,
                                                                                      PATCH * SCALE)
        assert len(batch["key"]) == 4 and all(k in keys for k in batch["key"])
    batches.close()
    assert proctree.tree() == [os.getpid()]  # the worker was shut down


# -- decode-only --------------------------------------------------------------------------------
def test_decode_only_decodes_the_frames_of_a_sample(nn_clips, loader_of, monkeypatch):
    cfg = _nn_config(nn_clips, num_frame=3, interval_list=[1, 2, 3], random_reverse=True)
    loader = loader_of(cfg)
    index = loader.index
    decoded = []

    def recording_imdecode(buf: np.ndarray, name: str) -> np.ndarray:
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        decoded.append((name, img.shape))
        return img

    monkeypatch.setattr(contenders, "imdecode", recording_imdecode)
    gt_shape, lq_shape = (LQ_HW[0] * SCALE, LQ_HW[1] * SCALE, 3), (*LQ_HW, 3)
    work = contenders.workload(cfg, loader)
    assert work.unit == "clips" and work.index is index
    assert runner.BENCH.baselines["REDSDataset"].batches is clip_baseline_batches
    intervals = set()
    for i in range(len(index)):
        random.seed(i)
        c, centre, frames = basicsr_window(index, i, num_frame=3, interval_list=[1, 2, 3], random_reverse=True)
        random.seed(i)
        decoded.clear()
        contenders.cv2_decode(work, i)
        clip = index.clips[c]
        assert decoded == [(f"{clip}/{f:08d}", lq_shape) for f in frames] + [(f"{clip}/{centre:08d}", gt_shape)]
        assert frames[1] == centre and len(set(np.diff(frames))) == 1
        intervals.add(frames[1] - frames[0])
    assert intervals == {-3, -2, -1, 1, 2, 3}  # the draw reads the config's interval_list and random_reverse
    decoded.clear()
    stream = contenders.decode_samples(work, threads=2, batch_size=4, seed=0)
    assert next(stream) == 4 and len(decoded) >= 4 * 4  # a batch of samples of 3 LQ frames + 1 GT frame
    stream.close()


# -- the report ---------------------------------------------------------------------------------
def test_synthetic_clips_config_is_the_reds_setting(tmp_path, monkeypatch):
    made = {}

    def fake_dataset(root: str, clips: int, frames: int, gt_hw: tuple) -> dict[str, str]:
        made.update(root=root, clips=clips, frames=frames)
        return {"gt_lmdb": "GT", "lq_lmdb": "LQ", "meta_info_file": "META"}

    monkeypatch.setenv("DALI_SR_CACHE", str(tmp_path))
    monkeypatch.setattr(synthetic_configs, "make_clip_dataset", fake_dataset)
    section = synthetic_configs.synthetic_clips(3, "png")
    assert made == {"root": str(tmp_path / "bench-clips-3"), "clips": 3, "frames": 20}
    assert section == {"type": "REDSDataset", "name": "synthetic-clips-3-png", "io_backend": {"type": "lmdb"},
                       "dataroot_gt": "GT", "dataroot_lq": "LQ", "meta_info_file": "META", "scale": 4,
                       "gt_size": 256, "num_frame": 5, "interval_list": [1], "random_reverse": False,
                       "val_partition": "REDS4", "use_hflip": True, "use_rot": True, "batch_size_per_gpu": 16}


def test_clip_report_counts_clips(nn_clips, tmp_path, monkeypatch, capsys):
    """The clips report of a REDSDataset section file: 2 of 3 clips (REDS4 drops 000), intervals 1 and 2."""
    config = tmp_path / "clips.yml"
    config.write_text(yaml.safe_dump(_nn_section(nn_clips, lmdb=False, num_frame=3, interval_list=[1, 2])))
    out = tmp_path / "bench.json"
    assert cli.main(["bench", str(config), "--runs", "2", "--batches", "2", "--warmup", "1", "--workers", "1",
                     "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["unit"] == "clips" and report["config"]["samples"] == 2 * FRAMES
    assert report["config"]["num_frame"] == 3 and report["config"]["interval_list"] == [1, 2]
    assert set(report["results"]) == {"dali_sr", "baseline", "decode_only", "decode_dali"}
    for result in report["results"].values():  # 2 runs of 2 batches of 4 clips; the medians of the runs
        runs = result["runs"]
        assert [r["clips"] for r in runs] == [8, 8]
        assert result["clips_per_s"] == pytest.approx(statistics.median(r["clips"] / r["seconds"] for r in runs),
                                                      rel=1e-3)
        assert result["cpu_s_per_1000_clips"] == pytest.approx(
            statistics.median(1000 * r["cpu_seconds"] / r["clips"] for r in runs), abs=1e-3)
    table = capsys.readouterr().out
    assert "clips/s" in table and "CPU s/1000 clips" in table and "16 clips of 3 LQ frames" in table
    assert proctree.tree() == [os.getpid()]


def test_bench_synthetic_clips_end_to_end(tmp_path, monkeypatch, capsys):
    def tiny_clips(root: str, clips: int, frames: int, gt_hw: tuple) -> dict[str, str]:
        return make_clip_dataset(root, clips=clips, frames=FRAMES, gt_hw=(64, 64), scale=SCALE)

    monkeypatch.setenv("DALI_SR_CACHE", str(tmp_path))
    monkeypatch.setattr(synthetic_configs, "make_clip_dataset", tiny_clips)
    out = tmp_path / "bench.json"
    assert cli.main(["bench", "synthetic-clips", "--synthetic", "3", "--runs", "1", "--batches", "2",
                     "--warmup", "1", "--workers", "1", "--set", "gt_size=32", "--set", "batch_size_per_gpu=4",
                     "--set", "num_threads=1", "--set", "device=cpu", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["unit"] == "clips" and report["config"]["type"] == "REDSDataset"
    assert report["config"]["samples"] == 3 * FRAMES and report["config"]["num_frame"] == 5
    assert set(report["results"]) == {"dali_sr", "baseline", "decode_only", "decode_dali"}
    for result in report["results"].values():
        (run,) = result["runs"]
        assert run["clips"] == 8 and result["clips_per_s"] == pytest.approx(8 / run["seconds"], rel=1e-3)
    assert "clips/s" in capsys.readouterr().out
    assert proctree.tree() == [os.getpid()]
