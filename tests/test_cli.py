"""The dali-sr command: its commands and help, demo (the README's main job), show, errors."""
import subprocess
import sys

import cv2
import pytest

import dali_sr
from dali_sr.cli import main

# What `dali-sr --help` lists, in its order: preparing a dataset, checking it, measuring.
COMMANDS = ["pack", "extract-subimages", "extract-chunks", "downscale", "extract-tfrecords", "meta-info",
            "regroup-reds", "verify", "inspect", "warm", "show", "schema", "bench", "doctor", "demo"]
HEAVY = {"torch", "nvidia.dali", "cv2"}  # what a command imports only when it runs


def _dali_sr(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dali_sr", *argv], capture_output=True, text=True)


def test_demo_trains_on_the_builtin_dataset(tmp_path, capsys):
    assert main(["demo", "--steps", "6", "--pairs", "4", "--batch", "4", "--device", "cpu",
                 "--cache", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "OK: 6 batches of lq (4, 3, 32, 32) / gt (4, 3, 128, 128) flowed into 6 training steps" in out
    assert "samples/s" in out and "data time" in out
    preview = cv2.imread(str(tmp_path / "demo" / "preview.png"))
    assert preview.shape == (4 * 128, 3 * 128, 3)
    # second run re-uses the cached dataset
    assert main(["demo", "--steps", "2", "--pairs", "4", "--batch", "4", "--device", "cpu",
                 "--cache", str(tmp_path / "demo")]) == 0


def test_show_prints_the_dataset(tmp_path, capsys):
    from dali_sr.synthetic.images import make_paired_dataset

    roots = make_paired_dataset(str(tmp_path / "d"), n=3, size=96)
    cfg = tmp_path / "c.yml"
    cfg.write_text(f"type: PairedImageDataset\nscale: 4\ngt_size: 32\ndataroot_gt: {roots['gt_lmdb']}\n"
                   f"dataroot_lq: {roots['lq_lmdb']}\nio_backend: {{type: lmdb}}\nbatch_size_per_gpu: 2\n")
    assert main(["show", str(cfg), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "samples 3, batches/epoch 1 of 2" in out


def test_bad_input_exits_nonzero_with_one_line(tmp_path):
    cfg = tmp_path / "bad.yml"
    cfg.write_text("type: PairedImageDataset\nscale: 4\ngt_szie: 128\n")
    proc = subprocess.run([sys.executable, "-m", "dali_sr", "show", str(cfg)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "did you mean 'gt_size'" in proc.stderr


def test_help_lists_the_user_commands_in_order_and_version_answers():
    proc = _dali_sr("--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: dali-sr [-h] [--version] COMMAND ...")
    listing = proc.stdout.split("\ncommands:\n")[1].split("\n\n")[0].splitlines()
    assert [line.split()[0] for line in listing if line.startswith("    ") and not line.startswith("     ")] == COMMANDS
    version = _dali_sr("--version")
    assert version.returncode == 0 and version.stdout == f"dali-sr {dali_sr.__version__}\n"


@pytest.mark.parametrize("command", [[]] + [[c] for c in COMMANDS], ids=["dali-sr"] + COMMANDS)
def test_help_imports_neither_torch_nor_dali_nor_opencv(command):
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "dali_sr", *command, "--help"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith(f"usage: {' '.join(['dali-sr', *command])} ")
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "dali_sr.cli" in imported and imported & HEAVY == set()
