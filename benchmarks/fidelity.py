"""`python -m benchmarks.fidelity PATH`: how far the degradation steps DALI cannot reproduce exactly are from BasicSR's.

On the photographs at PATH (a folder or an LMDB; a square window of each, `--crop`), each step runs in the
DALI graph (CPU) and in PyTorch as BasicSR runs it, on the same input and with the same parameters, and
the two results are compared by PSNR (dB, on [0, 1]; higher is closer):

- resize `bicubic` (DALI: Keys' cubic a = -0.5; torch: a = -0.75) and `area` (torch: adaptive average
  pooling; dali_sr: the same bin means at whole factors, DALI's antialiased linear filter otherwise) at several
  factors, and `bilinear` (the same
  formula in both, as a check);
- JPEG: DALI's JPEG distortion of the image rounded to levels (OpenCV's libjpeg on the CPU) against
  BasicSR's DiffJPEG at the same quality, next to DiffJPEG's own PSNR against its input (how strong the
  compression is);
- Poisson noise levels: dali_sr counts at 256 levels, BasicSR at 2^ceil(log2(distinct levels)): the share
  of images with fewer than 129 distinct levels (where the two differ);
- unsharp masking (`usm`, `gt_usm`): dali_sr's (two 1-D blur passes in float32) and BasicSR's `USMSharp` (one
  51 x 51 pass in float32), each against the same formula in float64: the largest difference and the share
  of values more than 1e-5 off. Both round their sums; where |residual| x 255 lies within ~1e-4 of the
  threshold that decides the mask, either may land on the other side.

Resizes also include `nearest` (the same formula in both: torch's floor(i / factor)).
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
from typing import Any, Callable, Optional, Sequence

import cv2
import numpy as np
import torch
from nvidia.dali import fn, pipeline_def

from dali_sr.bench.report import environment, write_json
from dali_sr.cli_types import positive_int
from dali_sr.degrade.chain import RESIZE_MODES, Usm
from dali_sr.errors import DaliSRError
from dali_sr.pipelines import degrade
from dali_sr.prep.stored_images import StoredImages

from . import basicsr_realesrgan as basicsr
from .command import run_command

PROG = "python -m benchmarks.fidelity"

FACTORS = (0.25, 0.37, 0.5, 0.8, 1.25)
QUALITIES = (30, 60, 90)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def photographs(path: str, crop: int) -> tuple[list[str], list[np.ndarray]]:
    """(names, RGB float32 HWC windows of `crop` x `crop`, centred) of every image at `path` at least that big."""
    names, images = [], []
    with StoredImages(path) as stored:
        for key in stored.keys():
            img = cv2.imdecode(stored.read(key), cv2.IMREAD_COLOR)
            if img is None or min(img.shape[:2]) < crop:
                continue
            top, left = (img.shape[0] - crop) // 2, (img.shape[1] - crop) // 2
            window = cv2.cvtColor(img[top:top + crop, left:left + crop], cv2.COLOR_BGR2RGB)
            names.append(key)
            images.append(window.astype(np.float32) / 255.0)
    if not images:
        raise DaliSRError(f"{path}: no decodable image of at least {crop}x{crop}; lower --crop or add photographs")
    return names, images


def _dali(build: Callable, *inputs: list) -> list[np.ndarray]:
    """Per-sample outputs of `build(*nodes)` on DALI's CPU backend, for per-sample `inputs`."""
    @pipeline_def(batch_size=len(inputs[0]), num_threads=2, device_id=None, enable_conditionals=True, seed=0)
    def pipe():
        nodes = fn.external_source(lambda: [list(x) for x in inputs], num_outputs=len(inputs), batch=True,
                                   layout=["HWC"] + [""] * (len(inputs) - 1))
        return build(*nodes)

    p = pipe()
    p.build()
    return [np.array(t) for t in p.run()[0]]


def _nchw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None]


def resize_fidelity(images: list[np.ndarray], mode: str, factor: float) -> list[float]:
    """PSNR per image of dali_sr's resize `mode` by `factor` against torch's `F.interpolate(scale_factor=...)`."""
    side = images[0].shape[0]
    out = math.floor(side * factor)
    roi = float(side) if mode == "area" else out / factor  # as `degrade.draws.resize_draw` sets them
    n = len(images)
    got = _dali(degrade.resize, images, [np.array([out, out], np.float32)] * n, [np.array([roi, roi], np.float32)] * n,
                [np.array(RESIZE_MODES.index(mode), np.int32)] * n)
    refs = [basicsr.interpolate(_nchw(x), scale_factor=factor, mode=mode)[0].numpy().transpose(1, 2, 0) for x in images]
    return [psnr(g, r) for g, r in zip(got, refs)]


def jpeg_fidelity(images: list[np.ndarray], quality: int) -> tuple[list[float], list[float]]:
    """(PSNR of dali_sr's JPEG against BasicSR's DiffJPEG, PSNR of DiffJPEG against its input) per image."""
    n = len(images)
    got = _dali(degrade.jpeg, images, [np.array(quality, np.int32)] * n)
    refs = [basicsr.jpeg(_nchw(x), torch.tensor([float(quality)]))[0].numpy().transpose(1, 2, 0) for x in images]
    return [psnr(g, r) for g, r in zip(got, refs)], [psnr(r, x) for r, x in zip(refs, images)]


