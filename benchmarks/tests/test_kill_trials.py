"""The kill-trial harness (benchmarks/kill_trials.py) runs from a checkout and finds what it is meant to find."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_kill_trials_of_a_pack_and_a_training_loop_end_identical(tmp_path):
    out = tmp_path / "trials.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.kill_trials", "--trials", "1", "--images", "12",
                           "--side", "256", "--only", "pack wds,loop", "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    (pack,) = report["commands"]
    assert pack["command"].startswith("dali-sr pack SRC out --format wds")
    assert pack["identical_to_reference"] == pack["trials"] == 1
    assert pack["part_of_a_dataset_left_by_a_kill"] == 0
    loop = report["loop"]
    assert loop["batches"] == 9 and loop["every_batch_identical"] == loop["trials"] == 1
