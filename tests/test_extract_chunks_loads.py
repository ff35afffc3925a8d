"""What `dali-sr extract-chunks` writes loads in SingleImageDataset: every tile of the Set14 photographs, with
its reference, mask and centres, against cv2 references computed from the written files."""
from __future__ import annotations

from pathlib import Path

import cv2
import torch

import dali_sr
from dali_sr.prep.chunk_plan import ChunkOptions
from dali_sr.prep.extract_chunks import extract_chunks
from test_dlas_chunks import assert_matches, chunk_cfg, photos

SCALE = 2


def test_every_extracted_tile_loads_with_its_reference_and_centre(tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    for name, image in photos().items():
        cv2.imwrite(str(src / f"{name}.png"), image)
    opts = ChunkOptions(crop_sizes=(96, 128), steps=(64, 96), thres_size=32, resizes=(0.5, 0.375), min_size=64)
    extract_chunks(str(src), str(tmp_path / "chunks"), opts, workers=2, progress=False)
    centers = {}
    for folder in (tmp_path / "chunks").iterdir():
        centers.update(torch.load(folder / "centers.pt", weights_only=True))
    tiles = sorted(Path(tmp_path / "chunks").glob("*/0*.jpg"))
    assert sorted(int(t.stem) for t in tiles) == sorted(centers)  # one centre per tile, ids unique

    seen = []
    with dali_sr.build_loader(chunk_cfg(str(tmp_path / "chunks"), SCALE, need_ref=True, strict=True)) as loader:
        for batch in loader:
            assert_matches(batch, None, 1, SCALE, True, centers)
            seen += batch["GT_path"]
    assert sorted(seen) == [str(t) for t in tiles]
