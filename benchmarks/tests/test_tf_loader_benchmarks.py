"""The TensorFlow-loader benchmarks run end to end on small inputs and record what they measured and how."""
from __future__ import annotations

import json

import pytest

from benchmarks import patches_per_image, tf_bicubic


@pytest.mark.slow  # builds two DALI pipelines
def test_patches_per_image_reports_a_rate_per_value(tmp_path, capsys):
    out = tmp_path / "ppi.json"
    argv = ["--patches", "1,2", "--images", "2", "--height", "120", "--width", "144", "--batch", "8",
            "--warmup", "1", "--batches", "1", "--json", str(out)]
    assert patches_per_image.main(argv) == 0
    report = json.loads(out.read_text())
    assert set(report["patches_per_s"]) == {"1", "2"} and all(r > 0 for r in report["patches_per_s"].values())
    assert report["speedup_over_first"]["1"] == 1.0
    assert report["command"] == "python -m benchmarks.patches_per_image " + " ".join(argv)
    assert "patches_per_image 2:" in capsys.readouterr().out


def test_tf_bicubic_agrees_inside_and_differs_at_the_borders(tmp_path):
    out = tmp_path / "bic.json"
    assert tf_bicubic.main(["--scales", "2", "--json", str(out)]) == 0
    levels = json.loads(out.read_text())["levels"]["2"]
    for what in ("whole_images", "patches_96"):
        assert levels[what]["interior_max"] < 1e-3 < 1 < levels[what]["max"]
    assert levels["y_of_rgb_lq"]["max"] > 1
