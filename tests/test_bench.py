"""`dali-sr bench`: the BasicSR-style baseline's crops, the process-tree CPU count, the report, RealESRGANDataset
configs."""
from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import cv2
import lmdb
import numpy as np
import nvidia.dali
import pytest
import torch
import yaml

from dali_sr import build_loader, cli, load_config
from dali_sr.errors import ConfigError
from dali_sr.bench import contenders, proctree, runner, synthetic_configs
from dali_sr.bench.baseline import BasicSRPairedDataset
from dali_sr.datasets.paired.index import build_paired_index
from dali_sr.synthetic.images import make_paired_dataset, natural_image
from test_degraded_loader import gt_lmdb, realesrgan_cfg

SCALE = 4


@pytest.fixture(scope="module")
def nearest_pairs(tmp_path_factory) -> Path:
    """Folders gt/ and lq/ of 6 PNG pairs, GT = LQ upsampled by nearest neighbour (24x20 LQ)."""
    root = tmp_path_factory.mktemp("nearest")
    rng = np.random.default_rng(1)
    for side in ("gt", "lq"):
        (root / side).mkdir()
    for k in range(6):
        lq = natural_image(rng, 24, 20)
        gt = lq.repeat(SCALE, axis=0).repeat(SCALE, axis=1)
        cv2.imwrite(str(root / "lq" / f"{k:04d}.png"), lq)
        cv2.imwrite(str(root / "gt" / f"{k:04d}.png"), gt)
    return root


@pytest.fixture(scope="module")
def lmdb_config(tmp_path_factory) -> Path:
    """A YAML dataset section over 24 LMDB pairs of 96x96 GT / 24x24 LQ."""
    root = tmp_path_factory.mktemp("bench")
    roots = make_paired_dataset(str(root / "data"), n=24, size=96, scale=SCALE)
    path = root / "train.yml"
    path.write_text(f"type: PairedImageDataset\nio_backend: {{type: lmdb}}\n"
                    f"dataroot_gt: {roots['gt_lmdb']}\ndataroot_lq: {roots['lq_lmdb']}\n"
                    f"scale: {SCALE}\ngt_size: 32\nuse_hflip: true\nuse_rot: true\nbatch_size_per_gpu: 4\n")
    return path


def _variants(img: np.ndarray) -> dict[tuple[bool, bool, bool], np.ndarray]:
    """`img` under every (hflip, vflip, transpose) of BasicSR's augment, applied in its order."""
    out = {}
    for h in (False, True):
        for v in (False, True):
            for t in (False, True):
                x = img[:, ::-1] if h else img
                x = x[::-1] if v else x
                out[(h, v, t)] = x.transpose(1, 0, 2) if t else x
    return out


