"""`dali-sr roi-probe`: every ROI decode case runs in a child process; crashes are reported, not fatal."""
from __future__ import annotations

import json
import subprocess

from dali_sr import cli
from dali_sr.bench import roi_probe


def test_cpu_roi_paths_equal_whole_decode_and_cut(tmp_path, capsys):
    assert cli.main(["roi-probe", "--device", "cpu", "--codecs", "png,jpeg", "--iterations", "2",
                     "--out", str(tmp_path), "--name", "p"]) == 0
    report = json.loads((tmp_path / "p.json").read_text())
    assert report["device"] == "cpu" and report["iterations"] == 2
    cases = {(c["codec"], c["operator"]): c for c in report["cases"]}
    assert set(cases) == {(codec, op) for codec in ("png", "jpeg") for op in roi_probe.OPERATORS}
    for (codec, _), case in cases.items():
        assert case["status"] == "ok", case
        if codec == "png":  # lossless: the window decode is the whole decode's window, exactly
            assert case["max_abs_diff"] == 0
    assert "| png | image_slice | ok |" in (tmp_path / "p.md").read_text()
    assert "| jpeg | image_random_crop | ok |" in capsys.readouterr().out


def test_a_failing_case_is_reported_with_its_error():
    case = roi_probe._child("png", "no_such_operator_xyz", on_gpu=False, iterations=1, timeout=60)
    assert case["status"] == "crashed" and case["detail"] == "exit code 1"
    assert case["stderr_tail"]


def test_a_killed_case_names_the_signal(monkeypatch):
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, -11, "", "Segmentation"))
    assert roi_probe._child("jpeg", "image_slice", on_gpu=True, iterations=1, timeout=5) == {
        "status": "crashed", "detail": "signal SIGSEGV", "stderr_tail": ["Segmentation"]}
