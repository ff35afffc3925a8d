"""traiNNer-redux's `singlevideodataset` (its video test templates' `datasets: val`): LQ clips alone, every window of
`clip_size` frames of each scene gathered over the folders of `dataroot_lq`, as its `SingleVideoDataset` indexes
them; batches of `lq` (B, T, C, H, W) equal to the frames cv2 reads and `lq_path` of each window's middle frame."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

import dali_sr
from dali_sr import ConfigError, DatasetError, load_config
from test_gpu_graph import IMPLEMENTED, ROI_DECODERS, _schema, _trace_gpu_graph
from test_redux_dialect import _rgb, write

# (folder, scene, frames, (h, w)): scene s1 runs on from folder a into folder b; s2 is shorter than most windows;
# s3 has other frame sizes (odd sides); `.PNG` is read whatever its case, other files are not.
SCENES = [("a", "s1", 6, (11, 13)), ("a", "s2", 3, (11, 13)), ("b", "s1", 2, (11, 13)), ("b", "s3", 5, (7, 9))]


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, str]:
    base = tmp_path_factory.mktemp("single_video")
    rng = np.random.default_rng(11)
    out = {}
    for root, scene, count, (h, w) in SCENES:
        out[root] = str(base / root)
        os.makedirs(out[root], exist_ok=True)
        for k in range(count):
            ext = ".PNG" if (scene, k) == ("s3", 4) else ".png"
            cv2.imwrite(os.path.join(out[root], f"{scene}_{k:04d}{ext}"), rng.integers(0, 256, (h, w, 3), np.uint8))
    Path(out["a"], "s1_notes.txt").write_text("not a frame")
    return out


def redux_windows(roots: list[str], clip_size: int) -> list[list[str]]:
    """traiNNer-redux's `SingleVideoDataset` index: each folder's sorted frame files appended to the list of their
    scene (the name before the first `_`), then every window of `clip_size` frames per scene, in order."""
    scenes: dict[str, list[str]] = {}
    for root in roots:
        for f in sorted(os.listdir(root)):
            if f.lower().endswith((".png", ".jpg", ".jpeg")):
                scenes.setdefault(f.split("_")[0], []).append(os.path.join(root, f))
    return [frames[s:s + clip_size] for frames in scenes.values() for s in range(len(frames) - clip_size + 1)]


def test_template_file(folders):
    """Their test templates' file (TSCUNet.yml, TemporalSPAN.yml) as written, but for the paths."""
    path = write(Path(folders["a"]).parent, textwrap.dedent(f"""\
        name: 4x_TSCUNet
        scale: 4  # 1, 2, 4, 8
        use_amp: true
        amp_bf16: true
        num_gpu: auto
        use_channels_last: false
        datasets:
          val:
            name: Val Dataset
            type: singlevideodataset
            dataroot_lq: [
              {folders['a']},
              {folders['b']}
            ]
            clip_size: 5
            io_backend:
              type: disk
        network_g:
          type: tscunet
        path:
          pretrain_network_g: experiments/4x_TSCUNet/models/net_g_ema_1000.safetensors
        val:
          val_enabled: true
          save_img: true
          tile_size: 0
          tile_overlap: 8
          suffix: ~
          metrics_enabled: false
        """), "TSCUNet.yml")
    cfg = load_config(path, phase="val")
    assert (cfg.type, cfg.options.num_frame, cfg.batch_size, cfg.shuffle) == ("SceneLQClipDataset", 5, 1, False)
    with dali_sr.build_loader(path, phase="val", device="cpu", num_threads=1) as loader:
        batches = list(loader)
    want = redux_windows([folders["a"], folders["b"]], 5)
    assert len(want) == 5 and len(batches) == len(want)  # s1: 8 frames over a and b -> 4 windows; s3 -> 1
    for batch, frames in zip(batches, want):
        assert set(batch) == {"lq", "lq_path"} and batch["lq_path"] == [frames[2]]
        assert batch["lq"].dtype.is_floating_point and batch["lq"].shape[:3] == (1, 5, 3)
        for t, frame in enumerate(frames):
            np.testing.assert_array_equal(batch["lq"][0, t].numpy().transpose(1, 2, 0), _rgb(frame))


