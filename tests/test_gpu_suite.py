"""`dali-sr gpu-suite`: its whole CPU side, on tiny sizes (the gpu tests skip without a GPU)."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree

import pytest

from dali_sr.bench import gpu_suite
from dali_sr.cli import main

pytestmark = pytest.mark.slow
STEPS = ["environment", "datasets", "gpu_tests", "pairs-jpeg", "pairs-png", "pairs-htj2k", "pairs-jpeg2000",
         "pairs-raw", "realesrgan", "roi_probe", "clips-png", "clips-jpeg", "gpu_memory", "train", "train-realesrnet"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DALI_SR_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_the_cpu_dry_run_runs_every_step_and_writes_its_files(tmp_path, cache, capsys):
    out = tmp_path / "new" / "out"
    assert main(["gpu-suite", "--device", "cpu", "--size", "tiny", "--out", str(out), "--name", "s",
                 "--budget-min", "10"]) == 0
    report = json.loads((out / "s.json").read_text())
    assert [s["name"] for s in report["steps"]] == STEPS and report["skipped"] == []
    assert all(s["status"] == "ok" for s in report["steps"]), [s for s in report["steps"] if s["status"] != "ok"]
    steps = {s["name"]: s["result"] for s in report["steps"]}
    env = steps["environment"]
    assert {"dali", "torch", "nvimgcodec", "dali_build"} <= set(env["versions"]) and env["cpu_cores"] >= 1
    assert env["hardware_jpeg_decoder"] == "not in use: no GPU"
    tests = steps["gpu_tests"]
    assert tests["tests"] == tests["skipped"] > 30 and tests["failures"] == tests["errors"] == 0
    assert ElementTree.parse(out / "gpu-tests.xml").getroot() is not None
    for name in STEPS[3:8] + STEPS[10:12]:
        group = steps[name]
        assert {"baseline", "decode_only", "decode_dali", "cells"} <= set(group) and group["codec"] == name.split("-")[1]
        assert all(c["x_baseline"] > 0 for c in group["cells"])
    jpeg = steps["pairs-jpeg"]
    assert [c["num_threads"] for c in jpeg["cells"]] == list(gpu_suite.SIZES["tiny"].jpeg_threads)
    assert {(c["codec"], c["operator"]) for c in steps["roi_probe"]["cases"]} == {
        (codec, op) for codec in ("jpeg", "png", "jpeg2000", "htj2k") for op in ("image_slice", "image_crop",
                                                                              "image_random_crop")}
    assert len(steps["gpu_memory"]["rss_mib"]) == gpu_suite.SIZES["tiny"].memory_epochs
    assert set(steps["train"]["results"]) == {"baseline", "dali_sr"}
    assert steps["train"]["codec"] in gpu_suite.LOSSLESS_TRAIN
    resr = steps["realesrgan"]
    assert resr["ratios"]["dali_sr/baseline"] > 0 and resr["settings_per_batch"]["baseline"] == 1
    rrdb = steps["train-realesrnet"]
    assert set(rrdb["results"]) == {"baseline", "dali_sr"} and rrdb["settings"]["network"] == "RRDBNet"
    assert rrdb["settings"]["params"] == 16_697_987 and rrdb["settings"]["type"] == "RealESRGANDataset"
    md = (out / "s.md").read_text()
    assert "| pairs-jpeg | ok |" in md and "## Targets" in md and "## Summary" in md
    assert (out / "s.png").stat().st_size > 0
    assert "15 steps run, 0 failed, 0 skipped" in capsys.readouterr().out


def test_steps_past_the_budget_are_skipped_and_said(tmp_path, cache, capsys):
    assert main(["gpu-suite", "--device", "cpu", "--size", "tiny", "--out", str(tmp_path), "--name", "s",
                 "--budget-min", "0.001"]) == 0
    report = json.loads((tmp_path / "s.json").read_text())
    assert [s["name"] for s in report["steps"]] == ["environment", "datasets"]
    assert report["skipped"] == STEPS[2:]
    assert "| train | skipped: budget spent |" in (tmp_path / "s.md").read_text()
    assert "2 steps run, 0 failed, 13 skipped" in capsys.readouterr().out
