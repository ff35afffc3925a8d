"""`dali-sr doctor`: it names the stage that bounds a loader (a storage that sleeps in each read, PNGs too large
for their crop, a heavy degradation chain), measures the share of a step spent waiting against the known
delays, stays within its time, and ranks fixes as its model says."""
from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from dali_sr.cli import build_parser, main
from dali_sr.doctor.diagnosis import Stages, bound_by, fixes, iteration_ratio
from dali_sr.doctor.runner import Budget, doctor_report
from dali_sr.doctor.stages import timed
from dali_sr.errors import ConfigError
from dali_sr.storage.backends import DiskStorage
from conftest import clip_cfg, make_nn_clips, make_nn_pairs, paired_cfg

DELAY = 0.01  # seconds each read of a slow storage sleeps


def report(cfg: dict, *options: str) -> dict:
    args = build_parser().parse_args(["doctor", "CONFIG", *options])
    args.config = cfg
    return doctor_report(args)


@pytest.fixture
def slow_reads(monkeypatch):
    """Every read from a folder sleeps DELAY first, as a slow network file system would."""
    get = DiskStorage.get

    def slow(self, key):
        time.sleep(DELAY)
        return get(self, key)

    monkeypatch.setattr(DiskStorage, "get", slow)


@pytest.fixture
def small_pairs(tmp_path):
    return paired_cfg(make_nn_pairs(tmp_path, 2, [(24, 24)] * 16), 2, gt_size=32)


