"""`dali-sr bench` on a RealESRGANDataset (dali_sr against BasicSR's dataset + feed_data) and `degrade-fidelity`."""
from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
import torch
import yaml

from dali_sr import cli, load_config
from dali_sr.bench import fidelity
from dali_sr.bench.realesrgan_baseline import model_of, options_of, realesrgan_baseline_batches
from test_degraded_loader import gt_lmdb, realesrgan_cfg


@pytest.fixture()
def config(tmp_path):
    root = gt_lmdb(tmp_path, [(64, 64), (72, 60), (80, 90), (64, 70)])
    path = tmp_path / "resr.yml"
    path.write_text(yaml.safe_dump(realesrgan_cfg(root, num_threads=1, batch_size_per_gpu=2)))
    return path


def test_bench_measures_dali_sr_against_basicsrs_dataset_and_feed_data(config, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert cli.main(["bench", str(config), "--runs", "1", "--batches", "2", "--warmup", "1", "--workers", "1",
                     "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert set(report["results"]) == {"dali_sr", "baseline", "decode_only", "decode_dali"}
    assert all(r["runs"][0]["pairs"] == 4 for r in report["results"].values())
    settings = report["degradation_settings_per_batch"]
    assert settings["baseline"] == 1 and 1 <= settings["dali_sr"] <= 2 and settings["batch_size"] == 2
    assert "distinct settings of BasicSR's per-batch draws" in capsys.readouterr().out


def test_the_baseline_is_basicsrs_work_on_the_same_settings(config):
    cfg = load_config(config)
    opts = options_of(cfg)
    assert (opts.gt_size, opts.crop_pad_size, opts.scale, opts.batch_size_per_gpu) == (32, 48, 4, 2)
    assert opts.resize_prob == (0.2, 0.7, 0.1) and opts.noise_range2 == (1, 25)
    assert model_of(cfg) == "RealESRGANModel"
    assert model_of(load_config(config, l1_gt_usm=None, gt_usm=True, model_type="RealESRNetModel")) == \
        "RealESRNetModel"
    batches = realesrgan_baseline_batches(cfg, None, 1, False)
    try:
        batch = next(batches)
    finally:
        batches.close()
    assert batch["lq"].shape == (2, 3, 8, 8) and batch["gt"].shape == (2, 3, 32, 32) and "gt_usm" in batch
    assert torch.equal(batch["lq"] * 255, (batch["lq"] * 255).round())


def test_fidelity_compares_each_step_with_basicsrs(tmp_path):
    rng = np.random.default_rng(0)
    for k in range(2):
        img = cv2.GaussianBlur(rng.integers(0, 256, (60, 70, 3)).astype(np.uint8), (0, 0), 1.5)
        cv2.imwrite(str(tmp_path / f"p{k}.png"), img)
    report = fidelity.fidelity(str(tmp_path), 48)
    assert report["images"] == ["p0", "p1"]
    assert all(r["min"] > 100 for r in report["resize"]["bilinear"].values())  # the same formula
    assert all(25 < r["median"] < 80 for r in report["resize"]["bicubic"].values())  # a = -0.5 against -0.75
    assert all(20 < r["median"] < 80 for r in report["resize"]["area"].values())
    for q in fidelity.QUALITIES:
        assert 20 < report["jpeg"][str(q)]["dali_vs_diffjpeg"]["median"] < 60
    assert report["poisson_levels"]["share_below_129"] in (0.0, 0.5, 1.0)
    assert fidelity.psnr(np.zeros(3), np.zeros(3)) == math.inf


def test_fidelity_without_a_large_enough_image_says_so(tmp_path, capsys):
    cv2.imwrite(str(tmp_path / "small.png"), np.zeros((20, 20, 3), np.uint8))
    assert cli.main(["degrade-fidelity", str(tmp_path), "--crop", "48"]) == 2
    assert "no decodable image of at least 48x48; lower --crop" in capsys.readouterr().err
