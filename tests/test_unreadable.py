"""Dataset folders that exist but may not be listed or opened: a one-line `DatasetError` naming the folder and the
fix, from `build_loader` and from `dali-sr show`, never a raw `PermissionError`.

Permissions are denied by patching the calls that meet them (`os.scandir`, `os.access`, `os.stat`), so the
tests also hold when they run as root, whom `chmod` does not stop; one test checks a real `chmod 000`.
"""
from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dali_sr
from conftest import clip_cfg, make_nn_clips, make_nn_pairs, paired_cfg
from dali_sr import DatasetError
from dali_sr.cli import main
from faults import one_line


def _deny(monkeypatch, name: str, denied: str) -> None:
    """Make `os.<name>(denied, ...)` raise `PermissionError`, as it does for a user without the permission."""
    real = getattr(os, name)

    def guarded(path, *args, **kwargs):
        if os.path.normpath(os.fspath(path)) == denied:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), denied)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, name, guarded)


def _deny_search(monkeypatch, denied: str) -> None:
    """Make `os.access(denied, X_OK)` false, as it is for a folder its user may not search (chmod 000)."""
    real = os.access

    def access(path, mode, *args, **kwargs):
        return False if os.fspath(path) == denied and mode & os.X_OK else real(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)


def _pairs(tmp_path: Path) -> dict:
    return make_nn_pairs(tmp_path, 2, [(16, 16)] * 4)


def _build_error(cfg: dict) -> str:
    with pytest.raises(DatasetError) as e:
        dali_sr.build_loader(cfg)
    return one_line(str(e.value))


def _listing_refused(folder: str) -> str:
    return f"cannot list {folder}: Permission denied; check it exists and is readable"


def _opening_refused(folder: str) -> str:
    return (f"cannot open dataset folder {folder}: Permission denied; make it and the folders above it readable "
            f"(chmod a+rx) or fix dataroot_gt / dataroot_lq")


@pytest.mark.parametrize("side", ["gt", "lq"])
def test_a_dataroot_that_cannot_be_listed_is_named(tmp_path, monkeypatch, side):
    roots = _pairs(tmp_path)
    _deny(monkeypatch, "scandir", roots[side])
    assert _build_error(paired_cfg(roots, 2)) == f"nn: {_listing_refused(roots[side])}"


def test_show_names_a_dataroot_that_cannot_be_listed_in_one_line(tmp_path, monkeypatch, capsys):
    roots = _pairs(tmp_path)
    cfg = tmp_path / "c.yml"
    cfg.write_text(f"type: PairedImageDataset\nname: nn\nscale: 2\ngt_size: 16\ndataroot_gt: {roots['gt']}\n"
                   f"dataroot_lq: {roots['lq']}\nbatch_size_per_gpu: 2\ndevice: cpu\n")
    _deny(monkeypatch, "scandir", roots["gt"])
    assert main(["show", str(cfg), "--quiet"]) == 2
    assert one_line(capsys.readouterr().err.strip()) == f"dali-sr show: error: nn: {_listing_refused(roots['gt'])}"


def test_a_dataroot_that_cannot_be_searched_is_named_also_with_a_meta_info_file(tmp_path, monkeypatch):
    roots = _pairs(tmp_path)
    meta = tmp_path / "meta_info.txt"
    meta.write_text("".join(f"img{k:03d}.png\n" for k in range(4)))
    _deny_search(monkeypatch, roots["gt"])
    cfg = paired_cfg(roots, 2, meta_info_file=str(meta))
    assert _build_error(cfg) == f"nn: {_opening_refused(roots['gt'])}"


def test_a_dataroot_under_a_folder_that_cannot_be_searched_is_named(tmp_path, monkeypatch):
    roots = _pairs(tmp_path)
    _deny(monkeypatch, "stat", roots["lq"])  # what stat meets when a folder above may not be searched
    assert _build_error(paired_cfg(roots, 2)) == f"nn: {_opening_refused(roots['lq'])}"


@pytest.mark.parametrize("denied", ["lq", "gt/001"])
def test_clip_folders_that_cannot_be_listed_are_named(tmp_path, monkeypatch, denied):
    roots = make_nn_clips(tmp_path, 2, {"001": (4, 8, 10), "002": (4, 8, 10)})
    side, _, clip = denied.partition("/")
    folder = os.path.join(roots[side], clip) if clip else roots[side]
    _deny(monkeypatch, "scandir", folder)
    cfg = clip_cfg(roots, 2, kind="VideoClipDataset", meta_info_file=None)
    assert _build_error(cfg) == f"clips: {_listing_refused(folder)}"


def _real_permissions_command() -> list[str]:
    """The command prefix that runs Python under real folder permissions: as is for a user, as root without the
    capabilities that let root pass any permission (setpriv); [] where neither can be done."""
    if os.geteuid() != 0:
        return [sys.executable]
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return []
    drop = "-dac_override,-dac_read_search"
    command = [setpriv, f"--bounding-set={drop}", f"--inh-caps={drop}", sys.executable]
    probe = subprocess.run([*command, "-c", "pass"], capture_output=True)
    return command if probe.returncode == 0 else []


@pytest.mark.slow
def test_a_real_chmod_000_dataroot_is_named_by_show(tmp_path):
    command = _real_permissions_command()
    if not command:
        pytest.skip("runs as root and cannot drop root's permission override (setpriv)")
    roots = _pairs(tmp_path)
    cfg = tmp_path / "c.yml"
    cfg.write_text(f"type: PairedImageDataset\nname: nn\nscale: 2\ngt_size: 16\ndataroot_gt: {roots['gt']}\n"
                   f"dataroot_lq: {roots['lq']}\nbatch_size_per_gpu: 2\ndevice: cpu\n")
    os.chmod(roots["gt"], 0)
    try:
        proc = subprocess.run([*command, "-m", "dali_sr", "show", str(cfg), "--quiet"], capture_output=True,
                              text=True, timeout=300)
    finally:
        os.chmod(roots["gt"], 0o755)
    assert proc.returncode == 2, proc.stderr
    assert one_line(proc.stderr.strip()) == f"dali-sr show: error: nn: {_opening_refused(roots['gt'])}"