def test_baseline_crop_is_scale_times_the_lq_window(nearest_pairs):
    cfg = load_config({"type": "PairedImageDataset", "dataroot_gt": str(nearest_pairs / "gt"),
                       "dataroot_lq": str(nearest_pairs / "lq"), "scale": SCALE, "gt_size": 32,
                       "use_hflip": True, "use_rot": True})
    index = build_paired_index(cfg)
    dataset = BasicSRPairedDataset(cfg, index)
    random.seed(0)
    seen = set()
    for n in range(48):
        sample = dataset[n % len(dataset)]
        lq, gt = sample["lq"], sample["gt"]
        assert lq.dtype == gt.dtype == torch.float32
        assert lq.shape == (3, 8, 8) and gt.shape == (3, 32, 32)
        assert torch.equal(gt, lq.repeat_interleave(SCALE, 1).repeat_interleave(SCALE, 2))
        # the LQ patch is a window of the RGB source under one of the augment flag sets
        source = cv2.cvtColor(cv2.imread(sample["lq_path"]), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        patch = lq.numpy().transpose(1, 2, 0)
        found = {flags for flags, img in _variants(source).items()
                 for y in range(img.shape[0] - 7) for x in range(img.shape[1] - 7)
                 if np.array_equal(img[y:y + 8, x:x + 8], patch)}
        assert found, f"sample {n}: LQ patch is no window of {sample['lq_path']}"
        seen |= found
        assert sample["gt_path"].endswith(Path(sample["lq_path"]).name)
    assert len(seen) == 8  # every flip / transpose combination occurred
    index.close()


def test_process_tree_cpu_counts_children():
    """A busy child process (as a DataLoader worker) is part of the tree and its CPU time counts."""
    child = subprocess.Popen([sys.executable, "-c", "import time\nt = time.process_time()\n"
                                                    "while time.process_time() - t < 0.6: pass\ntime.sleep(5)"])
    try:
        pids = proctree.tree()
        assert pids[0] != child.pid and child.pid in pids
        before = proctree.cpu_seconds(pids)
        time.sleep(1.0)
        assert proctree.cpu_seconds(pids) - before >= 0.3
        assert proctree.memory_mib(child.pid) > 0
    finally:
        child.kill()
        child.wait()


def test_bench_writes_json_and_table(lmdb_config, tmp_path, capsys):
    out = tmp_path / "bench.json"
    rc = cli.main(["bench", str(lmdb_config), "--runs", "2", "--batches", "2", "--warmup", "1", "--workers", "1",
                   "--rss-epochs", "2", "--set", "num_threads=1", "--json", str(out)])
    assert rc == 0
    assert proctree.tree() == [os.getpid()]  # the DataLoader workers were shut down
    report = json.loads(out.read_text())
    assert report["device"] == "cpu" and report["cpus_usable"] == len(os.sched_getaffinity(0))
    assert (report["versions"]["dali"], report["versions"]["torch"], report["versions"]["cv2"]) == (
        nvidia.dali.__version__, torch.__version__, cv2.__version__)
    assert report["config"]["num_threads"] == 1 and report["config"]["samples"] == 24
    assert report["settings"] == {"workers": 1, "runs": 2, "batches": 2, "warmup": 1, "set": ["num_threads=1"]}
    assert list(report["results"]) == ["dali_sr", "baseline", "decode_only", "decode_dali"]
    for result in report["results"].values():
        runs = result["runs"]
        assert [r["pairs"] for r in runs] == [8, 8]  # 2 batches of 4 per run
        for run in runs:  # each run's rate and cores busy are its own counts over its own time
            assert run["pairs_per_s"] == pytest.approx(run["pairs"] / run["seconds"], rel=1e-3)
            assert run["cores_busy"] == pytest.approx(run["cpu_seconds"] / run["seconds"], rel=0.1, abs=0.02)
        # the contender's figures are the medians of its runs
        assert result["pairs_per_s"] == pytest.approx(statistics.median(r["pairs_per_s"] for r in runs), abs=0.01)
        assert result["cpu_s_per_1000_pairs"] == pytest.approx(
            statistics.median(1000 * r["cpu_seconds"] / r["pairs"] for r in runs), abs=1e-3)
        assert result["latency_ms"]["p50"] <= result["latency_ms"]["p99"]
    rates = {name: r["pairs_per_s"] for name, r in report["results"].items()}
    assert report["ratios"] == pytest.approx({f"dali_sr/{name}": rates["dali_sr"] / rate
                                              for name, rate in rates.items() if name != "dali_sr"}, rel=1e-2)
    assert report["results"]["dali_sr"]["gpu_memory_mib"] is None and report["baseline_note"] is None
    rss = report["peak_rss_mib"]
    assert rss["worker_processes"] == 1 and rss["tree"] == pytest.approx(rss["main"] + rss["workers"], abs=0.2)
    epochs = report["rss_epochs"]
    assert len(epochs["rss_mib"]) == 2 and "gpu_mib" not in epochs
    assert epochs["growth_mib"] == pytest.approx(epochs["rss_mib"][1] - epochs["rss_mib"][0], abs=0.2)
    table = capsys.readouterr().out
    for name, r in report["results"].items():  # a row per contender: its rate, CPU cost, latency and every run
        (row,) = [line.split() for line in table.splitlines() if line.startswith(name + " ")]
        assert row[1:4] == [f"{r['pairs_per_s']:.1f}", f"{r['cpu_s_per_1000_pairs']:.2f}", f"{r['cores_busy']:.2f}"]
        assert row[-2:] == [f"{run['pairs_per_s']:.1f}" for run in r["runs"]]
    assert "   ".join(f"{k}: {v:.2f}x" for k, v in report["ratios"].items()) in table


def test_skip_baseline(lmdb_config, capsys):
    rc = cli.main(["bench", str(lmdb_config), "--runs", "1", "--batches", "1", "--warmup", "1",
                   "--skip-baseline", "--set", "num_threads=1"])
    assert rc == 0
    table = capsys.readouterr().out
    assert "decode_only" in table and "baseline" not in table


def test_synthetic_config_is_the_target_setting(lmdb_config, tmp_path, monkeypatch):
    made = {}

    def fake_dataset(root: str, n: int, size: int) -> dict[str, str]:
        made.update(root=root, n=n)
        data = lmdb_config.parent / "data"
        return {"gt_lmdb": str(data / "gt.lmdb"), "lq_lmdb": str(data / "lq.lmdb")}

    monkeypatch.setenv("DALI_SR_CACHE", str(tmp_path))
    monkeypatch.setattr(synthetic_configs, "make_paired_dataset", fake_dataset)
    args = cli.build_parser().parse_args(["bench", "synthetic", "--synthetic", "32"])
    cfg = runner.resolve_config(args)
    assert made == {"root": str(tmp_path / "bench-32"), "n": 32}
    assert (cfg.io_backend, cfg.scale, cfg.gt_size, cfg.batch_size) == ("lmdb", 4, 128, 16)
    assert cfg.use_hflip and cfg.use_rot and cfg.is_train


def test_codec_packs_the_synthetic_pairs_once(tmp_path, monkeypatch):
    """--codec raw: the PNG pairs are packed into gt_raw.lmdb / lq_raw.lmdb once, holding the same pixels."""
    from dali_sr.storage.codecs import decode

    monkeypatch.setenv("DALI_SR_CACHE", str(tmp_path))
    monkeypatch.setattr(synthetic_configs, "make_paired_dataset",
                        lambda root, n, size: make_paired_dataset(root, n=n, size=64, scale=4))
    args = cli.build_parser().parse_args(["bench", "synthetic", "--synthetic", "3", "--codec", "raw"])
    cfg = runner.resolve_config(args)
    root = tmp_path / "bench-3"
    assert (cfg.dataroot_gt, cfg.dataroot_lq, cfg.name) == (str(root / "gt_raw.lmdb"), str(root / "lq_raw.lmdb"),
                                                            "synthetic-3-raw")
    with lmdb.open(cfg.dataroot_gt, readonly=True, lock=False) as env, env.begin() as txn:
        for key, value in txn.cursor():
            png = cv2.imread(str(root / "gt" / f"{key.decode()}.png"), cv2.IMREAD_UNCHANGED)
            assert np.array_equal(decode(np.frombuffer(value, np.uint8)), png)
    stamp = (root / "gt_raw.lmdb" / "data.mdb").stat().st_mtime_ns
    runner.resolve_config(args)
    assert (root / "gt_raw.lmdb" / "data.mdb").stat().st_mtime_ns == stamp


def test_codec_needs_a_synthetic_config(lmdb_config):
    args = cli.build_parser().parse_args(["bench", str(lmdb_config), "--codec", "raw"])
    with pytest.raises(ConfigError, match="--codec applies only to CONFIG 'synthetic' or 'synthetic-clips'"):
        runner.resolve_config(args)


@pytest.mark.parametrize("argv, words", [
    (["bench", "/nonexistent/train.yml"], "does not exist"),
    (["bench", "synthetic", "--set", "num_threads"], "KEY=VALUE"),
    (["bench", "/nonexistent/train.yml", "--synthetic", "8"], "synthetic"),
])
def test_bad_input_exits_with_one_line(argv, words, capsys):
    assert cli.main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err


def test_decode_dali_pipeline_gives_the_cv2_pixels(tmp_path):
    """The DALI decode-only contender decodes whole images (PNG, JPEG, PPM) to the RGB pixels cv2 reads."""
    import itertools

    from dali_sr.bench.decode_dali import decode_pipeline
    from dali_sr.storage.codecs import encode

    rng = np.random.default_rng(3)
    images = [natural_image(rng, 40 + 8 * k, 56) for k in range(3)]
    encoded = [np.frombuffer(encode(img, codec, f"img{k}"), np.uint8)
               for k, (img, codec) in enumerate(zip(images, ("png", "raw", "png")))]
    pipe = decode_pipeline(itertools.repeat(encoded), len(encoded), num_threads=1, on_gpu=False, device_id=0,
                           hw_decoder_load=0.65, prefetch_queue_depth=2, seed=0)
    (out,) = pipe.run()
    for k, img in enumerate(images):
        assert np.array_equal(np.asarray(out[k]), img[:, :, ::-1])


def test_decode_dali_contender_counts_samples(lmdb_config):
    """decode_dali decodes the GT and LQ of `batch_size` samples per batch, in shuffled epochs."""
    from dali_sr.bench.decode_dali import _flat_batches

    cfg = load_config(str(lmdb_config), device="cpu", num_threads=1)
    with build_loader(cfg) as loader:
        work = contenders.workload(cfg, loader)
        flat = _flat_batches(work.values, len(work.index), 4, seed=0)
        seen = [next(flat) for _ in range(6)]  # one epoch of 24 pairs
        assert all(len(batch) == 8 for batch in seen)
        gts = {bytes(b[k]) for b in seen for k in range(0, 8, 2)}
        assert len(gts) == 24  # every pair's GT exactly once per epoch
        stream = contenders.decode_contenders(cfg, work, workers=1, on_gpu=False)[1].stream
        assert next(stream) == 4
        stream.close()


def test_compare_gt_only_measures_the_same_gt_with_bicubic_lq(lmdb_config, tmp_path):
    out = tmp_path / "bench.json"
    assert cli.main(["bench", str(lmdb_config), "--runs", "2", "--batches", "2", "--warmup", "1", "--workers", "1",
                     "--skip-baseline", "--compare-gt-only", "--set", "num_threads=1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["results"]) == {"dali_sr", "dali_sr_gt_only", "decode_only", "decode_dali"}
    assert [r["pairs"] for r in report["results"]["dali_sr_gt_only"]["runs"]] == [8, 8]
    assert report["ratios"]["dali_sr_gt_only/dali_sr"] == pytest.approx(
        report["results"]["dali_sr_gt_only"]["pairs_per_s"] / report["results"]["dali_sr"]["pairs_per_s"], rel=1e-2)


def test_a_gt_only_config_refuses_the_baseline(lmdb_config, capsys):
    assert cli.main(["bench", str(lmdb_config), "--runs", "1", "--batches", "1", "--set", "dataroot_lq=null"]) == 2
    assert "the BasicSR-style baseline reads stored LQ images, and this config makes its LQ from GT; pass " \
           "--skip-baseline" in capsys.readouterr().err


@pytest.mark.slow
def test_a_realesrgan_config_is_measured_against_decode_only_and_says_where_basicsrs_is(tmp_path, capsys):
    root = gt_lmdb(tmp_path, [(64, 64), (72, 60), (80, 90), (64, 70)])
    config = tmp_path / "resr.yml"
    config.write_text(yaml.safe_dump(realesrgan_cfg(root, num_threads=1, batch_size_per_gpu=2)))
    out = tmp_path / "bench.json"
    assert cli.main(["bench", str(config), "--runs", "1", "--batches", "2", "--warmup", "1", "--workers", "1",
                     "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert list(report["results"]) == ["dali_sr", "decode_only", "decode_dali"]
    assert [r["runs"][0]["pairs"] for r in report["results"].values()] == [4, 4, 4]
    assert "BasicSR's dataset + feed_data is measured by `python -m benchmarks.realesrgan CONFIG`" in \
        report["baseline_note"]
    assert report["baseline_note"] in capsys.readouterr().out
    with build_loader(str(config)) as loader:  # decode-only reads the GT alone: the LQ is made in the graph
        assert [name for _, name in contenders.workload(loader.cfg, loader).values(0)] == ["img000"]
