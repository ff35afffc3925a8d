"""Shared test helpers: nearest-neighbour paired datasets, the BasicSR fixtures, GPU skip."""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from dali_sr.storage.lmdb_writer import write_lmdb

# LMDBs written by BasicSR's own code (tests/fixtures/basicsr/README.md says how): two real photographs, paired.
BASICSR_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "basicsr"


def nearest_upsample(img: np.ndarray, scale: int) -> np.ndarray:
    """Each pixel becomes a scale x scale block (axis 0 and 1 of HWC, or -2/-1 of ...CHW)."""
    return img.repeat(scale, axis=0).repeat(scale, axis=1)


def make_nn_pairs(root: Path, scale: int, sizes: list[tuple[int, int]], seed: int = 0, ext: str = ".png",
                  lmdb: bool = False, tmpl: str = "{}") -> dict[str, str]:
    """Random LQ images and GT = nearest-upsampled LQ, as folders (and LMDBs if `lmdb`).

    Returns the dataroots: `gt`, `lq` folders, plus `gt_lmdb`, `lq_lmdb`.
    """
    rng = np.random.default_rng(seed)
    gt_dir, lq_dir = root / "gt", root / "lq"
    gt_dir.mkdir(parents=True)
    lq_dir.mkdir(parents=True)
    items = {"gt": [], "lq": []}
    for k, (h, w) in enumerate(sizes):
        lq = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        gt = nearest_upsample(lq, scale)
        name = f"img{k:03d}"
        for side, img, folder, stem in (("lq", lq, lq_dir, tmpl.format(name)), ("gt", gt, gt_dir, name)):
            params = [cv2.IMWRITE_PNG_COMPRESSION, 1] if ext == ".png" else [cv2.IMWRITE_JPEG_QUALITY, 100]
            data = cv2.imencode(ext, img, params)[1].tobytes()
            (folder / (stem + ext)).write_bytes(data)
            items[side].append((stem, data, img.shape))
    roots = {"gt": str(gt_dir), "lq": str(lq_dir)}
    if lmdb:
        for side in ("gt", "lq"):
            roots[f"{side}_lmdb"] = str(root / f"{side}.lmdb")
            write_lmdb(roots[f"{side}_lmdb"], items[side])
    return roots


def paired_cfg(roots: dict[str, str], scale: int, lmdb: bool = False, **extra) -> dict:
    """A PairedImageDataset section over `make_nn_pairs` roots, CPU, training by default."""
    cfg = {"type": "PairedImageDataset", "name": "nn", "scale": scale,
           "dataroot_gt": roots["gt_lmdb" if lmdb else "gt"], "dataroot_lq": roots["lq_lmdb" if lmdb else "lq"],
           "io_backend": {"type": "lmdb" if lmdb else "disk"}, "gt_size": 8 * scale, "use_hflip": True,
           "use_rot": True, "batch_size_per_gpu": 4, "device": "cpu", "num_threads": 2}
    if extra.get("phase", "train") != "train":
        del cfg["batch_size_per_gpu"]  # whole-image validation: one image per batch by default
    cfg.update(extra)
    return cfg


@pytest.fixture
def basicsr_fixtures() -> Path:
    """BasicSR's own test LMDBs (read them only: copy them before any test that writes)."""
    return BASICSR_FIXTURES


def has_gpu() -> bool:
    from dali_sr.device import gpu_count, torch_has_cuda

    return gpu_count() > 0 and torch_has_cuda()


