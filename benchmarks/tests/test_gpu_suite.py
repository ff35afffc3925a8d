"""`python -m benchmarks.gpu_suite`: steps chosen by the budget, exactly; the CPU-side steps against independent
references; the measuring steps' settings are those of the commands they run."""
from __future__ import annotations

import argparse
import json
import os
import textwrap
import xml.etree.ElementTree as ElementTree
from dataclasses import replace

import cv2
import lmdb
import numpy as np
import nvidia.dali
import pytest
import torch

from benchmarks import gpu_suite, matrix, realesrgan, train_demo
from dali_sr.storage.codecs import decode

STEPS = ["environment", "datasets", "gpu_tests", "pairs-jpeg", "pairs-png", "pairs-htj2k", "pairs-jpeg2000",
         "pairs-raw", "realesrgan", "roi_probe", "clips-png", "clips-jpeg", "gpu_memory", "train", "train-realesrnet"]
TINY = gpu_suite.SIZES["tiny"]


class Clock:
    """A monotonic clock that moves only when a step says how long it took."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def spend(self, seconds: float, result=None):
        self.now += seconds
        return result


def _args(tmp_path, budget_min: float) -> argparse.Namespace:
    return gpu_suite.parser().parse_args(["--device", "cpu", "--size", "tiny", "--out", str(tmp_path), "--name", "s",
                                          "--budget-min", str(budget_min)])


def _fake_steps(monkeypatch, clock: Clock, tmp_path) -> dict[str, list]:
    """Every step replaced by one that takes a set time on `clock`; the throughput groups fail. Returns what each
    step saw of the JSON file when it started."""
    seen: dict[str, list] = {}

    def step(name: str, seconds: float, result=None, error: str = ""):
        def run(*args, **kwargs):
            seen[name] = [s["name"] for s in json.loads((tmp_path / "s.json").read_text())["steps"]]
            clock.spend(seconds)
            if error:
                raise RuntimeError(error)
            return result
        return run

    env = {"on_gpu": False, "device": "cpu", "versions": {"dali": "2.4"}, "date": "d", "cpu_cores": 2,
           "hardware_jpeg_decoder": "not in use: no GPU"}
    monkeypatch.setattr(gpu_suite, "environment", lambda device: clock.spend(2, env))
    monkeypatch.setattr(gpu_suite, "build_datasets", step("datasets", 3, {"seconds": {}, "total_s": 3.0}))
    monkeypatch.setattr(gpu_suite, "gpu_tests", step("gpu_tests", 25, {"tests": 4, "passed": 0, "skipped": 4}))
    monkeypatch.setattr(gpu_suite, "throughput_group", step("group", 5, error="no GPU\nsecond line"))
    for name in ("realesrgan", "roi_probe", "gpu_memory", "train", "train_realesrnet"):
        monkeypatch.setattr(gpu_suite, name, step(name, 1, error="not reached"))
    return seen


def test_steps_run_while_their_time_is_left_and_the_rest_are_skipped(tmp_path, monkeypatch, capsys):
    clock = Clock()
    seen = _fake_steps(monkeypatch, clock, tmp_path)
    # 60 s: environment 2 + datasets 3 -> 55 left, gpu_tests (needs 30) 25 -> 30; the pairs groups (need 10) take
    # 5 each: 25, 20, 15, 10, and pairs-raw still runs with 10 left (10 >= 10); realesrgan then finds 5 < 10
    assert gpu_suite.run(_args(tmp_path, 1), clock) == 1  # the groups failed
    report = json.loads((tmp_path / "s.json").read_text())
    assert [s["name"] for s in report["steps"]] == STEPS[:8] and report["skipped"] == STEPS[8:]
    assert [s["seconds"] for s in report["steps"]] == [2, 3, 25, 5, 5, 5, 5, 5] and report["elapsed_s"] == 55
    groups = report["steps"][3:]
    assert {(s["status"], s["error"]) for s in groups} == {("failed", "RuntimeError: no GPU")}  # its first line
    assert seen["datasets"] == ["environment"] and seen["gpu_tests"] == ["environment", "datasets"]
    assert seen["group"] == STEPS[:7]  # the files are rewritten after every step: a stopped run keeps them
    md = (tmp_path / "s.md").read_text()
    assert "| pairs-raw | failed | 5.0 | RuntimeError: no GPU |" in md
    assert all(f"| {name} | skipped: budget spent | — | |" in md for name in STEPS[8:])
    assert not (tmp_path / "s.png").exists()  # no throughput group was measured
    assert "8 steps run, 5 failed (pairs-jpeg, pairs-png, pairs-htj2k, pairs-jpeg2000, pairs-raw), 7 skipped" in \
        capsys.readouterr().out


def test_a_short_budget_runs_only_the_steps_that_need_no_time(tmp_path, monkeypatch, capsys):
    clock = Clock()
    _fake_steps(monkeypatch, clock, tmp_path)
    assert gpu_suite.run(_args(tmp_path, 0.1), clock) == 0  # 6 s: 4 left after the environment, 1 after the datasets
    report = json.loads((tmp_path / "s.json").read_text())
    assert [s["name"] for s in report["steps"]] == ["environment", "datasets"] and report["skipped"] == STEPS[2:]
    assert "| datasets | ok | 3.0 | built or found in 3.0 s |" in (tmp_path / "s.md").read_text()
    assert "2 steps run, 0 failed, 13 skipped" in capsys.readouterr().out


def test_the_environment_step_reports_what_is_imported_on_this_machine():
    env = gpu_suite.environment("cpu")
    assert (env["on_gpu"], env["device"], env["hardware_jpeg_decoder"]) == (False, "cpu", "not in use: no GPU")
    assert (env["versions"]["dali"], env["versions"]["torch"], env["versions"]["torch_cuda"]) == (
        nvidia.dali.__version__, torch.__version__, torch.version.cuda)
    assert env["cpu_cores"] == len(os.sched_getaffinity(0))
    assert env["command"].startswith("python -m benchmarks.gpu_suite")


def _lmdb_images(path: str) -> dict[str, np.ndarray]:
    with lmdb.open(path, readonly=True, lock=False) as env, env.begin() as txn:
        return {key.decode(): decode(np.frombuffer(value, np.uint8)) for key, value in txn.cursor()}


def test_the_datasets_step_stores_the_same_pixels_in_every_codec(tmp_path, monkeypatch):
    monkeypatch.setenv("DALI_SR_CACHE", str(tmp_path))
    result = gpu_suite.build_datasets(TINY)
    assert list(result["seconds"]) == [f"pairs-{c}" for c in gpu_suite.PAIR_CODECS] + [
        f"clips-{c}" for c in gpu_suite.CLIP_CODECS]
    assert result["total_s"] == pytest.approx(sum(result["seconds"].values()), abs=0.02)
    for kind, root in (("pairs", tmp_path / f"bench-{TINY.pairs}-{TINY.side}px"),
                       ("clips", tmp_path / f"bench-clips-{TINY.clips}x{TINY.clip_frames}-64x96")):
        for side in ("gt", "lq"):
            png = _lmdb_images(str(root / f"{side}.lmdb"))  # the PNG LMDB, next to the PNG files it holds
            assert len(png) == (TINY.pairs if kind == "pairs" else TINY.clips * TINY.clip_frames)
            key = sorted(png)[0]
            assert np.array_equal(png[key], cv2.imread(str(root / side / f"{key}.png")))
            for codec in (gpu_suite.PAIR_CODECS if kind == "pairs" else gpu_suite.CLIP_CODECS):
                if codec == "png":
                    continue
                images = _lmdb_images(str(root / f"{side}_{codec}.lmdb"))
                assert sorted(images) == sorted(png)
                for k, img in images.items():
                    if codec == "jpeg":  # lossy, yet the same picture (another one, or BGR read as RGB: ~10 dB)
                        mse = np.mean((img.astype(np.float64) - png[k]) ** 2)
                        assert 10 * np.log10(255 ** 2 / mse) > 20, (codec, k)
                    else:
                        assert np.array_equal(img, png[k]), (codec, k)


def _checkout(root, tests: str) -> None:
    """A project at `root` whose pytest runs `tests` (a module) from its tests/ folder, gpu marker registered."""
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
                                         'markers = ["gpu: needs a GPU"]\n')
    (root / "tests" / "test_x.py").write_text(textwrap.dedent(tests))


@pytest.mark.slow
def test_the_gpu_tests_step_counts_what_pytest_ran_with_the_gpu_marker(tmp_path):
    _checkout(tmp_path / "repo", """
        import pytest

        @pytest.mark.gpu
        def test_passes():
            pass

        @pytest.mark.gpu
        def test_skips():
            pytest.skip("no GPU")

        def test_not_a_gpu_test():
            raise AssertionError("not selected")
    """)
    counts = gpu_suite.gpu_tests(tmp_path, 120, repo=tmp_path / "repo")
    assert {k: counts[k] for k in ("tests", "passed", "skipped", "failures", "errors", "exit_code")} == {
        "tests": 2, "passed": 1, "skipped": 1, "failures": 0, "errors": 0, "exit_code": 0}
    assert len(ElementTree.parse(tmp_path / "gpu-tests.xml").getroot().findall(".//testcase")) == 2


@pytest.mark.slow
def test_a_failing_gpu_test_fails_the_step(tmp_path):
    _checkout(tmp_path / "repo", """
        import pytest

        @pytest.mark.gpu
        def test_fails():
            assert 1 == 2
    """)
    with pytest.raises(AssertionError, match="1 failed, 0 errors"):
        gpu_suite.gpu_tests(tmp_path, 120, repo=tmp_path / "repo")


def _defaults(parser: argparse.ArgumentParser, *argv: str) -> set[str]:
    return set(vars(parser.parse_args(list(argv))))


def test_the_training_and_realesrgan_steps_pass_every_option_of_their_commands(monkeypatch):
    calls = []
    monkeypatch.setattr(gpu_suite, "synthetic_realesrgan", lambda n, codec, side: {"pairs": n, "side": side})
    monkeypatch.setattr(train_demo, "train_report", lambda args: calls.append(args) or {"settings": {}, "results": {}})
    monkeypatch.setattr(gpu_suite, "bench_report", lambda args, comparison: calls.append((args, comparison)) or {
        "results": {}, "ratios": {}, "degradation_settings_per_batch": {}})
    gpu_suite.train(TINY, "cpu", "raw")
    gpu_suite.train_realesrnet(TINY, "cpu")
    gpu_suite.realesrgan(TINY, "cpu", on_gpu=False)
    edsr, rrdb, (resr, comparison) = calls
    for args in (edsr, rrdb):  # the command's options, and the suite's image side
        assert set(vars(args)) == _defaults(train_demo.parser()) | {"side"}
        assert (args.pairs, args.side, args.steps, args.workers) == (TINY.pairs, TINY.side, TINY.train_steps,
                                                                     TINY.workers)
    assert (edsr.model, edsr.dataset, edsr.codec, edsr.gt_size) == ("edsr-baseline", "pairs", "raw",
                                                                     TINY.train_gt_size)
    assert (rrdb.model, rrdb.dataset, rrdb.gt_size, rrdb.batch) == ("rrdb", "realesrgan", TINY.resr_gt_size,
                                                                    TINY.resr_batch)
    assert set(vars(resr)) == _defaults(realesrgan.parser(), "CONFIG") and comparison is realesrgan.COMPARISON
    assert resr.overrides == [f"num_threads={TINY.workers}"]  # on a CPU: the baseline's CPU budget
    assert resr.config == {"pairs": TINY.pairs, "side": TINY.side, "gt_size": TINY.resr_gt_size,
                           "crop_pad_size": TINY.resr_window, "batch_size_per_gpu": TINY.resr_batch}


@pytest.mark.parametrize("codec, on_gpu, threads", [
    ("jpeg", True, "jpeg"), ("jpeg", False, "jpeg"), ("htj2k", True, "gpu"), ("jpeg2000", True, "gpu"),
    ("raw", True, "gpu"), ("htj2k", False, "workers"), ("raw", False, "workers"), ("png", True, "workers")])
def test_throughput_groups_give_each_codec_its_threads(codec, on_gpu, threads):
    """JPEG over the JPEG thread counts; what the GPU decodes (and raw) on a GPU with a few threads; the rest
    (decoded on the CPU) with the baseline's CPU budget."""
    size = replace(TINY, workers=6, gpu_threads=3, jpeg_threads=(1, 4))
    args = gpu_suite._group_args(size, "gpu" if on_gpu else "cpu", codec, on_gpu)
    assert set(vars(args)) <= _defaults(matrix.parser())  # options of benchmarks.matrix
    assert args.threads == {"jpeg": [1, 4], "gpu": [3], "workers": [6]}[threads]
    assert (args.workers, args.batch, args.prefetch) == (6, TINY.batch, [2])


def _group_step(codec: str, rate: float, status: str = "ok") -> dict:
    return {"name": f"pairs-{codec}", "status": status, "result": {"codec": codec, "best": 0,
                                                                   "cells": [{"pairs_per_s": rate}]}}


def test_training_uses_the_fastest_measured_lossless_codec():
    report = {"steps": [_group_step("jpeg", 900.0), _group_step("htj2k", 300.0), _group_step("raw", 500.0),
                        _group_step("jpeg2000", 700.0, status="failed")]}
    assert gpu_suite.fastest_lossless(report) == "raw"  # JPEG is lossy; a failed group is no figure
    assert gpu_suite.fastest_lossless({"steps": []}) == "png"


def test_files_are_named_after_the_gpu():
    assert gpu_suite._machine({"on_gpu": True, "device": "NVIDIA H200"}) == "h200"
    assert gpu_suite._machine({"on_gpu": True, "device": "NVIDIA H100 80GB HBM3"}) == "h100"
    assert gpu_suite._machine({"on_gpu": False, "device": "cpu"}) == "cpu"
