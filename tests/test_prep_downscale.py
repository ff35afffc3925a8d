"""`dali-sr downscale`: GT folder or LMDB -> LQ folder or LMDB with MATLAB's bicubic, resumable."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import dali_sr
from conftest import paired_cfg
from dali_sr.cli import main
from dali_sr.errors import DatasetError
from dali_sr.prep import downscale as downscale_mod
from dali_sr.prep.downscale import downscale
from dali_sr.prep.pack import pack
from dali_sr.storage.meta_files import read_meta_info_txt
from test_gt_only import BOUNDARY, basicsr_imresize


@pytest.fixture
def gt_folder(tmp_path) -> Path:
    rng = np.random.default_rng(3)
    folder = tmp_path / "gt"
    folder.mkdir()
    for k, (h, w) in enumerate([(48, 64), (50, 41), (32, 32)]):
        cv2.imwrite(str(folder / f"{k:04d}.png"), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    cv2.imwrite(str(folder / "gray.png"), rng.integers(0, 256, (20, 24), dtype=np.uint8))
    return folder


def _matlab_lq(path: Path, scale: int) -> np.ndarray:
    """BasicSR's LR rule: modcrop, then imresize(1 / scale) of [0, 1] floats, then uint8 (clamped, rounded)."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    h, w = img.shape[0] - img.shape[0] % scale, img.shape[1] - img.shape[1] % scale
    img = img[:h, :w]
    out = basicsr_imresize((img[..., None] if img.ndim == 2 else img) / 255.0, scale) * 255
    return out[..., 0] if img.ndim == 2 else out


@pytest.mark.parametrize("scale", [2, 4])
def test_folder_to_folder_is_matlabs_bicubic(gt_folder, tmp_path, scale):
    report = downscale(str(gt_folder), str(tmp_path / "lq"), scale, progress=False)
    assert (report.images, report.written, report.resumed) == (4, 4, 0)
    for path in sorted(gt_folder.iterdir()):
        got = cv2.imread(str(tmp_path / "lq" / path.name), cv2.IMREAD_UNCHANGED)
        ref = _matlab_lq(path, scale)
        assert got.shape == ref.shape
        differ = np.abs(np.clip(np.floor(ref + 0.5), 0, 255) - got) > 0
        assert not (differ & (np.abs(ref - np.floor(ref) - 0.5) >= BOUNDARY)).any()


def test_an_lmdb_to_an_lmdb_gives_the_loaders_own_gt_only_lq(gt_folder, tmp_path):
    """Stored LQ written by downscale = the LQ a GT-only loader makes from the same GT (validation, whole images)."""
    pack(str(gt_folder), str(tmp_path / "gt.lmdb"), progress=False)
    downscale(str(tmp_path / "gt.lmdb"), str(tmp_path / "lq.lmdb"), 2, progress=False)
    lines, problems = read_meta_info_txt(str(tmp_path / "lq.lmdb" / "meta_info.txt"))
    assert problems == [] and [line.key for line in lines] == ["0000", "0001", "0002", "gray"]
    assert lines[1].shape == (25, 20, 3) and lines[3].shape == (10, 12, 1) and lines[0].tag == "1"
    roots = {"gt_lmdb": str(tmp_path / "gt.lmdb"), "lq_lmdb": str(tmp_path / "lq.lmdb")}
    stored = paired_cfg(roots, 2, lmdb=True, phase="val")
    made = {k: v for k, v in stored.items() if k != "dataroot_lq"}
    with dali_sr.build_loader(stored) as a, dali_sr.build_loader(made) as b:
        for x, y in zip(a, b):
            assert x["gt_path"] == y["gt_path"] and (x["lq"] == y["lq"]).all()


def test_an_interrupted_lmdb_run_resumes(gt_folder, tmp_path, monkeypatch):
    real, calls = downscale_mod._lq_value, [0]

    def fail_third(images, key, scale):
        calls[0] += 1
        if calls[0] == 3:
            raise DatasetError("interrupted")
        return real(images, key, scale)

    monkeypatch.setattr(downscale_mod, "_lq_value", fail_third)
    with pytest.raises(DatasetError, match="interrupted"):
        downscale(str(gt_folder), str(tmp_path / "lq.lmdb"), 2, workers=1, progress=False)
    assert not (tmp_path / "lq.lmdb").exists() and (tmp_path / "lq.lmdb.partial").is_dir()
    with pytest.raises(DatasetError, match="holds an unfinished downscale of lq.lmdb; pass --resume"):
        downscale(str(gt_folder), str(tmp_path / "lq.lmdb"), 2, progress=False)
    monkeypatch.setattr(downscale_mod, "_lq_value", real)
    report = downscale(str(gt_folder), str(tmp_path / "lq.lmdb"), 2, resume=True, progress=False)
    assert (report.images, report.resumed, report.written) == (4, 2, 2)
    downscale(str(gt_folder), str(tmp_path / "fresh.lmdb"), 2, progress=False)
    assert (tmp_path / "lq.lmdb" / "meta_info.txt").read_text() == (tmp_path / "fresh.lmdb" / "meta_info.txt").read_text()


def test_a_folder_run_resumes_and_refuses_a_used_folder(gt_folder, tmp_path, capsys):
    out = tmp_path / "lq"
    out.mkdir()
    (out / "0000.png").write_bytes(b"")  # unrelated content
    assert main(["downscale", str(gt_folder), str(out), "--scale", "2", "--quiet"]) == 2
    assert "exists and is not empty; pass --resume" in capsys.readouterr().err
    (out / "0000.png").unlink()
    downscale(str(gt_folder), str(out), 2, progress=False)
    (out / "0001.png").unlink()
    assert main(["downscale", str(gt_folder), str(out), "--scale", "2", "--resume", "--quiet"]) == 0
    assert "downscaled 4 images x2 into" in capsys.readouterr().out and "1 written, 3 kept" not in ""
    assert (out / "0001.png").is_file()


def test_bad_input_is_named(gt_folder, tmp_path):
    (gt_folder / "0005.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    with pytest.raises(DatasetError, match="0005.png: OpenCV cannot decode this image"):
        downscale(str(gt_folder), str(tmp_path / "lq"), 2, progress=False)
    with pytest.raises(dali_sr.ConfigError, match="--scale must be an integer of at least 2"):
        downscale(str(gt_folder), str(tmp_path / "lq"), 1, progress=False)
