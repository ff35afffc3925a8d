"""How far the TensorFlow SR loader's LQ (PIL's bicubic of float Y, `scipy.misc.imresize(y, 1 / s, 'bicubic', 'F')`)
is from dali_sr's (MATLAB's antialiased bicubic `imresize`), on real photographs.

    python -m benchmarks.tf_bicubic --json benchmarks/results/cpu-tf-bicubic-DATE.json

Reads the GT images of an LMDB (default: the two Set14 photographs BasicSR's own tests ship,
`tests/fixtures/basicsr/gt.lmdb`), takes their float Y (BasicSR's BT.601, not rounded), and for each scale
downscales (a) each whole image cut to multiples of the scale and (b) every 96 x 96 patch of the
`dali-sr pack --format tf-patches` grid (what the loader resizes), with PIL's `F`-mode bicubic (what
`imresize(..., mode='F')` ran) and with MATLAB's. Differences are in Y levels (0-255), over all pixels, and
over the pixels at least 2 LQ pixels from a border (where the two filters see the same taps). It also measures
how far the Y of a rounded RGB bicubic LQ is from the bicubic of the float Y (what dali_sr makes with
`color: y` and GT only), on the whole images.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Optional

import cv2
import lmdb
import numpy as np
import PIL
from PIL import Image

from dali_sr.bench.report import environment
from dali_sr.degrade.bicubic import downscale
from dali_sr.prep.tf_patches import image_patches

from .command import run_command

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "basicsr" / "gt.lmdb"
INTERIOR = 2  # LQ pixels from the border


def float_y(bgr: np.ndarray) -> np.ndarray:
    """BasicSR's `bgr2ycbcr(y_only=True)` in levels (0-255), not rounded, float64."""
    return np.dot(bgr.astype(np.float32) / 255.0, [24.966, 128.553, 65.481]) + 16.0


def pil_bicubic(y: np.ndarray, scale: int) -> np.ndarray:
    """`scipy.misc.imresize(y, 1 / scale, 'bicubic', mode='F')`: PIL's bicubic resize of a float32 image."""
    h, w = y.shape
    return np.asarray(Image.fromarray(y.astype(np.float32), mode="F").resize((w // scale, h // scale),
                                                                            Image.BICUBIC), np.float64)


def differences(pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    """Max and mean |PIL - MATLAB| in levels, over all LQ pixels and over the interior ones."""
    whole = np.concatenate([np.abs(a - b).ravel() for a, b in pairs])
    inner = np.concatenate([np.abs(a - b)[INTERIOR:-INTERIOR, INTERIOR:-INTERIOR].ravel() for a, b in pairs])
    return {"max": round(float(whole.max()), 4), "mean": round(float(whole.mean()), 4),
            "interior_max": round(float(inner.max()), 4), "interior_mean": round(float(inner.mean()), 4),
            "pixels": int(whole.size)}


def measure(images: dict[str, np.ndarray], scale: int, patch: int) -> dict:
    whole, patches = [], []
    for y in images.values():
        cut = y[:y.shape[0] - y.shape[0] % scale, :y.shape[1] - y.shape[1] % scale]
        whole.append((pil_bicubic(cut, scale), downscale(cut, scale).astype(np.float64)))
        for raw in image_patches(np.ascontiguousarray(y.astype(np.float32)), patch):
            p = np.frombuffer(raw, np.float32).reshape(patch, patch)
            patches.append((pil_bicubic(p, scale), downscale(p, scale).astype(np.float64)))
    return {"whole_images": differences(whole), f"patches_{patch}": differences(patches)}


def y_of_rgb_lq(colour: dict[str, np.ndarray], scale: int) -> dict:
    """Max and mean |Y(uint8 RGB bicubic) - bicubic(float Y)| in levels over the whole images."""
    pairs = []
    for bgr in colour.values():
        cut = bgr[:bgr.shape[0] - bgr.shape[0] % scale, :bgr.shape[1] - bgr.shape[1] % scale]
        lq = np.clip(np.floor(downscale(cut, scale) + 0.5), 0, 255).astype(np.uint8)
        pairs.append((float_y(lq), downscale(float_y(cut), scale).astype(np.float64)))
    d = np.concatenate([np.abs(a - b).ravel() for a, b in pairs])
    return {"max": round(float(d.max()), 4), "mean": round(float(d.mean()), 4), "pixels": int(d.size)}


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.tf_bicubic", description=__doc__.split("\n\n")[0])
    p.add_argument("--lmdb", default=str(FIXTURES), help="LMDB of GT photographs (default: BasicSR's Set14 fixtures)")
    p.add_argument("--scales", default="2,3,4", help="scales, comma-separated (default 2,3,4)")
    p.add_argument("--patch", type=int, default=96, help="patch side (default 96)")
    p.add_argument("--json", default=None, metavar="OUT", help="also write the figures to OUT")
    return p


def run(args: argparse.Namespace, argv: Optional[list[str]] = None) -> int:
    with lmdb.open(args.lmdb, readonly=True, lock=False) as env, env.begin() as txn:
        colour = {key.decode(): cv2.imdecode(np.frombuffer(value, np.uint8), cv2.IMREAD_COLOR)
                  for key, value in txn.cursor()}
    images = {key: float_y(bgr) for key, bgr in colour.items()}
    results = {}
    for scale in (int(s) for s in args.scales.split(",")):
        results[str(scale)] = {**measure(images, scale, args.patch - args.patch % scale),
                               "y_of_rgb_lq": y_of_rgb_lq(colour, scale)}
        for what, d in results[str(scale)].items():
            if what == "y_of_rgb_lq":
                print(f"x{scale} Y of the rounded RGB bicubic against the bicubic of Y: max {d['max']:.3f}, mean "
                      f"{d['mean']:.4f} levels")
                continue
            print(f"x{scale} {what}: max {d['max']:.3f}, mean {d['mean']:.4f} levels (interior: max "
                  f"{d['interior_max']:.4f}, mean {d['interior_mean']:.5f})")
    command = shlex.join(["python", "-m", "benchmarks.tf_bicubic", *(sys.argv[1:] if argv is None else argv)])
    report = {**environment(), "command": command, "pillow": PIL.__version__, "images": sorted(images),
              "patch": args.patch, "levels": results}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    return run_command(parser(), lambda args: run(args, argv), argv)


if __name__ == "__main__":
    sys.exit(main())