def test_a_slow_storage_is_named_read_and_the_step_waits_for_it(small_pairs, slow_reads, tmp_path, capsys):
    """Without source workers the source reads on the training thread, inside next(loader): a batch of 4 pairs
    waits 8 reads of DELAY (80 ms), beside a step of 40 ms: 80 / (80 + 40) of each iteration waits for data."""
    path = tmp_path / "slow.yml"
    path.write_text(json.dumps(small_pairs))  # YAML reads JSON
    assert main(["doctor", str(path), "--seconds", "3", "--step-ms", "40", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["bound_by"] == "read"
    # two images a sample (LQ, GT), each read sleeping DELAY
    assert 2 * DELAY * 1000 <= r["stages"]["read"]["ms_per_sample"] <= 2 * DELAY * 1000 * 1.5
    assert r["stages"]["decode"]["ms_per_sample"] < r["stages"]["read"]["ms_per_sample"] / 4
    # the loader delivers no faster than its reads allow
    assert r["loader"]["samples_per_s"] <= 1 / (2 * DELAY) * 1.05
    t = r["training"]
    assert 39 <= t["step_ms"] <= 50
    assert 80 <= t["wait_ms"]["p50"] <= 80 * 1.5
    assert 0.6 <= r["wait_fraction"] <= 0.75
    assert r["fixes"][0]["fix"] == "source_workers" and r["fixes"][0]["setting"] == "source_workers: 2"
    assert "warm" not in [f["fix"] for f in r["fixes"]]  # the delay is the same read again: no page cache helps
    assert set(r["config"]["codecs"]) == {"png"}


@pytest.mark.slow
def test_reads_a_cache_would_speed_up_ask_for_warm(tmp_path, monkeypatch):
    """A storage slow on each value's first read only, as a cold page cache is: the second read of the same
    batches is far faster, so pre-loading (`dali-sr warm`) is offered."""
    get, seen = DiskStorage.get, set()

    def cold_once(self, key):
        if key not in seen:
            seen.add(key)
            time.sleep(DELAY)
        return get(self, key)

    monkeypatch.setattr(DiskStorage, "get", cold_once)
    cfg = paired_cfg(make_nn_pairs(tmp_path, 2, [(24, 24)] * 64), 2, gt_size=32)  # 16 batches of first reads
    r = report(cfg, "--seconds", "2")
    assert r["bound_by"] == "read"
    assert r["source"]["page_cache_speedup"] > 3
    warm = {f["fix"]: f for f in r["fixes"]}["warm"]
    assert warm["setting"] == "dali-sr warm CONFIG (or more RAM for the page cache)" and warm["gain"] > 1.5


@pytest.mark.slow
def test_large_pngs_for_a_small_crop_are_named_decode(tmp_path, capsys):
    path = tmp_path / "large.yml"
    path.write_text(json.dumps(paired_cfg(make_nn_pairs(tmp_path, 2, [(448, 448)] * 8), 2, gt_size=8,
                                          batch_size_per_gpu=4)))
    assert main(["doctor", str(path), "--seconds", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dali-sr doctor: nn (PairedImageDataset, disk, 8 samples, batch 4, device cpu, 2 threads")
    assert "\nbound by: decode\n" in out
    ms = {line.split()[0]: float(line.split()[1]) for line in out.splitlines()
          if line.split()[:1] and line.split()[0] in ("read", "decode", "augment", "degrade", "copy")}
    assert ms["decode"] > 2 * max(ms["read"], ms["augment"], ms["degrade"])
    assert "fixes, best first (estimated samples/s):\n  1. dali-sr pack --codec raw: ~" in out
    assert "\n  2. patches_per_image: 4: ~" in out  # each decode shared by 4 windows: second to no decode at all


@pytest.mark.slow
def test_clips_of_large_frames_for_a_small_crop_are_named_decode(tmp_path):
    roots = make_nn_clips(tmp_path, 2, {f"{c:03d}": (5, 320, 320) for c in range(3)})
    r = report(clip_cfg(roots, 2, meta_info_file=roots["meta"], gt_size=8), "--seconds", "2")
    assert r["bound_by"] == "decode" and r["config"]["type"] == "REDSDataset"
    assert set(r["pipelines"]) == {"decode", "graph"}  # no degradation: no third pipeline
    s = {k: v["ms_per_sample"] for k, v in r["stages"].items()}
    # stacking, flipping and outputting 5 frames a clip costs more per sample than a pair does
    assert s["decode"] > 2 * max(s["read"], s["augment"], s["degrade"])


@pytest.mark.slow
def test_a_source_that_decodes_for_patches_per_image_is_named_decode(tmp_path):
    """With patches_per_image the source decodes each image (with OpenCV) for its windows: its time beyond the
    storage reads is decoding, however it comes in bursts (a group of 16 images at a time)."""
    cfg = paired_cfg(make_nn_pairs(tmp_path, 2, [(192, 192)] * 64), 2, gt_size=8, patches_per_image=2)
    r = report(cfg, "--seconds", "3")
    assert r["bound_by"] == "decode"
    assert r["source"]["decode_ms_per_sample"] > r["stages"]["read"]["ms_per_sample"]
    assert r["stages"]["decode"]["ms_per_sample"] >= r["source"]["decode_ms_per_sample"]
    assert r["pipelines"]["decode"]["ms_per_sample"] < r["source"]["decode_ms_per_sample"]  # DALI gets pixels
    assert set(r["config"]["codecs"]) == {"png"}
    assert {f["fix"]: f["setting"] for f in r["fixes"]}.get("patches_per_image") == "patches_per_image: 4"


@pytest.mark.slow
def test_a_fast_loader_beside_a_long_step_waits_little(small_pairs):
    r = report(small_pairs, "--seconds", "2", "--step-ms", "100")
    assert r["wait_fraction"] < 0.2
    assert r["fixes"] == [] or r["fixes"][0]["gain"] < 1.3


def test_a_heavy_degradation_chain_is_named_degrade(tmp_path):
    cfg = paired_cfg(make_nn_pairs(tmp_path, 2, [(32, 32)] * 16), 2, gt_size=64)
    del cfg["dataroot_lq"]
    blur = {"type": "blur", "kernel_size": [21, 21], "kernel_list": ["aniso"], "blur_sigma": [2, 3]}
    cfg["degradation"] = [blur, blur, blur, {"type": "noise"}, {"type": "resize", "to": "lq", "modes": ["bicubic"]}]
    r = report(cfg, "--seconds", "2")
    assert r["bound_by"] == "degrade"
    s = {k: v["ms_per_sample"] for k, v in r["stages"].items()}
    assert s["degrade"] > 4 * max(s["read"], s["decode"], s["augment"])
    assert r["source"]["draws_ms_per_sample"] < s["degrade"] / 2  # mostly the graph's work, not the source's draws


def test_a_built_in_network_as_the_step(small_pairs):
    r = report(small_pairs, "--seconds", "2", "--model", "tinysr")
    t = r["training"]
    assert t["device"] == "cpu" and t["step_ms"] > 0 and t["batches"] >= 2
    assert r["wait_fraction"] == t["wait_fraction"]
    waited = t["wait_ms"]["mean"] / (t["wait_ms"]["mean"] + t["step_ms"])
    assert r["wait_fraction"] == pytest.approx(waited, abs=0.01)


def test_a_type_with_its_own_graph_is_refused(tmp_path):
    from dali_sr.synthetic.images import make_paired_dataset

    roots = make_paired_dataset(str(tmp_path / "d"), n=4, size=64, lmdb=False)
    cfg = {"type": "ImageFolderDataset", "paths": roots["gt"], "scale": 2, "target_size": 16, "batch_size_per_gpu": 2,
           "device": "cpu"}
    with pytest.raises(ConfigError, match="ImageFolderDataset has its own graph"):
        report(cfg, "--seconds", "1")


# -- the model alone ------------------------------------------------------------------------------------------

BASE = Stages(read=0.001, draws=0.0, decode=0.002, augment=0.0005, degrade=0.0, copy=0.0, step=0.0, wait=0.0,
              source_workers=0, num_threads=2, cpus=8, cores_busy=2.0, on_gpu=False, gpu=False, codecs=("png",),
              cached_speedup=1.0)


def test_a_phase_keeps_to_its_share_of_the_time():
    budget = Budget(1.0, ["read", "decode", "loader"])  # shares 0.15, 0.15, 0.2
    assert budget.take("read") == pytest.approx(0.3, abs=0.01)
    time.sleep(0.3)
    assert budget.take("decode") == pytest.approx(0.7 * 0.15 / 0.35, abs=0.03)  # of what is left
    calls = []
    t = time.perf_counter()
    timing = timed(lambda: calls.append(time.sleep(0.01)) or 2, 0.2, warmup=3)
    assert 0.2 <= time.perf_counter() - t <= 0.2 + 0.05
    assert len(calls) == 3 + timing.batches and timing.samples == 2 * timing.batches
    assert timing.per_sample == pytest.approx(0.005, rel=0.2)
    assert len(timed(lambda: 1, 0.0, min_batches=2).each) == 2  # a spent share still times two batches


def test_the_bound_is_the_slowest_stage():
    assert bound_by(BASE) == "decode"
    assert bound_by(replace(BASE, read=0.01)) == "read"
    assert bound_by(replace(BASE, read=0.01, source_workers=8)) == "decode"  # 0.01 / 8 < 0.0025
    assert bound_by(replace(BASE, draws=0.01)) == "degrade"  # the source's time, spent drawing
    assert bound_by(replace(BASE, degrade=0.003)) == "degrade"
    assert bound_by(replace(BASE, augment=0.0021)) == "augment"
    assert bound_by(replace(BASE, copy=0.01)) == "copy"


def test_each_fix_estimate_follows_the_model():
    # decode-bound on 2 of 8 CPUs, 2 cores busy: 4x the threads -> graph 0.0025 / 4 -> the source (0.001) bounds
    st = replace(BASE, read=0.001)
    got = {f["fix"]: f for f in fixes(st, measured=400.0)}
    assert got["num_threads"]["setting"] == "num_threads: 8"
    assert got["num_threads"]["gain"] == pytest.approx(0.0025 / 0.001, abs=0.01)
    assert got["num_threads"]["estimate_samples_per_s"] == pytest.approx(400 * 2.5, abs=0.1)
    assert got["codec_raw"]["gain"] == pytest.approx(0.0025 / 0.001, abs=0.01)  # decode gone: the source bounds
    assert "source_workers" not in got  # the source is not what bounds: 2 workers gain nothing alone
    assert [f["fix"] for f in fixes(st, 400.0)] == sorted(got, key=lambda k: -got[k]["gain"])
    # the page cache: listed with its measured speed-up when reads bound
    warm = {f["fix"]: f for f in fixes(replace(st, read=0.01, cached_speedup=4.0), 100.0)}
    assert warm["warm"]["gain"] == pytest.approx(0.01 / 0.0025, abs=0.01)
    # on a GPU: JPEGs decode there; PNGs stay on the CPU unless repacked (the flips and outputs move either way)
    jpeg = {f["fix"]: f for f in fixes(replace(st, gpu=True, codecs=("jpeg",)), 100.0)}
    assert jpeg["device_gpu"]["setting"] == "device: gpu" and jpeg["device_gpu"]["gain"] == pytest.approx(2.5, abs=0.01)
    assert "codec_htj2k_gpu" not in jpeg
    png = {f["fix"]: f for f in fixes(replace(st, gpu=True), 100.0)}
    assert png["device_gpu"]["gain"] == pytest.approx(0.0025 / 0.002, abs=0.01)  # decode stays, flips move
    assert png["codec_htj2k_gpu"]["setting"] == "dali-sr pack --codec htj2k, and device: gpu"
    assert png["codec_htj2k_gpu"]["gain"] == pytest.approx(2.5, abs=0.01)  # the source then bounds
    assert "device_gpu" not in {f["fix"] for f in fixes(replace(st, gpu=True, on_gpu=True), 100.0)}


def test_patches_per_image_shares_reads_and_decodes():
    st = replace(BASE, read=0.004, decode=0.008, patches_per_image=1)  # the source bounds: 4 ms vs 8.5 ms graph
    got = {f["fix"]: f for f in fixes(st, 100.0)}["patches_per_image"]
    assert got["setting"] == "patches_per_image: 4"
    assert got["gain"] == pytest.approx(0.0085 / max(0.001, 0.002 + 0.0005), abs=0.01)
    assert "patches_per_image" not in {f["fix"] for f in fixes(replace(st, patches_per_image=4), 100.0)}
    assert "patches_per_image" not in {f["fix"] for f in fixes(replace(st, patches_per_image=None), 100.0)}


def test_beside_a_step_the_source_on_the_training_thread_adds_to_it():
    # step 10 ms, source 4 ms on the thread, 1 ms more waiting for the graph (2.5 ms/sample, beside)
    st = replace(BASE, read=0.004, step=0.010, wait=0.005)
    moved = replace(st, source_workers=2)  # the source leaves the thread; 2 ms/sample beside it
    assert iteration_ratio(st, moved) == pytest.approx(0.015 / (0.010 + 0.001 * 0.0025 / 0.0025), rel=1e-6)
    assert fixes(st, 100.0)[0]["fix"] == "source_workers"
    # a slow source and a quick graph: with 2 workers the source (10 ms/sample) moves beside the step (10 ms); the
    # 3 ms the model does not explain stay
    slow = replace(BASE, read=0.020, decode=0.0002, augment=0.0001, step=0.010, wait=0.023)
    best = fixes(slow, 30.0)[0]
    assert best["fix"] == "source_workers" and best["gain"] == pytest.approx(0.033 / (0.010 + 0.003), abs=0.01)
    # a step longer than every stage, nothing waits: no fix gains
    idle = replace(BASE, step=0.05, wait=0.001)
    assert fixes(idle, 20.0) == []


@pytest.mark.gpu
def test_on_a_gpu_the_copy_is_timed_and_the_network_runs_there(small_pairs):
    r = report({**small_pairs, "device": "gpu"}, "--seconds", "3", "--model", "tinysr")
    assert r["config"]["device"] == "gpu" and r["training"]["device"].startswith("cuda")
    assert r["copy"] is not None and r["copy"]["batches"] >= 2 and r["stages"]["copy"]["ms_per_sample"] > 0
    assert r["bound_by"] in ("read", "decode", "augment", "degrade", "copy")
    assert "device_gpu" not in {f["fix"] for f in r["fixes"]}  # already there
