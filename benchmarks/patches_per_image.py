"""Patches per second of GT-only Y training on large PNGs, one window per decode against many (`patches_per_image`).

    python -m benchmarks.patches_per_image --json benchmarks/results/cpu-2core-patches-per-image-DATE.json

Writes `--images` natural-looking `--height` x `--width` PNGs (BasicSR's level 1) to a temporary folder and
loads them as the TensorFlow SR loader's recipe does (`configs/div2k_x4_gt_only_y.yml`: GT 96, x4 bicubic
LQ, Y, h+v flips, batch 64) on the CPU, once per `--patches` value N of `patches_per_image`. Each run builds a
loader, skips `--warmup` batches (start-up), then times `--batches` batches across epochs. With N > 1 the
windows of 16 images are shuffled together (a group), so the warm-up is at least one group's batches and the
timing at least two more groups': every timed batch pays its share of decodes. Keep `--images` above the 32
decoded images the source keeps, or nothing is decoded twice.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from dali_sr import build_loader
from dali_sr.bench.report import environment
from dali_sr.datasets.plan import IMAGES_PER_GROUP
from dali_sr.synthetic.images import natural_image

from .command import run_command


def write_images(root: Path, n: int, height: int, width: int) -> None:
    for k in range(n):
        img = natural_image(np.random.default_rng([7, k]), height, width)
        cv2.imwrite(str(root / f"{k:04d}.png"), img, [cv2.IMWRITE_PNG_COMPRESSION, 1])


def batch_counts(patches: int, args: argparse.Namespace) -> tuple[int, int]:
    """(warm-up, timed) batches for N = `patches`: whole groups of windows when N > 1."""
    if patches == 1:
        return args.warmup, args.batches
    group = math.ceil(IMAGES_PER_GROUP * patches / args.batch)
    return max(args.warmup, group), max(args.batches, 2 * group)


def loader_config(root: Path, patches: int, warmup: int, batches: int, args: argparse.Namespace) -> dict:
    return {"type": "PairedImageDataset", "scale": 4, "dataroot_gt": str(root), "gt_size": 96, "color": "y",
            "use_hflip": True, "use_vflip": True, "batch_size_per_gpu": args.batch, "device": "cpu",
            "dataset_enlarge_ratio": max(1, args.batch * (warmup + batches) // (args.images * patches)),
            "patches_per_image": patches, "num_threads": args.threads, "seed": 0}


def patches_per_second(cfg: dict, warmup: int, batches: int) -> float:
    """Windows per second over `batches` batches after `warmup`, iterating epochs as needed."""
    done, started, epoch = 0, 0.0, 0
    with build_loader(cfg) as loader:
        while done < warmup + batches:
            loader.set_epoch(epoch)
            for batch in loader:
                done += 1
                if done == warmup:
                    started = time.perf_counter()
                if done == warmup + batches:
                    break
            epoch += 1
        seconds = time.perf_counter() - started
        return batches * len(batch["gt"]) / seconds


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.patches_per_image", description=__doc__.split("\n\n")[0])
    p.add_argument("--patches", default="1,100", help="values of patches_per_image, comma-separated (default 1,100)")
    p.add_argument("--images", type=int, default=64, help="PNGs written (default 64)")
    p.add_argument("--height", type=int, default=800, help="image height (default 800)")
    p.add_argument("--width", type=int, default=1200, help="image width (default 1200)")
    p.add_argument("--batch", type=int, default=64, help="batch_size_per_gpu (default 64)")
    p.add_argument("--threads", type=int, default=2, help="num_threads (default 2)")
    p.add_argument("--warmup", type=int, default=2, help="batches before timing, at least (default 2)")
    p.add_argument("--batches", type=int, default=20, help="timed batches, at least (default 20)")
    p.add_argument("--json", default=None, metavar="OUT", help="also write the figures to OUT")
    return p


def run(args: argparse.Namespace, argv: Optional[list[str]] = None) -> int:
    values = [int(v) for v in args.patches.split(",")]
    rates, counts = {}, {}
    load = [round(os.getloadavg()[0], 2)]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_images(root, args.images, args.height, args.width)
        for n in values:
            warmup, batches = counts[n] = batch_counts(n, args)
            rates[n] = patches_per_second(loader_config(root, n, warmup, batches, args), warmup, batches)
            print(f"patches_per_image {n}: {rates[n]:.0f} patches/s ({batches} batches after {warmup})")
    load.append(round(os.getloadavg()[0], 2))
    base = rates[values[0]]
    command = shlex.join(["python", "-m", "benchmarks.patches_per_image", *(sys.argv[1:] if argv is None else argv)])
    report = {**environment(), "command": command,
              "images": args.images, "size": [args.height, args.width], "batch": args.batch, "threads": args.threads,
              "load_average_1min_before_after": load,
              "warmup_and_timed_batches": {str(n): list(c) for n, c in counts.items()},
              "patches_per_s": {str(n): round(r, 1) for n, r in rates.items()},
              "speedup_over_first": {str(n): round(r / base, 2) for n, r in rates.items()}}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    return run_command(parser(), lambda args: run(args, argv), argv)


if __name__ == "__main__":
    sys.exit(main())
