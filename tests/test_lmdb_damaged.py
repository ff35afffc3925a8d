"""An LMDB copied short or in a folder that may not be read: one line naming it, never a crash of the process."""
from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

import dali_sr
from dali_sr import DatasetError
from conftest import make_nn_pairs, paired_cfg

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_a_truncated_data_mdb_is_named_not_a_crash(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, [(16, 16)] * 6, lmdb=True)
    data = Path(roots["gt_lmdb"]) / "data.mdb"
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])  # a copy cut short
    script = (f"import dali_sr\ntry:\n    dali_sr.build_loader({paired_cfg(roots, 2, lmdb=True)!r})\n"
              f"except dali_sr.DatasetError as e:\n    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"the process died ({proc.returncode}): {proc.stderr[-1000:]}"
    assert f"LMDB {roots['gt_lmdb']}: {data} is truncated: " in proc.stdout
    assert "copy it again or re-create it" in proc.stdout


def test_an_lmdb_folder_that_may_not_be_searched_is_named(tmp_path, monkeypatch):
    roots = make_nn_pairs(tmp_path, 2, [(16, 16)] * 2, lmdb=True)
    real = os.access

    def denied(path, mode, *args, **kwargs):
        return False if os.fspath(path) == roots["lq_lmdb"] else real(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", denied)
    with pytest.raises(DatasetError, match=f"cannot open LMDB folder {roots['lq_lmdb']}: {os.strerror(errno.EACCES)}"):
        dali_sr.build_loader(paired_cfg(roots, 2, lmdb=True))


def test_a_file_given_as_lmdb_folder_is_named(tmp_path):
    roots = make_nn_pairs(tmp_path, 2, [(16, 16)] * 2, lmdb=True)
    cfg = paired_cfg(roots, 2, lmdb=True, dataroot_lq=str(Path(roots["lq_lmdb"]) / "data.mdb"))
    with pytest.raises(DatasetError, match="data.mdb is a file, not an LMDB folder"):
        dali_sr.build_loader(cfg)
