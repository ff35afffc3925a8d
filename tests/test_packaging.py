"""The distribution as a user installs it: one top-level import name, next to a project of their own."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

_USER_CHECK = r"""
import os, sys
from pathlib import Path
site, presets = sys.argv[1], sys.argv[2:]
import pipelines                                   # the user's own package of that common name
assert pipelines.OWNER == "user project", pipelines.__file__
import dali_sr
from dali_sr import build_loader                   # imports DALI and the graphs
import dali_sr.pipelines.paired_image, dali_sr.pipelines.video_clips
for module in (dali_sr, dali_sr.pipelines):
    assert module.__file__.startswith(site), module.__file__
for path in presets:
    cfg = dali_sr.load_config(path)
    print(Path(path).name, cfg.type)
assert pipelines.OWNER == "user project"
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built from this checkout, installed (not editable) into a folder of its own."""
    tmp = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
                            "-q", "-w", str(tmp / "dist")], capture_output=True, text=True, cwd=tmp)
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp / "dist").glob("dali_sr-*.whl")
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                              str(tmp / "site"), str(wheel)], capture_output=True, text=True, cwd=tmp)
    assert install.returncode == 0, install.stderr
    return tmp


def test_the_wheel_installs_one_top_level_package(installed):
    (wheel,) = (installed / "dist").glob("dali_sr-*.whl")
    with zipfile.ZipFile(wheel) as z:
        tops = {name.split("/")[0] for name in z.namelist() if not name.split("/")[0].endswith((".dist-info",
                                                                                                ".data"))}
    assert tops == {"dali_sr"}


def test_the_wheel_holds_every_package_of_the_checkout(installed):
    packages = {str(p.parent.relative_to(REPO)).replace("/", ".") for p in (REPO / "dali_sr").rglob("__init__.py")}
    packages |= {"dali_sr.pipelines"}  # the repository's top-level pipelines/ folder
    site = installed / "site"
    assert {pkg for pkg in packages if not (site / pkg.replace(".", "/") / "__init__.py").is_file()} == set()


def test_every_preset_loads_beside_a_users_own_pipelines_package(installed, tmp_path):
    project = tmp_path / "project"
    (project / "pipelines").mkdir(parents=True)
    (project / "pipelines" / "__init__.py").write_text('OWNER = "user project"\n')
    (project / "pipelines" / "registry.py").write_text('raise ImportError("the user\'s module, not dali_sr\'s")\n')
    presets = sorted(str(p) for p in (REPO / "configs").glob("*.yml"))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(project), str(installed / "site")]))
    run = subprocess.run([sys.executable, "-c", _USER_CHECK, str(installed / "site"), *presets], cwd=project, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert len(run.stdout.splitlines()) == len(presets) >= 10


def test_the_installed_command_line_starts(installed, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(installed / "site"))
    run = subprocess.run([sys.executable, "-m", "dali_sr", "--help"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    for command in ("demo", "bench", "pack", "verify", "show"):
        assert command in run.stdout
