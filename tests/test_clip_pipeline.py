"""Clip pipelines on CPU: frames, windows, sync crops/flips, partitions, test mode, loader behaviour."""
from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

import dali_sr
from dali_sr.datasets.clips.windows import padded
from conftest import clip_cfg, make_nn_clips, nearest_upsample

SCALE = 2


def hwc(x) -> np.ndarray:
    """A CHW float [0, 1] tensor as HWC uint8."""
    return (x.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def tags(lq) -> list[int]:
    """The frame tags (channel R) of a (T, C, h, w) sample."""
    return [int(round(float(f[0, 0, 0]) * 255)) for f in lq]


def basicsr_augment(img: np.ndarray, h: int, v: int, t: int) -> np.ndarray:
    if h:
        img = img[:, ::-1]
    if v:
        img = img[::-1]
    return img.transpose(1, 0, 2) if t else img


def original(root: str, clip: str, name: str) -> np.ndarray:
    return cv2.imread(str(Path(root) / clip / name))[:, :, ::-1]  # RGB


def windows_of(frame: np.ndarray, crop: np.ndarray) -> list[tuple]:
    """Every (top, left, hflip, vflip, transpose) that turns `frame` into `crop`."""
    p = crop.shape[0]
    return [(top, left, *flags) for top in range(frame.shape[0] - p + 1) for left in range(frame.shape[1] - p + 1)
            for flags in itertools.product((0, 1), repeat=3)
            if np.array_equal(basicsr_augment(frame[top:top + p, left:left + p], *flags), crop)]


CLIPS = {"001": (9, 8, 10), "002": (7, 8, 10), "003": (12, 8, 10)}
CLIP_NO = {name: k for k, name in enumerate(CLIPS)}


@pytest.fixture(scope="module")
def reds(tmp_path_factory):
    return make_nn_clips(tmp_path_factory.mktemp("reds"), SCALE, CLIPS, lmdb=True)


def epoch(cfg: dict, epoch_no: int = 0, **kw) -> list[dict]:
    with dali_sr.build_loader(cfg, **kw) as loader:
        loader.set_epoch(epoch_no)
        return list(loader)


def samples(batches: list[dict]):
    for b in batches:
        for k in range(len(b["lq"])):
            yield {name: (v[k] if hasattr(v, "__getitem__") else v) for name, v in b.items()}


# -- synchronised crops and flips, every frame -----------------------------------------------------
@pytest.mark.parametrize("kind", ["REDSDataset", "REDSRecurrentDataset"])
def test_every_frame_shares_one_window_and_flips_and_gt_is_exact(reds, kind):
    cfg = clip_cfg(reds, SCALE, kind, num_frame=3, interval_list=[1, 2], random_reverse=True)
    seen_flags = set()
    for s in samples(epoch(cfg)):
        clip = s["key"].split("/")[0]
        frames = [t - 40 * CLIP_NO[clip] for t in tags(s["lq"])]
        crops = [hwc(f) for f in s["lq"]]
        found = windows_of(original(reds["lq"], clip, f"{frames[0]:08d}.png"), crops[0])
        assert len(found) == 1, found
        top, left, *flags = found[0]
        seen_flags.add(tuple(flags))
        for f, crop in zip(frames, crops):
            ref = original(reds["lq"], clip, f"{f:08d}.png")[top:top + 4, left:left + 4]
            assert np.array_equal(basicsr_augment(ref, *flags), crop)
        gts = s["gt"] if kind == "REDSRecurrentDataset" else s["gt"][None]
        lq_for_gt = crops if kind == "REDSRecurrentDataset" else [crops[len(crops) // 2]]
        assert len(gts) == len(lq_for_gt)
        for gt, lq in zip(gts, lq_for_gt):
            assert np.array_equal(hwc(gt), nearest_upsample(lq, SCALE))
    assert len(seen_flags) > 4  # the flags vary between samples


# -- which frames ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["REDSDataset", "REDSRecurrentDataset", "VideoClipDataset"])
def test_frames_are_interval_apart_inside_their_clip_and_key_is_the_real_key_frame(reds, kind):
    cfg = clip_cfg(reds, SCALE, kind, num_frame=3, interval_list=[1, 2, 3], random_reverse=True)
    intervals, reversed_, n = set(), 0, 0
    for e in range(3):
        for s in samples(epoch(cfg, e)):
            clip, stem = s["key"].split("/")
            t = tags(s["lq"])
            frames = [x - 40 * CLIP_NO[clip] for x in t]
            assert all(0 <= f < CLIPS[clip][0] for f in frames), (clip, frames)
            steps = set(np.diff(frames).tolist())
            assert len(steps) == 1 and abs(steps.pop()) in (1, 2, 3)
            intervals.add(abs(frames[1] - frames[0]))
            reversed_ += frames[1] < frames[0]
            n += 1
            key_frame = sorted(frames)[0] if kind == "REDSRecurrentDataset" else frames[1]
            assert int(stem) == key_frame
    assert intervals == {1, 2, 3}
    assert 0 < reversed_ < n


def test_centre_frames_that_do_not_fit_are_redrawn_among_those_that_fit(reds):
    cfg = clip_cfg(reds, SCALE, num_frame=3, interval_list=[3], batch_size_per_gpu=1)
    fits = {"001": range(3, 6), "002": range(3, 4), "003": range(3, 9)}  # centres 3 frames from both ends
    seen = set()
    with dali_sr.build_loader(cfg) as loader:
        for e in range(4):
            loader.set_epoch(e)
            plan = loader.sampling.plan(e)
            for i, b in zip(plan.indices, loader):
                clip, stem = b["key"][0].split("/")
                assert clip == loader.index.clips[loader.index.sample_clip[i]]
                drawn = int(loader.index.sample_frame[i])
                assert int(stem) == drawn if drawn in fits[clip] else int(stem) in fits[clip]
                seen.add((clip, int(stem)))
    assert seen == {(c, f) for c, r in fits.items() for f in r}


def test_vimeo_neighbours_gt_im4_and_clip_keys(tmp_path):
    stem = lambda i: f"im{i + 1}"  # noqa: E731
    roots = make_nn_clips(tmp_path, SCALE, {"00001/0001": (7, 8, 10), "00001/0002": (7, 8, 10)}, lmdb=True, stem=stem)
    for side in ("gt",):  # Vimeo GT holds only im4 (BasicSR's Vimeo GT LMDB likewise)
        for clip in ("00001/0001", "00001/0002"):
            for i in (1, 2, 3, 5, 6, 7):
                (Path(roots[side]) / clip / f"im{i}.png").unlink()
    cfg = clip_cfg(roots, SCALE, "Vimeo90KDataset", num_frame=5, batch_size_per_gpu=2)
    for s in samples(epoch(cfg)):
        clip_no = ["00001/0001", "00001/0002"].index(s["key"])
        assert [t - 40 * clip_no for t in tags(s["lq"])] == [1, 2, 3, 4, 5]  # im2..im6
        assert np.array_equal(hwc(s["gt"]), nearest_upsample(hwc(s["lq"][2]), SCALE))


def test_vimeo_reverse_is_an_independent_draw_per_sample(tmp_path):
    clips = {f"00001/{k:04d}": (7, 8, 10) for k in range(1, 7)}
    roots = make_nn_clips(tmp_path, SCALE, clips, stem=lambda i: f"im{i + 1}")
    cfg = clip_cfg(roots, SCALE, "Vimeo90KDataset", num_frame=3, random_reverse=True, batch_size_per_gpu=2)
    with dali_sr.build_loader(cfg) as loader:
        for e in range(4):
            loader.set_epoch(e)
            got = [tags(s["lq"])[0] % 40 == 4 for s in samples(list(loader))]  # first frame im5: reversed
            plan = loader.sampling.plan(e)
            assert got == (plan.clip_draws[: len(got), 2] < 0.5).tolist()


def test_vimeo_recurrent_gt_every_frame_and_flip_sequence(tmp_path):
    roots = make_nn_clips(tmp_path, SCALE, {"00001/0001": (7, 8, 10)}, stem=lambda i: f"im{i + 1}")
    cfg = clip_cfg(roots, SCALE, "Vimeo90KRecurrentDataset", flip_sequence=True, batch_size_per_gpu=1)
    (s,) = samples(epoch(cfg))
    assert s["lq"].shape == (14, 3, 4, 4) and s["gt"].shape == (14, 3, 8, 8)
    assert tags(s["lq"]) == [0, 1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1, 0]
    for lq, gt in zip(s["lq"], s["gt"]):
        assert np.array_equal(hwc(gt), nearest_upsample(hwc(lq), SCALE))
    assert s["key"] == "00001/0001"


# -- partitions ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def partitioned(tmp_path_factory):
    clips = {name: (5, 8, 10) for name in ("000", "001", "011", "240")}
    return make_nn_clips(tmp_path_factory.mktemp("part"), SCALE, clips)


@pytest.mark.parametrize("partition, train_clips, val_clips", [
    ("REDS4", {"001", "240"}, {"000", "011"}),
    ("official", {"000", "001", "011"}, {"240"}),
])
def test_val_partitions(partitioned, partition, train_clips, val_clips):
    train = clip_cfg(partitioned, SCALE, val_partition=partition, meta_info_file=partitioned["meta"])
    assert {s["key"].split("/")[0] for s in samples(epoch(train))} == train_clips
    val = clip_cfg(partitioned, SCALE, val_partition=partition, phase="val")
    assert {s["folder"] for s in samples(epoch(val))} == val_clips
    recurrent_test = clip_cfg(partitioned, SCALE, "REDSRecurrentDataset", val_partition=partition, test_mode=True)
    assert {s["key"].split("/")[0] for s in samples(epoch(recurrent_test))} == val_clips


# -- storage: disk and LMDB agree; old EDVR keys ---------------------------------------------------
@pytest.mark.parametrize("kind", ["REDSDataset", "REDSRecurrentDataset"])
def test_disk_and_lmdb_give_identical_batches(reds, kind):
    disk = epoch(clip_cfg(reds, SCALE, kind, random_reverse=True, interval_list=[1, 2], meta_info_file=reds["meta"]))
    lmdb = epoch(clip_cfg(reds, SCALE, kind, lmdb=True, random_reverse=True, interval_list=[1, 2]))
    assert len(disk) == len(lmdb) > 0
    for a, b in zip(disk, lmdb):
        assert a["key"] == b["key"]
        assert a["lq"].equal(b["lq"]) and a["gt"].equal(b["gt"])


def test_old_edvr_raw_lmdb_with_underscore_keys(tmp_path):
    from test_storage import write_edvr_lmdb

    rng = np.random.default_rng(3)
    lq = {f"001_{i:08d}": rng.integers(0, 256, (8, 10, 3), dtype=np.uint8) for i in range(4)}
    gt = {k: nearest_upsample(v, SCALE) for k, v in lq.items()}
    write_edvr_lmdb(tmp_path / "lq.lmdb", lq, "REDS_LQ")
    write_edvr_lmdb(tmp_path / "gt.lmdb", gt, "REDS_GT")
    cfg = clip_cfg({"gt_lmdb": str(tmp_path / "gt.lmdb"), "lq_lmdb": str(tmp_path / "lq.lmdb")}, SCALE,
                   lmdb=True, num_frame=3, use_hflip=False, use_rot=False, batch_size_per_gpu=1)
    for s in samples(epoch(cfg)):
        clip, frame = s["key"].split("_")
        assert clip == "001" and 1 <= int(frame) <= 2
        for k, out in zip(range(int(frame) - 1, int(frame) + 2), s["lq"]):
            crop = hwc(out)
            assert windows_of(lq[f"001_{k:08d}"][:, :, ::-1], crop)  # a crop of the right frame
        assert np.array_equal(hwc(s["gt"]), nearest_upsample(hwc(s["lq"][1]), SCALE))


# -- validation / test: padding, names, whole frames -----------------------------------------------
# Windows of a 7-frame clip, num_frame 5, worked out by hand from BasicSR's generate_frame_indices rules.
HAND_WINDOWS = {
    "replicate": {0: [0, 0, 0, 1, 2], 1: [0, 0, 1, 2, 3], 5: [3, 4, 5, 6, 6], 6: [4, 5, 6, 6, 6]},
    "reflection": {0: [2, 1, 0, 1, 2], 1: [1, 0, 1, 2, 3], 5: [3, 4, 5, 6, 5], 6: [4, 5, 6, 5, 4]},
    "reflection_circle": {0: [4, 3, 0, 1, 2], 1: [4, 0, 1, 2, 3], 5: [3, 4, 5, 6, 2], 6: [4, 5, 6, 3, 2]},
    "circle": {0: [3, 4, 0, 1, 2], 1: [4, 0, 1, 2, 3], 5: [3, 4, 5, 6, 2], 6: [4, 5, 6, 2, 3]},
}


@pytest.mark.parametrize("padding", list(HAND_WINDOWS))
def test_padding_rule_matches_hand_worked_windows(padding):
    for f in range(7):
        want = HAND_WINDOWS[padding].get(f, list(range(f - 2, f + 3)))
        assert padded(f, 7, 5, padding) == want


@pytest.mark.parametrize("padding", list(HAND_WINDOWS))
def test_video_test_dataset_reads_every_frame_in_order_with_padding(tmp_path, padding):
    roots = make_nn_clips(tmp_path, SCALE, {"calendar": (7, 8, 10), "city": (6, 6, 8)})
    cfg = clip_cfg(roots, SCALE, "VideoTestDataset", num_frame=5, padding=padding, phase="val")
    got = list(samples(epoch(cfg)))
    assert [(s["folder"], s["idx"]) for s in got] == [("calendar", f"{i}/7") for i in range(7)] + \
        [("city", f"{i}/6") for i in range(6)]
    for s in got:
        f, count = (int(x) for x in s["idx"].split("/"))
        clip_no = ["calendar", "city"].index(s["folder"])
        want = HAND_WINDOWS[padding].get(f, list(range(f - 2, f + 3))) if count == 7 else padded(f, 6, 5, padding)
        assert [t - 40 * clip_no for t in tags(s["lq"])] == want
        assert s["border"] == int(f < 2 or f >= count - 2)
        assert s["lq"].shape[-2:] == (8, 10) if count == 7 else (6, 8)  # whole frames
        assert np.array_equal(hwc(s["gt"]), nearest_upsample(hwc(s["lq"][2]), SCALE))
        assert s["lq_path"] == str(Path(roots["lq"], s["folder"], f"{f:08d}.png"))


@pytest.mark.parametrize("kind, folders", [("REDSRecurrentDataset", ["000", "011"]),  # the REDS4 partition
                                           ("VideoRecurrentTestDataset", ["000", "001", "011", "240"])])
def test_recurrent_validation_yields_whole_clips(partitioned, kind, folders):
    cfg = clip_cfg(partitioned, SCALE, kind, phase="val")
    got = epoch(cfg)
    assert [b["folder"] for b in got] == [[f] for f in folders]
    for b in got:
        assert b["lq"].shape == (1, 5, 3, 8, 10) and b["gt"].shape == (1, 5, 3, 16, 20)
        assert [t % 40 for t in tags(b["lq"][0])] == [0, 1, 2, 3, 4]


# -- generic clip folders --------------------------------------------------------------------------
def test_video_clip_dataset_discovers_naming_lengths_and_jpeg_same_resolution(tmp_path):
    roots = make_nn_clips(tmp_path, 1, {"walk": (12, 8, 10), "bike": (5, 8, 10)}, ext=".jpg",
                          stem=lambda i: f"frame_{i + 1}")
    (Path(roots["lq"]) / "walk" / "notes.txt").write_text("not a frame")
    cfg = clip_cfg(roots, 1, "VideoClipDataset", num_frame=3, gt_size=4, batch_size_per_gpu=1,
                   use_hflip=False, use_rot=False)
    keys = {s["key"] for s in samples(epoch(cfg))}
    assert len(keys) > 1 and all(k.split("/")[1].startswith("frame_") for k in keys)
    with dali_sr.build_loader(cfg) as loader:
        assert len(loader) == 17  # every frame of both clips is a sample
        assert loader.index.stems[1][:3] == ["frame_1", "frame_2", "frame_3"]  # natural order, not frame_10
        assert loader.index.stems[1][-1] == "frame_12"


def test_frame_tmpl_selects_and_orders_frames(tmp_path):
    roots = make_nn_clips(tmp_path, SCALE, {"a": (11, 8, 10)}, stem=lambda i: f"{i:d}")
    for side in ("lq", "gt"):
        cv2.imwrite(str(Path(roots[side]) / "a" / "cover.png"), np.zeros((8, 8, 3), np.uint8))
    cfg = clip_cfg(roots, SCALE, "VideoClipDataset", frame_tmpl="{}.png", gt_frames="all", num_frame=4)
    with dali_sr.build_loader(cfg) as loader:
        assert loader.index.stems[0] == [str(i) for i in range(11)]
        for s in samples(list(loader)):
            t = tags(s["lq"])
            assert s["gt"].shape == (4, 3, 8, 8) and np.diff(t).tolist() == [1, 1, 1]


def test_frame_tmpl_matches_whole_names_and_gt_may_differ_in_format(tmp_path):
    roots = make_nn_clips(tmp_path, SCALE, {"a": (6, 8, 10)}, stem=lambda i: f"{i:05d}", ext=".jpg")
    gt = Path(roots["gt"]) / "a"
    for path in sorted(gt.iterdir()):  # deblurring layouts: JPEG input, PNG ground truth
        cv2.imwrite(str(path.with_suffix(".png")), cv2.imread(str(path)))
        path.unlink()
    for side in ("lq", "gt"):  # not frames: the template must match the whole name
        for i in range(6):
            cv2.imwrite(str(Path(roots[side]) / "a" / f"mask_{i:05d}.jpg"), np.zeros((8, 8, 3), np.uint8))
    cfg = clip_cfg(roots, SCALE, "VideoClipDataset", frame_tmpl="{:05d}.jpg", gt_frames="all", num_frame=3)
    with dali_sr.build_loader(cfg) as loader:
        assert loader.index.stems[0] == [f"{i:05d}" for i in range(6)]
        assert loader.index.gt_keys[0] == [f"a/{i:05d}.png" for i in range(6)]
        batch = next(iter(loader))
    assert batch["gt"].shape[1] == 3


def test_hidden_files_and_folders_are_not_frames_or_clips(tmp_path):
    roots = make_nn_clips(tmp_path, SCALE, {"a": (6, 8, 10)})
    for side in ("lq", "gt"):
        (Path(roots[side]) / "a" / "._00000003.png").write_bytes(b"\0\5\26\7 macOS resource fork")
        (Path(roots[side]) / ".ipynb_checkpoints").mkdir()
    with dali_sr.build_loader(clip_cfg(roots, SCALE, "VideoClipDataset", gt_frames="all")) as loader:
        assert loader.index.clips == ["a"] and len(loader.index.stems[0]) == 6
        assert len(list(loader)) == 2


def test_frames_numbered_with_a_step_are_a_complete_clip(tmp_path):
    roots = make_nn_clips(tmp_path, SCALE, {"a": (6, 8, 10)}, stem=lambda i: f"{10 * i:05d}")
    with dali_sr.build_loader(clip_cfg(roots, SCALE, "VideoClipDataset", gt_frames="all")) as loader:
        assert loader.index.stems[0] == [f"{10 * i:05d}" for i in range(6)]


def test_one_column_clip_meta_files_list_the_clips(tmp_path):
    roots = make_nn_clips(tmp_path, SCALE, {"a": (6, 8, 10), "b": (5, 8, 10), "c": (5, 8, 10)})
    Path(roots["meta"]).write_text("c\na\n")  # VideoTestDataset / Vimeo90K read only the first column
    with dali_sr.build_loader(clip_cfg(roots, SCALE, "VideoClipDataset", meta_info_file=roots["meta"])) as loader:
        assert loader.index.clips == ["c", "a"]


def test_reds_dataset_ignores_test_mode_as_basicsr(partitioned):
    for kind, trained in (("REDSDataset", False), ("REDSRecurrentDataset", True)):
        with dali_sr.build_loader(clip_cfg(partitioned, SCALE, kind, test_mode=True, batch_size_per_gpu=1)) as loader:
            assert set(loader.index.clips) <= {"000", "011", "015", "020"} if trained else \
                not set(loader.index.clips) & {"000", "011", "015", "020"}


def test_color_y_on_frames(reds):
    s = next(samples(epoch(clip_cfg(reds, SCALE, color="y"))))
    assert s["lq"].shape == (3, 1, 4, 4) and s["gt"].shape == (1, 8, 8)


# -- loader behaviour ------------------------------------------------------------------------------
def test_determinism_epochs_len_and_enlarge_ratio(reds):
    cfg = clip_cfg(reds, SCALE, random_reverse=True, interval_list=[1, 2])
    a, b = epoch(cfg, 1), epoch(cfg, 1)
    assert [x["key"] for x in a] == [x["key"] for x in b]
    assert all(x["lq"].equal(y["lq"]) for x, y in zip(a, b))
    assert [x["key"] for x in epoch(cfg, 2)] != [x["key"] for x in a]
    with dali_sr.build_loader(cfg) as loader:
        assert len(loader) == 28 // 3 == len(a)
    with dali_sr.build_loader({**cfg, "dataset_enlarge_ratio": 2}) as loader:
        assert len(loader) == 56 // 3


def test_shards_are_disjoint_and_equal(reds):
    cfg = clip_cfg(reds, SCALE, batch_size_per_gpu=2)
    keys = [[k for b in epoch(cfg, rank=r, world_size=2) for k in b["key"]] for r in range(2)]
    assert len(keys[0]) == len(keys[1]) == 14
    with dali_sr.build_loader(cfg, rank=0, world_size=2) as loader:
        plans = [loader.sampling.plan(0).indices]
    with dali_sr.build_loader(cfg, rank=1, world_size=2) as loader:
        plans.append(loader.sampling.plan(0).indices)
    assert not set(plans[0]) & set(plans[1]) and len(set(plans[0]) | set(plans[1])) == 28


def test_resume_mid_epoch_gives_the_same_next_batches(reds):
    cfg = clip_cfg(reds, SCALE, "REDSRecurrentDataset", random_reverse=True)
    full = epoch(cfg, 1)
    with dali_sr.build_loader(cfg) as loader:
        loader.set_epoch(1)
        it = iter(loader)
        next(it)
        next(it)
        state = loader.state_dict()
    with dali_sr.build_loader(cfg) as loader:
        loader.load_state_dict(state)
        rest = list(loader)
    assert [b["key"] for b in rest] == [b["key"] for b in full[2:]]
    assert all(x["gt"].equal(y["gt"]) for x, y in zip(rest, full[2:]))


@pytest.mark.parametrize("kind", ["Vimeo90KDataset", "Vimeo90KRecurrentDataset"])
def test_vimeo_disk_and_lmdb_keys_give_identical_batches(tmp_path, kind):
    clips = {f"00001/{k:04d}": (7, 8, 10) for k in range(1, 4)}
    roots = make_nn_clips(tmp_path, SCALE, clips, lmdb=True, stem=lambda i: f"im{i + 1}")
    opts = {"random_reverse": True, "batch_size_per_gpu": 1}
    disk, lmdb = epoch(clip_cfg(roots, SCALE, kind, **opts)), epoch(clip_cfg(roots, SCALE, kind, lmdb=True, **opts))
    assert [b["key"] for b in disk] == [b["key"] for b in lmdb] and len(disk) == 3
    assert all(a["lq"].equal(b["lq"]) and a["gt"].equal(b["gt"]) for a, b in zip(disk, lmdb))
