"""`python -m benchmarks.realesrgan`: dali_sr's RealESRGANDataset against BasicSR's dataset + feed_data."""
from __future__ import annotations

import json

import pytest
import torch
import yaml

from benchmarks import realesrgan
from benchmarks.realesrgan_baseline import model_of, options_of, realesrgan_baseline_batches
from dali_sr import load_config
from dali_sr.bench import synthetic_configs
from dali_sr.bench.runner import resolve_config
from dali_sr.synthetic.images import make_paired_dataset
from test_degraded_loader import gt_lmdb, realesrgan_cfg


@pytest.fixture()
def config(tmp_path):
    root = gt_lmdb(tmp_path, [(64, 64), (72, 60), (80, 90), (64, 70)])
    path = tmp_path / "resr.yml"
    path.write_text(yaml.safe_dump(realesrgan_cfg(root, num_threads=1, batch_size_per_gpu=2)))
    return path


@pytest.mark.slow
def test_bench_measures_dali_sr_against_basicsrs_dataset_and_feed_data(config, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert realesrgan.main([str(config), "--runs", "1", "--batches", "2", "--warmup", "1", "--workers", "1",
                            "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert list(report["results"]) == ["dali_sr", "baseline", "decode_only", "decode_dali"]
    assert [r["runs"][0]["pairs"] for r in report["results"].values()] == [4, 4, 4, 4]
    assert report["ratios"]["dali_sr/baseline"] == pytest.approx(
        report["results"]["dali_sr"]["pairs_per_s"] / report["results"]["baseline"]["pairs_per_s"], rel=1e-2)
    assert report["command"].startswith("python -m benchmarks.realesrgan ") and report["baseline_note"] is None
    settings = report["degradation_settings_per_batch"]
    assert settings["baseline"] == 1 and 1 <= settings["dali_sr"] <= 2 and settings["batch_size"] == 2
    printed = capsys.readouterr().out
    assert printed.startswith("python -m benchmarks.realesrgan: resr (RealESRGANDataset, lmdb, 4 pairs, x4")
    assert printed.rstrip().endswith(realesrgan.settings_line(report))


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


def test_synthetic_realesrgan_is_real_esrgan_x4plus_on_the_gt_of_the_synthetic_pairs(tmp_path, monkeypatch):
    monkeypatch.setenv("DALI_SR_CACHE", str(tmp_path))
    monkeypatch.setattr(synthetic_configs, "make_paired_dataset",
                        lambda root, n, size: make_paired_dataset(root, n=n, size=64, scale=4))
    args = realesrgan.parser().parse_args(["synthetic-realesrgan", "--synthetic", "3"])
    cfg = resolve_config(args, realesrgan.COMPARISON)
    assert (cfg.type, cfg.name, cfg.dataroot_gt, cfg.dataroot_lq) == (
        "RealESRGANDataset", "synthetic-realesrgan-3-png", str(tmp_path / "bench-3" / "gt.lmdb"), None)
    assert (cfg.scale, cfg.gt_size, cfg.batch_size, cfg.use_hflip, cfg.use_rot) == (4, 256, 12, True, False)
    assert model_of(cfg) == "RealESRGANModel"


def test_other_configs_are_refused_in_one_line(tmp_path, capsys):
    config = tmp_path / "pairs.yml"
    config.write_text(yaml.safe_dump({"type": "PairedImageDataset", "scale": 4, "gt_size": 32,
                                      "dataroot_gt": str(tmp_path), "dataroot_lq": str(tmp_path)}))
    for argv, words in (([str(config)], "compares RealESRGANDataset loaders; type PairedImageDataset is not supported"),
                        (["synthetic", "--synthetic", "2"], "--synthetic N applies only to CONFIG "
                                                            "'synthetic-realesrgan'; pack your own data")):
        assert realesrgan.main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("python -m benchmarks.realesrgan: error: ")
        assert words in err, err
