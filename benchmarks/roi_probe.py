"""`python -m benchmarks.roi_probe`: which DALI region-of-interest decode paths work on this device, and exactly.

dali_sr decodes whole images on the GPU and slices afterwards, because ROI decode crashed
nvImageCodec 0.9 on H100 (reported upstream, NVIDIA/nvImageCodec#55). This probe records the
evidence: every (codec, operator) case runs in its own child process (`roi_case.py`), so a crash (a
signal, an abort) is caught and reported instead of ending the probe. A case decodes a batch of
synthetic images with the ROI operator, `--iterations` times, and compares each window with the same
device's whole-image decode cut by NumPy. Per case: ok / crashed (exit code, signal, the last error lines) /
wrong pixels (largest difference).
"""
from __future__ import annotations

import argparse
import json
import shlex
import signal
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any, Optional, Sequence

import nvidia.dali
import torch

from dali_sr.cli_types import choice_list, positive_int
from dali_sr.device import resolve_device
from dali_sr.errors import DaliSRError

from .command import run_command
from .roi_case import ANCHOR, BATCH, CODECS, OPERATORS, SIZE, WINDOW

PROG = "python -m benchmarks.roi_probe"
REPO = Path(__file__).resolve().parents[1]  # the checkout: the child imports benchmarks from here


def child_case(codec: str, operator: str, on_gpu: bool, iterations: int, timeout: float) -> dict[str, Any]:
    """Run a case in a child process; its result, or how it died."""
    cmd = [sys.executable, "-m", "benchmarks.roi_case", codec, operator, "gpu" if on_gpu else "cpu", str(iterations)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
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
    """Every case in a child process, then JSON + markdown into --out; the exit code."""
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise DaliSRError(f"--out {out} is a file; give a folder for the report")
    out.mkdir(parents=True, exist_ok=True)
    on_gpu = resolve_device(args.device)
    device = torch.cuda.get_device_name(0) if on_gpu else "cpu"
    cases = [{"codec": codec, "operator": op, **child_case(codec, op, on_gpu, args.iterations, args.timeout)}
             for codec in args.codecs for op in OPERATORS]
    report = {"device": device, "dali": nvidia.dali.__version__, "date": date.today().isoformat(),
              "command": shlex.join(PROG.split() + sys.argv[1:]), "iterations": args.iterations, "cases": cases}
    name = args.name or f"roi-probe-{'gpu' if on_gpu else 'cpu'}-{report['date']}"
    (out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / f"{name}.md").write_text(_markdown(report))
    print(_markdown(report))
    return 0


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="auto", choices=("auto", "gpu", "cpu"))
    p.add_argument("--codecs", type=choice_list(CODECS), default=list(CODECS), help="default jpeg,png,jpeg2000,htj2k")
    p.add_argument("--iterations", type=positive_int, default=20, help="batches per case (default 20)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds before a case counts as hung (120)")
    p.add_argument("--out", default="benchmarks/results", help="folder for NAME.json and NAME.md")
    p.add_argument("--name", default=None, help="file name stem (default roi-probe-gpu|cpu-<date>)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command with `argv` (default: this process's arguments); the exit code."""
    return run_command(parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
