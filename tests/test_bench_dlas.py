"""`dali-sr bench` on DL-Art-School types: its baselines compute DL-Art-School's samples (equal to the loader's
without corruptions), its corruptor follows DL-Art-School's formulas, and a bench run measures both types."""
from __future__ import annotations

import json
import random
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import dali_sr
from dali_sr import cli
from dali_sr.bench.dlas_baseline import ChunkDataset, Corruptor, FolderDataset
from dali_sr.errors import ConfigError
from test_dlas_chunks import chunk_cfg, write_chunks
from test_dlas_image_folder import make_folder


def _loader_samples(cfg: dict, path_key: str) -> dict[str, dict]:
    """Every sample of one validation epoch of the loader, by its path."""
    out = {}
    with dali_sr.build_loader(cfg) as loader:
        for batch in loader:
            for j, path in enumerate(batch[path_key]):
                out[path] = {k: v[j] for k, v in batch.items() if torch.is_tensor(v)}
    return out


def _baseline_samples(dataset_type: type, cfg: dict, path_key: str) -> dict[str, dict]:
    with dali_sr.build_loader(cfg) as loader:
        dataset = dataset_type(loader.cfg, loader.index)
        return {s[path_key]: s for s in (dataset[i] for i in range(len(dataset)))}


@pytest.mark.parametrize("tile,target,scale,multiple", [(32, 16, 2, 1), (36, None, 4, 8), (48, 16, 1, 1)])
def test_the_chunk_baseline_is_the_loaders_sample_without_corruptions(tmp_path, tile, target, scale, multiple):
    write_chunks(tmp_path, tile)
    cfg = chunk_cfg(str(tmp_path), scale, target_size=target, force_multiple=multiple, need_ref=True, strict=True)
    ours, theirs = _loader_samples(cfg, "GT_path"), _baseline_samples(ChunkDataset, cfg, "GT_path")
    assert sorted(ours) == sorted(theirs) and len(ours) == 8
    for path, sample in ours.items():
        for key, value in sample.items():
            assert value.shape == theirs[path][key].shape, (key, path)
            np.testing.assert_allclose(value.numpy(), theirs[path][key].numpy(), atol=2e-6, rtol=0,
                                       err_msg=f"{key} of {path}")


@pytest.mark.slow
def test_the_folder_baseline_is_the_loaders_sample_without_corruptions(tmp_path):
    """Odd, even, wide and tall images: centre square, INTER_AREA to target_size (whole and fractional factors)."""
    root = make_folder(tmp_path / "images", [(40, 53), (61, 45), (48, 48), (33, 70)])
    cfg = {"mode": "imagefolder", "name": "images", "paths": str(root), "scale": 2, "target_size": 24,
           "disable_flip": True, "phase": "val", "batch_size": 4, "device": "cpu"}
    ours, theirs = _loader_samples(cfg, "HQ_path"), _baseline_samples(FolderDataset, cfg, "HQ_path")
    assert sorted(ours) == sorted(theirs) and len(ours) == 4
    for path, sample in ours.items():
        for key in ("hq", "lq"):
            np.testing.assert_allclose(sample[key].numpy(), theirs[path][key].numpy(), atol=1e-4, rtol=0,
                                       err_msg=f"{key} of {path}")


class _Options:
    def __init__(self, fixed, random_names=(), count=0, blur_scale=1.0, cosine_bias=False):
        self.fixed_corruptions, self.random_corruptions = list(fixed), list(random_names)
        self.num_corrupts_per_image, self.corruption_blur_scale, self.cosine_bias = count, blur_scale, cosine_bias


def _image() -> np.ndarray:
    rng = np.random.default_rng(3)
    return cv2.GaussianBlur(rng.random((40, 48, 3)).astype(np.float32), (0, 0), 2)


def test_the_corruptor_follows_dl_art_schools_formulas():
    img = _image()
    corrupt = Corruptor(_Options(["saturation", "gaussian_blur"]), "test")
    corrupt.rand, values = random.Random(5), random.Random(5)  # each name draws its value in turn
    expected = cv2.GaussianBlur(np.clip(img + values.random() * 0.3, 0, 1), (0, 0), values.random() * 1.5)
    np.testing.assert_array_equal(corrupt(img), expected)
    grey = Corruptor(_Options(["greyscale", "none", "block_noise"]), "test")(img)
    np.testing.assert_array_equal(grey, np.repeat(img.mean(axis=2, keepdims=True), 3, axis=2))


def test_the_corruptor_skips_jpeg_after_noise_and_undoes_resampling():
    img = _image()
    corrupt = Corruptor(_Options(["noise-5", "jpeg-broad"]), "test")
    np.random.seed(0)
    noisy = corrupt(img)
    np.random.seed(0)
    np.testing.assert_array_equal(noisy, img + np.random.rand(*img.shape) * (5 / 255.0))
    resampled = Corruptor(_Options(["lq_resampling4x"]), "test")(img)
    assert resampled.shape == img.shape and not np.array_equal(resampled, img)


def test_the_corruptor_refuses_what_it_does_not_time():
    with pytest.raises(ConfigError, match="color_jitter"):
        Corruptor(_Options(["color_jitter"]), "test")


@pytest.mark.parametrize("kind", ["chunks", pytest.param("folder", marks=pytest.mark.slow)])
def test_bench_measures_dlas_types_against_their_baselines(tmp_path, kind, capsys):
    if kind == "chunks":
        write_chunks(tmp_path / "data", 32)
        section = chunk_cfg(str(tmp_path / "data"), 2, target_size=16, need_ref=True, strict=True,
                            fixed_corruptions=["jpeg-broad", "gaussian_blur"], phase="train", batch_size=4)
        unit, samples = "tiles", 8
    else:
        root = make_folder(tmp_path / "data", [(40, 53), (61, 45), (48, 48), (33, 70)] * 2)
        section = {"mode": "imagefolder", "name": "images", "paths": str(root), "scale": 2, "target_size": 24,
                   "fixed_corruptions": ["jpeg-broad", "gaussian_blur"], "batch_size": 4, "device": "cpu"}
        unit, samples = "images", 8
    config = tmp_path / "dataset.yml"
    config.write_text(json.dumps(section))
    out = tmp_path / "bench.json"
    assert cli.main(["bench", str(config), "--runs", "1", "--batches", "2", "--warmup", "1", "--workers", "1",
                     "--set", "num_threads=1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["unit"] == unit and report["config"]["samples"] == samples
    assert list(report["results"]) == ["dali_sr", "baseline", "decode_only", "decode_dali"]
    assert all(r["runs"][0][unit] == 8 for r in report["results"].values())  # 2 batches of 4
    table = capsys.readouterr().out
    assert f"{samples} {unit}" in table and "jpeg-broad+gaussian_blur" in table


def test_synthetic_dlas_words_refuse_codec():
    args = cli.build_parser().parse_args(["bench", "synthetic-chunks", "--codec", "raw"])
    from dali_sr.bench import runner

    with pytest.raises(ConfigError, match="--codec applies"):
        runner.resolve_config(args)
