"""`python -m benchmarks.fidelity`: each degradation step DALI runs differently from BasicSR, against BasicSR's."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from benchmarks import fidelity


@pytest.mark.slow
def test_fidelity_compares_each_step_with_basicsrs(tmp_path):
    rng = np.random.default_rng(0)
    for k in range(2):
        img = cv2.GaussianBlur(rng.integers(0, 256, (60, 70, 3)).astype(np.uint8), (0, 0), 1.5)
        cv2.imwrite(str(tmp_path / f"p{k}.png"), img)
    report = fidelity.fidelity(str(tmp_path), 48)
    assert report["images"] == ["p0", "p1"]
    assert all(r["min"] > 100 for r in report["resize"]["bilinear"].values())  # the same formula
    assert all(25 < r["median"] < 80 for r in report["resize"]["bicubic"].values())  # a = -0.5 against -0.75
    area = report["resize"]["area"]  # the exact bin mean at whole factors; DALI's antialiased filter elsewhere
    assert [k for k, r in area.items() if r == {"median": "identical", "min": "identical"}] == ["0.25", "0.5"]
    assert all(20 < r["median"] < 80 for k, r in area.items() if k not in ("0.25", "0.5"))
    for q in fidelity.QUALITIES:
        assert 20 < report["jpeg"][str(q)]["dali_vs_diffjpeg"]["median"] < 60
    windows = {f"p{k}": cv2.imread(str(tmp_path / f"p{k}.png"))[6:54, 11:59] for k in range(2)}  # centred 48 x 48
    levels = {name: len(np.unique(w)) for name, w in windows.items()}
    assert report["poisson_levels"] == {"distinct_levels": levels,
                                        "share_below_129": sum(v < 129 for v in levels.values()) / 2}
    assert fidelity.psnr(np.zeros(3), np.zeros(3)) == math.inf


def test_fidelity_without_a_large_enough_image_says_so(tmp_path, capsys):
    cv2.imwrite(str(tmp_path / "small.png"), np.zeros((20, 20, 3), np.uint8))
    assert fidelity.main([str(tmp_path), "--crop", "48"]) == 2
    assert capsys.readouterr().err == (f"python -m benchmarks.fidelity: error: {tmp_path}: no decodable image of at "
                                       f"least 48x48; lower --crop or add photographs\n")
