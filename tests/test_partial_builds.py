"""Partial LMDB builds of every command that writes one (`pack`, `downscale`, `extract-tfrecords --lmdb`): a run
stopped right after renaming its finished build leaves no state file in the output."""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from dali_sr.prep.downscale import downscale
from dali_sr.prep.extract_tfrecords import extract_tfrecords
from dali_sr.prep.pack import pack
from dali_sr.prep.partial_lmdb import STATE_FILE, partial_path
from dali_sr.storage.tfrecord import RecordWriter, encode_example

LMDB_FILES = ["data.mdb", "lock.mdb", "meta_info.txt"]


def _stop_right_after_rename(monkeypatch, partial: Path) -> None:
    real = os.replace

    def replace(a, b, *args, **kwargs):
        real(a, b, *args, **kwargs)
        if Path(a) == partial:
            raise RuntimeError("stopped right after the rename")

    monkeypatch.setattr(os, "replace", replace)


def _images(folder: Path) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(3):
        cv2.imwrite(str(folder / f"{k:04d}.png"), rng.integers(0, 256, (16, 12, 3), dtype=np.uint8))
    return folder


def _ffhq_records(path: Path) -> Path:
    rng = np.random.default_rng(1)
    with open(path, "wb") as f:
        writer = RecordWriter(f)
        for _ in range(3):
            img = rng.integers(0, 256, (3, 8, 8), dtype=np.uint8)
            writer.write(encode_example({"shape": list(img.shape), "data": img.tobytes()}))
    return path


def _run(command: str, tmp_path: Path) -> None:
    if command == "pack":
        pack(str(_images(tmp_path / "src")), str(tmp_path / "out.lmdb"), progress=False)
    elif command == "downscale":
        downscale(str(_images(tmp_path / "src")), str(tmp_path / "out.lmdb"), 2, progress=False)
    else:
        extract_tfrecords(str(_ffhq_records(tmp_path / "ffhq-r03.tfrecords")), str(tmp_path / "out"), lmdb=True,
                          progress=False)


@pytest.mark.parametrize("command", ["pack", "downscale", "extract-tfrecords"])
def test_a_finished_lmdb_never_holds_the_state_file(tmp_path, monkeypatch, command):
    dst = tmp_path / ("out/ffhq_8.lmdb" if command == "extract-tfrecords" else "out.lmdb")
    _stop_right_after_rename(monkeypatch, partial_path(str(dst)))
    with pytest.raises(RuntimeError, match="stopped right after the rename"):
        _run(command, tmp_path)
    monkeypatch.undo()
    assert sorted(p.name for p in dst.iterdir()) == LMDB_FILES
    assert STATE_FILE not in os.listdir(dst)
