"""`python -m benchmarks.train_demo`: the EDSR network, both loaders' timed training steps, the report, its errors."""
from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
import torch

from benchmarks import train_demo
from benchmarks.models import EDSR
from dali_sr.errors import ConfigError, DaliSRError, DatasetError

SMALL = ["--pairs", "8", "--gt-size", "64", "--batch", "4", "--steps", "3", "--warmup", "1", "--workers", "1",
         "--device", "cpu"]
OK_LINE = "OK: 4 batches of lq (4, 3, 16, 16) / gt (4, 3, 64, 64) flowed into 4 {} training steps per loader"


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One DALI_SR_CACHE for the module: the synthetic pairs are built once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def train(cache, monkeypatch):
    """Parse ARGS with the command's own parser and run it; returns the exit code."""
    monkeypatch.setenv("DALI_SR_CACHE", str(cache))

    def _train(*argv: str) -> int:
        return train_demo.run(train_demo.parser().parse_args(argv))

    return _train


def test_edsr_baseline_x4_has_basicsr_size_and_upsamples_by_four():
    model = EDSR(upscale=4)
    assert sum(p.numel() for p in model.parameters()) == 1_517_571
    assert model(torch.rand(1, 3, 12, 12)).shape == (1, 3, 48, 48)
    assert EDSR(upscale=3)(torch.rand(1, 3, 12, 12)).shape == (1, 3, 36, 36)
    assert EDSR(upscale=2)(torch.rand(1, 3, 12, 12)).shape == (1, 3, 24, 24)
    with pytest.raises(ConfigError, match="scale 5"):
        EDSR(upscale=5)


@pytest.mark.slow
def test_both_loaders_train_edsr_and_report_data_vs_step_time(train, tmp_path, capsys):
    out = tmp_path / "report.json"
    assert train(*SMALL, "--json", str(out)) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    s = report["settings"]
    assert (s["model"], s["network"], s["params"], s["amp"], s["device"]) == (
        "edsr-baseline", "EDSR", 1_517_571, "bfloat16", "cpu")
    assert (s["pairs"], s["gt_size"], s["batch"], s["steps"], s["warmup"], s["workers"], s["codec"]) == (
        8, 64, 4, 3, 1, 1, "png")
    assert list(report["results"]) == ["baseline", "dali_sr"]  # the baseline's workers fork first
    for name, r in report["results"].items():
        assert len(r["data_ms"]) == len(r["step_ms"]) == len(r["loss"]) == r["steps"] == 3
        data_s, step_s = sum(r["data_ms"]) / 1000, sum(r["step_ms"]) / 1000  # the summary is of the steps' times
        assert r["data_share_pct"] == pytest.approx(100 * data_s / (data_s + step_s), abs=0.01)
        assert r["median_data_ms"] == pytest.approx(statistics.median(r["data_ms"]), abs=1e-3)
        assert r["samples"] == 12 and r["samples_per_s"] == pytest.approx(12 / (data_s + step_s), rel=1e-2)
        assert (r["first_loss"], r["last_loss"]) == (r["loss"][0], r["loss"][-1])
        assert (r["lq_shape"], r["gt_shape"]) == ([4, 3, 16, 16], [4, 3, 64, 64])
        assert all(0 < loss < 1 for loss in r["loss"])
        assert f"\n{name} " in printed
    assert "data time share: dali_sr " in printed and "% vs baseline " in printed
    assert printed.rstrip().endswith(OK_LINE.format("EDSR"))


def test_loaders_dali_sr_runs_only_dali_sr(train, tmp_path, capsys):
    out = tmp_path / "report.json"
    assert train(*SMALL, "--loaders", "dali_sr", "--model", "tiny", "--no-amp", "--json", str(out)) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert list(report["results"]) == ["dali_sr"]
    assert (report["settings"]["network"], report["settings"]["amp"]) == ("TinySR", None)
    assert "\nbaseline " not in printed and "data time share" not in printed
    assert OK_LINE.format("TinySR") in printed


def test_json_folder_must_exist_before_any_work(train, tmp_path, cache):
    before = sorted(cache.iterdir())
    with pytest.raises(DaliSRError, match="--json"):
        train(*SMALL, "--pairs", "5", "--json", str(tmp_path / "missing" / "report.json"))
    assert sorted(cache.iterdir()) == before  # no dataset built for --pairs 5


def test_too_few_pairs_for_one_batch_is_refused(train):
    with pytest.raises(DatasetError, match="2 sample.* no full batch of 4"):
        train("--pairs", "2", "--gt-size", "64", "--batch", "4", "--device", "cpu")
