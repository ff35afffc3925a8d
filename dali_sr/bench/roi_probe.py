"""`dali-sr roi-probe`: which DALI region-of-interest decode paths work on this device, and exactly.

dali_sr decodes whole images on the GPU and slices afterwards, because ROI decode crashed
nvImageCodec 0.9 on H100 (reported upstream, NVIDIA/nvImageCodec#55). This probe records the evidence: every (codec, operator)
case runs in its own child process, so a crash (a signal, an abort) is caught and reported
instead of ending the probe. A case decodes a batch of synthetic images with the ROI
operator, `--iterations` times, and compares each window with the same device's whole-image
decode cut by NumPy. Per case: ok / crashed (exit code, signal, the last error lines) /
wrong pixels (largest difference).
"""
from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

CODECS = ("jpeg", "png", "jpeg2000", "htj2k")
OPERATORS = ("image_slice", "image_crop", "image_random_crop")
SIZE, WINDOW, ANCHOR = 480, 96, (37, 200)  # image side, window side, window (x, y) for slice / crop
BATCH = 8


def _case(codec: str, operator: str, on_gpu: bool, iterations: int) -> dict[str, Any]:
    """Run one case in this process; the largest difference to whole decode + NumPy cut, over all iterations."""
    from nvidia.dali import fn, pipeline_def, types

    from ..storage.codecs import encode
    from ..synthetic.images import natural_image

    rng = np.random.default_rng(0)
    images = [np.frombuffer(encode(natural_image(rng, SIZE, SIZE), codec, f"probe{k}"), np.uint8)
              for k in range(BATCH)]
    device = "mixed" if on_gpu else "cpu"
    x, y = ANCHOR

    @pipeline_def(batch_size=BATCH, num_threads=2, device_id=0 if on_gpu else None, prefetch_queue_depth=1)
    def graph():
        encoded = fn.external_source(source=lambda: images, batch=True, dtype=types.UINT8)
        whole = fn.decoders.image(encoded, device=device, output_type=types.RGB)
        if operator == "image_slice":
            roi = fn.decoders.image_slice(encoded, [x, y], [WINDOW, WINDOW], device=device, output_type=types.RGB,
                                          axis_names="WH", normalized_anchor=False, normalized_shape=False)
        elif operator == "image_crop":
            roi = fn.decoders.image_crop(encoded, device=device, output_type=types.RGB, crop=(WINDOW, WINDOW),
                                         crop_pos_x=x / (SIZE - WINDOW), crop_pos_y=y / (SIZE - WINDOW))
        elif operator == "image_random_crop":
            roi = fn.decoders.image_random_crop(encoded, device=device, output_type=types.RGB, seed=1)
        else:
            raise ValueError(f"unknown ROI operator {operator!r}; one of {', '.join(OPERATORS)}")
        return whole, roi

    pipe = graph()
    pipe.build()
    worst = 0
    for _ in range(iterations):
        whole, roi = (out.as_cpu() if on_gpu else out for out in pipe.run())
        for k in range(BATCH):
            full, cut = np.asarray(whole[k]), np.asarray(roi[k])
            # a random crop's window is unknown: take the best-matching position of the whole image
            top, left = _best_match(full, cut) if operator == "image_random_crop" else (y, x)
            want = full[top:top + cut.shape[0], left:left + cut.shape[1]]
            if operator != "image_random_crop" and cut.shape != (WINDOW, WINDOW, 3):
                return {"status": "wrong", "detail": f"window shape {cut.shape}, expected {(WINDOW, WINDOW, 3)}"}
            worst = max(worst, int(np.abs(cut.astype(np.int16) - want.astype(np.int16)).max()))
    return {"status": "ok" if worst <= 1 else "wrong", "max_abs_diff": worst}


def _best_match(full: np.ndarray, cut: np.ndarray) -> tuple[int, int]:
    """(top, left) where `cut` matches `full` best (least squared difference)."""
    import cv2

    scores = cv2.matchTemplate(full.astype(np.float32), cut.astype(np.float32), cv2.TM_SQDIFF)
    _, _, (left, top), _ = cv2.minMaxLoc(scores)
    return top, left


