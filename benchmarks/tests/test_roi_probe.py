"""`python -m benchmarks.roi_probe`: every ROI decode case runs in a child process; crashes are reported, not fatal."""
from __future__ import annotations

import json
import subprocess

import pytest

from benchmarks import roi_case, roi_probe


@pytest.mark.slow
def test_cpu_roi_paths_equal_whole_decode_and_cut(tmp_path, capsys):
    out = tmp_path / "new" / "results"  # made if missing
    assert roi_probe.main(["--device", "cpu", "--codecs", "png,jpeg", "--iterations", "2", "--out", str(out),
                           "--name", "p"]) == 0
    report = json.loads((out / "p.json").read_text())
    assert report["device"] == "cpu" and report["iterations"] == 2
    assert report["command"].startswith("python -m benchmarks.roi_probe ")
    cases = {(c["codec"], c["operator"]): c for c in report["cases"]}
    assert set(cases) == {(codec, op) for codec in ("png", "jpeg") for op in roi_case.OPERATORS}
    for (codec, _), case in cases.items():
        assert case["status"] == "ok", case
        if codec == "png":  # lossless: the window decode is the whole decode's window, exactly
            assert case["max_abs_diff"] == 0
    assert "| png | image_slice | ok |" in (out / "p.md").read_text()
    assert "| jpeg | image_random_crop | ok |" in capsys.readouterr().out


@pytest.mark.slow
def test_a_failing_case_is_reported_with_its_error():
    case = roi_probe.child_case("png", "no_such_operator_xyz", on_gpu=False, iterations=1, timeout=60)
    assert case["status"] == "crashed" and case["detail"] == "exit code 1"
    assert case["stderr_tail"][-1] == ("ValueError: unknown ROI operator 'no_such_operator_xyz'; one of image_slice, "
                                       "image_crop, image_random_crop")


def test_a_killed_case_names_the_signal(monkeypatch):
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, -11, "", "Segmentation"))
    assert roi_probe.child_case("jpeg", "image_slice", on_gpu=True, iterations=1, timeout=5) == {
        "status": "crashed", "detail": "signal SIGSEGV", "stderr_tail": ["Segmentation"]}


def test_an_out_path_that_is_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "f").write_text("")
    assert roi_probe.main(["--device", "cpu", "--out", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"python -m benchmarks.roi_probe: error: --out {tmp_path / 'f'} is a file; give a folder for the " \
                  f"report"