def pytest_collection_modifyitems(config, items):
    if has_gpu():
        return
    skip = pytest.mark.skip(reason="no CUDA GPU visible to DALI and PyTorch (run them on a machine with a CUDA GPU)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)



def frame_tag(clip: int, frame: int) -> int:
    """The value every pixel of channel R carries in frame `frame` of clip `clip` (`make_nn_clips`)."""
    return (clip * 40 + frame) % 256


def make_nn_clips(root: Path, scale: int, clips: dict[str, tuple[int, int, int]], seed: int = 0, ext: str = ".png",
                  lmdb: bool = False, stem=lambda i: f"{i:08d}") -> dict[str, str]:
    """Clip folders `lq/<clip>/<stem>.png` and `gt/...` with GT = nearest-upsampled LQ.

    `clips` maps clip name -> (frames, h, w). Channel R of every frame is the constant
    `frame_tag(clip number, frame)`, so tests read back which frame landed where. Writes a
    clip meta file `meta_info.txt` (`clip count (H,W,3)`) and, if `lmdb`, `lq.lmdb`/`gt.lmdb`
    with keys `clip/stem`. Returns roots `gt`, `lq`, `meta`, `gt_lmdb`, `lq_lmdb`.
    """
    rng = np.random.default_rng(seed)
    items = {"gt": [], "lq": []}
    meta = []
    for c, (clip, (count, h, w)) in enumerate(clips.items()):
        meta.append(f"{clip} {count} ({h * scale},{w * scale},3)")
        for i in range(count):
            lq = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            lq[..., 2] = frame_tag(c, i)  # BGR: index 2 is R
            for side, img in (("lq", lq), ("gt", nearest_upsample(lq, scale))):
                params = [cv2.IMWRITE_PNG_COMPRESSION, 1] if ext == ".png" else [cv2.IMWRITE_JPEG_QUALITY, 100]
                data = cv2.imencode(ext, img, params)[1].tobytes()
                path = root / side / clip / (stem(i) + ext)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                items[side].append((f"{clip}/{stem(i)}", data, img.shape))
    (root / "meta_info.txt").write_text("\n".join(meta) + "\n")
    roots = {"gt": str(root / "gt"), "lq": str(root / "lq"), "meta": str(root / "meta_info.txt")}
    if lmdb:
        for side in ("gt", "lq"):
            roots[f"{side}_lmdb"] = str(root / f"{side}.lmdb")
            write_lmdb(roots[f"{side}_lmdb"], items[side])
    return roots


def clip_cfg(roots: dict[str, str], scale: int, kind: str = "REDSDataset", lmdb: bool = False, **extra) -> dict:
    """A clip dataset section over `make_nn_clips` roots, CPU, training by default."""
    cfg = {"type": kind, "name": "clips", "scale": scale, "dataroot_gt": roots["gt_lmdb" if lmdb else "gt"],
           "dataroot_lq": roots["lq_lmdb" if lmdb else "lq"], "io_backend": {"type": "lmdb" if lmdb else "disk"},
           "gt_size": 4 * scale, "use_hflip": True, "use_rot": True, "batch_size_per_gpu": 3, "device": "cpu",
           "num_threads": 2}
    if kind.startswith("REDS") or kind == "VideoClipDataset":
        cfg["num_frame"] = 3
    if kind.startswith("REDS"):
        cfg["val_partition"] = "REDS4"
    cfg.update(extra)
    if cfg.get("phase", "train") != "train":
        cfg.pop("batch_size_per_gpu", None)
    return cfg


def exif_tiff(orientation: int) -> bytes:
    """A little-endian Exif TIFF structure whose IFD0 holds only the Orientation tag."""
    return b"II*\x00" + struct.pack("<IH", 8, 1) + struct.pack("<HHIHH", 0x0112, 3, 1, orientation, 0) + b"\0" * 4


def with_orientation(data: bytes, orientation: int) -> bytes:
    """PNG or JPEG bytes with an Exif orientation added (PNG `eXIf` chunk after IHDR; JPEG APP1 after SOI)."""
    tiff = exif_tiff(orientation)
    if data[:4] == b"\x89PNG":
        chunk = b"eXIf" + tiff
        return data[:33] + struct.pack(">I", len(tiff)) + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[33:]
    app1 = b"Exif\x00\x00" + tiff
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:]