def _child(codec: str, operator: str, on_gpu: bool, iterations: int, timeout: float) -> dict[str, Any]:
    """Run a case in a child process; its result, or how it died."""
    cmd = [sys.executable, "-m", "dali_sr.bench.roi_probe", codec, operator, "gpu" if on_gpu else "cpu",
           str(iterations)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": "hung", "detail": f"no answer in {timeout:.0f} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode == 0 and lines:
        return json.loads(lines[-1])
    died = (f"signal {signal.Signals(-proc.returncode).name}" if proc.returncode < 0
            else f"exit code {proc.returncode}")
    tail = [line for line in proc.stderr.strip().splitlines() if line.strip()][-3:]
    return {"status": "crashed", "detail": died, "stderr_tail": tail}


def _markdown(report: dict[str, Any]) -> str:
    lines = [f"# DALI ROI decode probe on {report['device']}", "",
             f"- date {report['date']}, DALI {report['dali']}, {report['iterations']} iterations of {BATCH} "
             f"{SIZE}x{SIZE} images per case, window {WINDOW}x{WINDOW} at {ANCHOR}",
             f"- command: `{report['command']}`", "", "| codec | operator | result | detail |", "|---|---|---|---|"]
    for c in report["cases"]:
        detail = c.get("detail") or (f"max |diff| {c['max_abs_diff']}" if "max_abs_diff" in c else "")
        if c.get("stderr_tail"):
            detail += ": " + " / ".join(c["stderr_tail"]).replace("|", "\\|")
        lines.append(f"| {c['codec']} | {c['operator']} | {c['status']} | {detail} |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    """The `dali-sr roi-probe` command: every case in a child process, then JSON + markdown into --out."""
    import shlex

    import nvidia.dali

    from ..device import resolve_device
    from ..errors import DaliSRError

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise DaliSRError(f"--out {out} is a file; give a folder for the report")
    out.mkdir(parents=True, exist_ok=True)
    on_gpu = resolve_device(args.device)
    if on_gpu:
        import torch

        device = torch.cuda.get_device_name(0)
    else:
        device = "cpu"
    cases = [{"codec": codec, "operator": op, **_child(codec, op, on_gpu, args.iterations, args.timeout)}
             for codec in args.codecs for op in OPERATORS]
    report = {"device": device, "dali": nvidia.dali.__version__, "date": date.today().isoformat(),
              "command": shlex.join(["dali-sr"] + sys.argv[1:]), "iterations": args.iterations, "cases": cases}
    name = args.name or f"roi-probe-{'gpu' if on_gpu else 'cpu'}-{report['date']}"
    (out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / f"{name}.md").write_text(_markdown(report))
    print(_markdown(report))
    return 0


def add_parser(subparsers: "argparse._SubParsersAction") -> argparse.ArgumentParser:
    """Add the `roi-probe` subcommand to the `dali-sr` subparsers."""
    from ..cli_types import choice_list, positive_int

    p = subparsers.add_parser("roi-probe", help="which DALI ROI decode paths work (and exactly) on this device",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto", choices=("auto", "gpu", "cpu"))
    p.add_argument("--codecs", type=choice_list(CODECS), default=list(CODECS), help="default jpeg,png,jpeg2000,htj2k")
    p.add_argument("--iterations", type=positive_int, default=20, help="batches per case (default 20)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds before a case counts as hung (120)")
    p.add_argument("--out", default="benchmarks/results", help="folder for NAME.json and NAME.md")
    p.add_argument("--name", default=None, help="file name stem (default roi-probe-gpu|cpu-<date>)")
    p.set_defaults(func=run)
    return p


if __name__ == "__main__":  # one case, in the child process `_child` starts
    print(json.dumps(_case(sys.argv[1], sys.argv[2], sys.argv[3] == "gpu", int(sys.argv[4]))))
