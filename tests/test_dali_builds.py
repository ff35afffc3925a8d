"""DALI's builds: dali_sr runs with the CUDA 12 and the CUDA 13 one, and says how to get one when none is there."""
from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUILDS = {"nvidia-dali-cuda120": ("nvidia-nvimgcodec-cu12>=0.9,<0.10", "nvidia-libnvcomp-cu12"),
          "nvidia-dali-cuda130": ("nvidia-nvimgcodec-cu13>=0.9,<0.10", "nvidia-libnvcomp-cu13")}

_ONE_BATCH = r"""
import hashlib, json, sys
sys.path.insert(0, sys.argv[2])
import nvidia.dali
from conftest import make_nn_pairs, paired_cfg
from pathlib import Path
import dali_sr
roots = make_nn_pairs(Path(sys.argv[1]), 2, [(16, 20), (18, 16), (20, 20), (16, 16)], lmdb=True)
digest = hashlib.sha256()
with dali_sr.build_loader(paired_cfg(roots, 2, lmdb=True, batch_size_per_gpu=2)) as loader:
    for batch in loader:
        digest.update(batch["lq"].numpy().tobytes() + batch["gt"].numpy().tobytes())
print(json.dumps({"dali": nvidia.dali.__file__, "digest": digest.hexdigest()}))
"""


def _installed_build() -> str:
    names = [name for name in BUILDS if _version(name)]
    assert len(names) == 1, f"expected one DALI build installed, found {names}"
    return names[0]


def _version(name: str):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _batches(tmp: Path, pythonpath: str = "") -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (pythonpath, str(REPO)) if p))
    run = subprocess.run([sys.executable, "-c", _ONE_BATCH, str(tmp), str(REPO / "tests")], env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_the_other_dali_build_gives_the_same_batches(tmp_path):
    installed = _installed_build()
    other = next(name for name in BUILDS if name != installed)
    target = tmp_path / "other"
    fetch = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                            f"{other}=={_version(installed)}", *BUILDS[other]], capture_output=True, text=True,
                           timeout=1200)
    if fetch.returncode != 0:
        pytest.skip(f"could not fetch {other} from the package index: {fetch.stderr.strip().splitlines()[-1:]}")
    mine, theirs = _batches(tmp_path / "a"), _batches(tmp_path / "b", str(target))
    assert theirs["dali"].startswith(str(target)) and not mine["dali"].startswith(str(target))
    assert mine["digest"] == theirs["digest"]


def test_without_dali_configs_validate_and_the_loader_says_what_to_install():
    code = ("import sys; sys.modules['nvidia.dali'] = None\n"
            "import dali_sr\n"
            "dali_sr.load_config('configs/div2k_x4_lmdb.yml')\n"
            "try:\n"
            "    dali_sr.build_loader\n"
            "except ImportError as e:\n"
            "    print(e)\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ("dali_sr needs NVIDIA DALI: pip install 'dali_sr[cuda12]' (CUDA 12 driver, or no "
                                  "GPU) or 'dali_sr[cuda13]' (CUDA 13 driver and torch)")
