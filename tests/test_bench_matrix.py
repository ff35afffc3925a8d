"""`dali-sr bench-matrix`: the grid of cells per group, the reference contenders, the files it writes."""
from __future__ import annotations

import json

import cv2
import pytest

from dali_sr import cli
from dali_sr.bench import matrix, matrix_report
from dali_sr.bench import runner
from dali_sr.synthetic import make_paired_dataset


@pytest.fixture(scope="module")
def small_pairs(tmp_path_factory, request):
    """`bench synthetic` pairs shrunk to 12 of 96x96 GT, so a matrix runs in seconds."""
    root = tmp_path_factory.mktemp("matrix-cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("DALI_SR_CACHE", str(root))
    patch.setattr(runner, "make_paired_dataset", lambda folder, n: make_paired_dataset(folder, n=n, size=96, scale=4))
    request.addfinalizer(patch.undo)
    return root


def test_matrix_measures_every_cell_against_one_baseline_per_group(small_pairs, tmp_path, capsys):
    rc = cli.main(["bench-matrix", "--device", "cpu", "--codecs", "png,raw", "--gt-sizes", "32", "--no-clips",
                   "--threads", "1,2", "--prefetch", "2,3", "--hw-loads", "0.9", "--workers", "1", "--batch", "4",
                   "--pairs", "12", "--runs", "2", "--batches", "2", "--warmup", "1", "--out", str(tmp_path),
                   "--name", "m"])
    assert rc == 0
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["device"] == "cpu" and report["settings"]["threads"] == [1, 2]
    assert [g["name"] for g in report["groups"]] == ["pairs-gt32-png", "pairs-gt32-raw"]
    for g in report["groups"]:
        assert (g["gt_size"], g["batch_size"], g["samples"], g["unit"]) == (32, 4, 12, "pairs")
        assert g["decode_dali_settings"]["num_threads"] == 2  # the most threads of the grid
        for ref in ("baseline", "decode_only", "decode_dali"):
            assert g[ref]["pairs_per_s"] > 0 and len(g[ref]["runs"]) == 2
        # 2 threads x 2 prefetch depths; hw_decoder_load steers nothing on a CPU, so it is not varied
        assert [(c["num_threads"], c["prefetch_queue_depth"], c["hw_decoder_load"]) for c in g["cells"]] == [
            (1, 2, None), (1, 3, None), (2, 2, None), (2, 3, None)]
        for c in g["cells"]:
            assert c["x_baseline"] == pytest.approx(c["pairs_per_s"] / g["baseline"]["pairs_per_s"], rel=1e-2)
            assert c["x_decode_dali"] == pytest.approx(c["pairs_per_s"] / g["decode_dali"]["pairs_per_s"], rel=1e-2)
            assert c["gpu_memory_mib"] is None and c["cores_busy"] > 0 and len(c["runs"]) == 2
        assert g["cells"][g["best"]]["pairs_per_s"] == max(c["pairs_per_s"] for c in g["cells"])
    text = (tmp_path / "m.md").read_text()
    assert "| PNG GT 32: best with ≤ 1 threads vs baseline (1 workers) |" in text
    assert "Lossless GT 32: best of jpeg2000/raw (raw," in text
    assert text.count("| threads | hw load |") == 2
    plot = cv2.imread(str(tmp_path / "m.png"))
    assert plot is not None and plot.shape[0] > 300 and plot.shape[1] > 400
    assert "wrote" in capsys.readouterr().out


def test_jpeg_on_a_gpu_varies_the_decoder_load():
    args = cli.build_parser().parse_args(["bench-matrix", "--threads", "2,4", "--hw-loads", "0.65,1", "--prefetch",
                                          "2"])
    assert len(matrix._cells(args, "jpeg", on_gpu=True)) == 4
    assert matrix._cells(args, "png", on_gpu=True) == [{"num_threads": 2, "prefetch_queue_depth": 2},
                                                        {"num_threads": 4, "prefetch_queue_depth": 2}]
    assert len(matrix._cells(args, "jpeg", on_gpu=False)) == 2


def _group(codec: str, rate: float, baseline: float, dali_decode: float, threads: int = 4) -> dict:
    cell = {"num_threads": threads, "hw_decoder_load": None, "prefetch_queue_depth": 2, "pairs_per_s": rate,
            "x_baseline": rate / baseline, "x_decode_dali": rate / dali_decode}
    return {"kind": "pairs", "gt_size": 128, "codec": codec, "unit": "pairs", "cells": [cell], "best": 0,
            "baseline": {"pairs_per_s": baseline}, "decode_dali": {"pairs_per_s": dali_decode}}


def test_targets_are_judged_from_the_measured_cells():
    report = {"settings": {"workers": 16}, "groups": [
        _group("png", 300.0, 150.0, 320.0, threads=16), _group("jpeg", 2000.0, 600.0, 2600.0),
        _group("raw", 800.0, 500.0, 900.0), _group("jpeg2000", 1200.0, 100.0, 1300.0)]}
    got = {what.split(":")[0]: (value, met) for what, value, _, met in matrix_report._targets(report)}
    assert got["PNG GT 128"] == ("2.00×", True)
    assert got["Lossless GT 128"] == ("8.00×", True)  # jpeg2000's 1200 against the PNG baseline's 150
    jpeg = [(v, m) for w, v, _, m in matrix_report._targets(report) if w.startswith("JPEG")]
    assert jpeg == [("3.33×", True), ("0.77×", False)]


def test_missing_out_folder_is_one_line(capsys):
    assert cli.main(["bench-matrix", "--out", "/nonexistent/folder"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--out /nonexistent/folder" in err


@pytest.mark.parametrize("argv", [["--threads", "2,x"], ["--hw-loads", "1.5"], ["--codecs", "png,webp"]])
def test_bad_grid_values_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["bench-matrix", *argv])
    assert "bench-matrix" in capsys.readouterr().err