@pytest.mark.parametrize("clip_size", [1, 2, 3, 4, 6, 8])
def test_every_window_of_every_length_equals_the_frames(folders, clip_size):
    roots = [folders["a"], folders["b"]]
    section = {"type": "singlevideodataset", "name": "v", "phase": "val", "scale": 2, "dataroot_lq": roots,
               "clip_size": clip_size}
    want = redux_windows(roots, clip_size)
    with dali_sr.build_loader(section, device="cpu", num_threads=1) as loader:
        assert len(loader) == len(want)
        batches = list(loader)
    assert [b["lq_path"] for b in batches] == [[frames[clip_size // 2]] for frames in want]
    for batch, frames in zip(batches, want):
        np.testing.assert_array_equal(batch["lq"][0].numpy(), np.stack([_rgb(f).transpose(2, 0, 1) for f in frames]))


def test_batches_of_several_windows_and_y(folders):
    """One folder (frames of one size): windows batched two by two, the last batch short; `color: y` gives
    BasicSR's Y of each frame."""
    section = {"type": "singlevideodataset", "name": "v", "phase": "val", "scale": 4, "dataroot_lq": folders["a"],
               "clip_size": 3, "batch_size_per_gpu": 2}
    want = redux_windows([folders["a"]], 3)  # s1: 4 windows, s2: 1
    with dali_sr.build_loader(section, device="cpu", num_threads=1) as loader:
        batches = list(loader)
    assert [b["lq"].shape[0] for b in batches] == [2, 2, 1]
    assert [p for b in batches for p in b["lq_path"]] == [frames[1] for frames in want]
    lq = np.concatenate([b["lq"].numpy() for b in batches])
    np.testing.assert_array_equal(lq, np.stack([[_rgb(f).transpose(2, 0, 1) for f in frames] for frames in want]))
    with dali_sr.build_loader({**section, "color": "y"}, device="cpu", num_threads=1) as loader:
        y = next(iter(loader))["lq"].numpy()
    bgr = np.stack([cv2.imread(f).astype(np.float64) / 255 for f in want[0]])
    ref = (bgr @ np.array([24.966, 128.553, 65.481]) + 16.0) / 255.0  # BasicSR's bgr2ycbcr(y_only=True)
    assert y.shape == (2, 3, 1, 11, 13)
    np.testing.assert_allclose(y[0, :, 0], ref.astype(np.float32), rtol=0, atol=1e-6)


def test_mistakes_are_named_in_one_line(folders):
    section = {"type": "singlevideodataset", "name": "v", "phase": "val", "scale": 4,
               "dataroot_lq": [folders["a"], folders["b"]], "clip_size": 3, "batch_size_per_gpu": 2}
    with dali_sr.build_loader(section, device="cpu", num_threads=1) as loader:  # the fourth batch: windows of s2 and s3
        with pytest.raises(DatasetError, match=r"s3_0000.png is 9x7 but .*s2_0000.png is 13x11; the frames of a "
                                               r"window, and of a batch, must have one size"):
            list(loader)
    with pytest.raises(DatasetError, match=r"no scene of .* has 9 frames \(num_frame\)"):
        dali_sr.build_loader({**section, "clip_size": 9}, device="cpu")
    with pytest.raises(ConfigError, match=r"singlevideodataset yields LQ clips without GT.*use it under datasets: "
                                          r"val"):
        load_config({**section, "phase": "train", "lq_size": 4})
    bare = {"type": "SceneLQClipDataset", "name": "v", "phase": "test", "dataroot_lq": folders["a"]}
    with pytest.raises(ConfigError, match="needs 'num_frame'"):
        load_config(bare)
    with pytest.raises(ConfigError, match="remove 'dataroot_gt'"):
        load_config({**bare, "num_frame": 3, "dataroot_gt": folders["b"]})
    with pytest.raises(ConfigError, match="use it in phase val or test"):
        load_config({**bare, "num_frame": 3, "phase": "train"})


def test_gpu_graph_traces_with_a_mixed_decoder_per_frame(folders):
    """The GPU graph, traced on the CPU: each frame decoded whole by the mixed decoder, `lq` leaving on the GPU."""
    section = {"type": "singlevideodataset", "name": "v", "phase": "val", "scale": 4, "dataroot_lq": folders["a"],
               "clip_size": 3, "color": "y", "mean": [0.5], "std": [0.5]}
    loader, source, pipe = _trace_gpu_graph(section)
    try:
        ops = [(op._op.device, _schema(op), op) for op in pipe._ops]
        for device, schema, op in ops:
            assert schema == "ExternalSource" or schema in IMPLEMENTED[device](), (device, schema)
            assert device != "cpu" or all(i.device == "cpu" for i in op.inputs), f"{schema} reads GPU data"
        assert not {s for _, s, _ in ops} & ROI_DECODERS
        assert [(d, s) for d, s, _ in ops if s.startswith("decoders__")] == [("mixed", "decoders__Image")] * 3
        assert [n.device for n in pipe._graph_outputs] == ["gpu", "cpu"]  # lq, idx
    finally:
        loader.close()