def usm_float64(img: np.ndarray, radius: int = 51, weight: float = 0.5, threshold: float = 10) -> np.ndarray:
    """BasicSR's `USMSharp` formula in float64 (its Gaussian is separable: two 1-D passes, reflect-101 borders)."""
    g = cv2.getGaussianKernel(radius, 0)
    x = img.astype(np.float64)
    residual = x - cv2.sepFilter2D(x, cv2.CV_64F, g, g, borderType=cv2.BORDER_REFLECT_101)
    soft = cv2.sepFilter2D((np.abs(residual) * 255 > threshold).astype(np.float64), cv2.CV_64F, g, g,
                           borderType=cv2.BORDER_REFLECT_101)
    return soft * np.clip(x + weight * residual, 0, 1) + (1 - soft) * x


def usm_fidelity(images: list[np.ndarray]) -> dict[str, dict[str, float]]:
    """Largest difference and share of values more than 1e-5 apart: dali_sr's USM and BasicSR's `USMSharp`
    against the float64 formula, and against each other (over all images)."""
    ours = _dali(lambda x: degrade.usm(x, Usm("u", 1.0), False), images)
    sharpen = basicsr.USMSharp(51)
    theirs = [sharpen(_nchw(x))[0].numpy().transpose(1, 2, 0) for x in images]
    exact = [usm_float64(x) for x in images]

    def apart(a: list[np.ndarray], b: list[np.ndarray]) -> dict[str, float]:
        diffs = np.concatenate([np.abs(x.astype(np.float64) - y).ravel() for x, y in zip(a, b)])
        return {"max": float(f"{diffs.max():.2e}"), "share_above_1e-5": float(f"{np.mean(diffs > 1e-5):.2e}")}

    return {"dali_vs_float64": apart(ours, exact), "basicsr_vs_float64": apart(theirs, exact),
            "dali_vs_basicsr": apart(ours, theirs)}


def distinct_levels(images: list[np.ndarray]) -> list[int]:
    """Distinct values of each image rounded to 1/255 levels (what sets BasicSR's Poisson level count)."""
    return [len(np.unique(np.clip(np.round(x * 255), 0, 255))) for x in images]


def _row(values: list[float]) -> dict[str, Any]:
    """Median and minimum PSNR, "identical" for equal outputs (infinite PSNR, which JSON cannot hold)."""
    return {key: "identical" if math.isinf(v) else round(v, 2)
            for key, v in (("median", statistics.median(values)), ("min", min(values)))}


def _db(value: Any, width: int) -> str:
    return f"{value:>{width}.1f}" if isinstance(value, float) else f"{'same':>{width}}"


def fidelity(path: str, crop: int) -> dict[str, Any]:
    """Every figure of the module docstring, per step and setting (median and minimum over the images)."""
    names, images = photographs(path, crop)
    report: dict[str, Any] = {"images": names, "crop": crop, "resize": {}, "jpeg": {}}
    for mode in ("bicubic", "area", "bilinear", "nearest"):
        report["resize"][mode] = {str(f): _row(resize_fidelity(images, mode, f)) for f in FACTORS}
    for q in QUALITIES:
        versus, strength = jpeg_fidelity(images, q)
        report["jpeg"][str(q)] = {"dali_vs_diffjpeg": _row(versus), "diffjpeg_vs_input": _row(strength)}
    report["usm"] = usm_fidelity(images)
    levels = distinct_levels(images)
    report["poisson_levels"] = {"distinct_levels": dict(zip(names, levels)),
                                "share_below_129": round(sum(v < 129 for v in levels) / len(levels), 3)}
    return report


def _table(report: dict[str, Any]) -> str:
    lines = [f"{PROG}: {len(report['images'])} images, {report['crop']}x{report['crop']} windows; PSNR (dB) "
             f"of dali_sr's step against BasicSR's, median (min)", "",
             "resize factor    " + "  ".join(f"{f:>13}" for f in FACTORS)]
    for mode, rows in report["resize"].items():
        lines.append(f"{mode:<16} " + "  ".join(f"{_db(r['median'], 6)} ({_db(r['min'], 4)})" for r in rows.values()))
    lines += ["", "JPEG quality     dali_sr vs DiffJPEG   DiffJPEG vs input"]
    for q, r in report["jpeg"].items():
        a, b = r["dali_vs_diffjpeg"], r["diffjpeg_vs_input"]
        lines.append(f"{q:<16} {a['median']:>8.1f} ({a['min']:.1f})   {b['median']:>9.1f} ({b['min']:.1f})")
    lines += ["", "unsharp masking           largest difference   share of values > 1e-5"]
    for pair, r in report["usm"].items():
        lines.append(f"{pair.replace('_', ' '):<25} {r['max']:>18.2e}   {r['share_above_1e-5']:>22.2e}")
    p = report["poisson_levels"]
    lines += ["", f"images with fewer than 129 distinct levels (Poisson levels differ): {p['share_below_129']:.0%}"]
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    p = argparse.ArgumentParser(
        prog=PROG, description=__doc__.split("\n\n")[1].replace("\n", " "))
    p.add_argument("path", metavar="PATH", help="a folder of photographs or an LMDB")
    p.add_argument("--crop", type=positive_int, default=240, help="side of the centred window of each image "
                                                                  "(default 240; smaller images are skipped)")
    p.add_argument("--json", default=None, metavar="OUT", help="also write the figures to OUT")
    return p


def run(args: argparse.Namespace) -> int:
    """Measure, print the table, write the JSON; the exit code."""
    report = {**environment(launcher=PROG), **fidelity(args.path, args.crop)}
    print(_table(report))
    write_json(args.json, report)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command with `argv` (default: this process's arguments); the exit code."""
    return run_command(parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
