"""How long a SingleImageDataset loader takes to index a chunked dataset: the first start (every folder listed,
read and the JSON cache written) and a start that finds the cache.

    python -m benchmarks.dlas_index --tiles 100000 --json benchmarks/results/cpu-2core-dlas-index-DATE.json

Writes `--tiles` tiles in folders of `--per-folder` (DL-Art-School's layout: `%08d.jpg` tiles, `ref.jpg`,
`centers.pt`; a folder's files hard links of one small JPEG, so writing is quick and reading is what indexing
costs) to a temporary folder, then times `--runs` first starts (the cache deleted before each) and `--runs`
cached starts. The files are in the page cache: these are start-up costs, not disk reads.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import cv2
import numpy as np
import torch

from dali_sr import load_config
from dali_sr.bench.report import environment
from dali_sr.datasets.dlas.chunk_cache import CACHE_NAME
from dali_sr.datasets.dlas.tile_index import build_tile_index

TILE = 32


def write_dataset(root: Path, tiles: int, per_folder: int) -> None:
    """`tiles` tiles in folders of `per_folder`, each with `ref.jpg` and `centers.pt`."""
    jpeg = root / "tile.jpg"
    cv2.imwrite(str(jpeg), np.random.default_rng(0).integers(0, 256, (TILE, TILE, 3), dtype=np.uint8))
    for first in range(0, tiles, per_folder):
        folder = root / "chunks" / f"img{first // per_folder:06d}"
        folder.mkdir(parents=True)
        (folder / "ref.jpg").write_bytes(jpeg.read_bytes())
        ids = range(first + 1, min(first + per_folder, tiles) + 1)
        for tile_id in ids:
            os.link(folder / "ref.jpg", folder / f"{tile_id:08d}.jpg")
        torch.save({i: ((TILE // 2, TILE // 2), TILE // 2) for i in ids}, folder / "centers.pt")


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.dlas_index", description=__doc__.split("\n\n")[0])
    p.add_argument("--tiles", type=int, default=100_000, help="tiles in the dataset (default 100000)")
    p.add_argument("--per-folder", type=int, default=100, help="tiles per source-image folder (default 100)")
    p.add_argument("--runs", type=int, default=3, help="timed starts of each kind (default 3)")
    p.add_argument("--json", default=None, metavar="OUT", help="also write the figures to OUT")
    return p


def main(argv: Optional[list[str]] = None) -> int:
    args = parser().parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_dataset(root, args.tiles, args.per_folder)
        cfg = load_config({"mode": "single_image_extensible", "name": "index", "paths": str(root / "chunks"),
                           "scale": 2, "phase": "val", "need_ref": True, "strict": True, "device": "cpu"})

        def start() -> tuple[float, int]:
            began = time.perf_counter()
            index = build_tile_index(cfg)
            return time.perf_counter() - began, len(index)

        first, cached, samples = [], [], set()
        for _ in range(args.runs):
            (root / "chunks" / CACHE_NAME).unlink(missing_ok=True)
            seconds, n = start()
            first.append(seconds)
            samples.add(n)
        for _ in range(args.runs):
            seconds, n = start()
            cached.append(seconds)
            samples.add(n)
    report = {**environment(), "command": "python -m benchmarks.dlas_index " + " ".join(argv or sys.argv[1:]),
              "tiles": args.tiles, "per_folder": args.per_folder, "samples": sorted(samples),
              "first_start_s": [round(s, 3) for s in first], "cached_start_s": [round(s, 3) for s in cached],
              "first_start_median_s": round(statistics.median(first), 3),
              "cached_start_median_s": round(statistics.median(cached), 3)}
    print(f"{args.tiles} tiles: first start {report['first_start_median_s']} s, cached "
          f"{report['cached_start_median_s']} s (medians of {args.runs})")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
