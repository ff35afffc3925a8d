"""`python -m benchmarks.matrix`: dali_sr over a grid of settings, per workload and codec, against one baseline
each.

A group is one workload stored in one codec: DIV2K-like pairs (the `dali-sr bench synthetic` data,
480x480 GT, x4) at each GT size, or REDS-like clips (`dali-sr bench synthetic-clips`: 5 LQ frames,
GT 256, x4). Per group, the BasicSR-style DataLoader (`--workers` workers; pinned memory and a
side-stream copy on a GPU), cv2 decode-only (`--workers` threads) and DALI decode-only (the
most threads of the grid) are measured once, in alternating runs. Then every dali_sr cell
(num_threads x hw_decoder_load x prefetch_queue_depth) runs alone with a fresh loader, and
the device memory that loader holds is read. `hw_decoder_load` only steers the mixed JPEG
decoder (the hardware engines), so it is varied, and reported, for JPEG on a GPU only.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Optional, Sequence

from dali_sr import build_loader, load_config
from dali_sr.bench import gpu_memory
from dali_sr.bench.contenders import baseline_contender, dali_contender, decode_contenders, workload
from dali_sr.bench.measure import measure, summarize
from dali_sr.bench.report import command_line, environment
from dali_sr.bench.runner import BENCH
from dali_sr.bench.synthetic_configs import SYNTHETIC
from dali_sr.cli_types import choice_list, fraction_list, positive_int, positive_int_list
from dali_sr.device import resolve_device
from dali_sr.errors import DaliSRError
from dali_sr.storage.formats import CODECS

from .command import run_command
from .matrix_report import markdown, plot

PROG = "python -m benchmarks.matrix"

DEFAULT_THREADS = [2, 4, 8, 16]
DEFAULT_HW_LOADS = [0.65, 0.9, 1.0]
DEFAULT_PREFETCH = [2, 3]


@dataclass
class Group:
    """One workload in one codec: its name and its dataset section."""

    name: str
    kind: str  # "pairs" or "clips"
    codec: str
    section: dict[str, Any]


def _groups(args: argparse.Namespace) -> list[Group]:
    make_pairs, make_clips = SYNTHETIC["synthetic"][0], SYNTHETIC["synthetic-clips"][0]
    out = [Group(f"pairs-gt{gt}-{codec}", "pairs", codec, {**make_pairs(args.pairs, codec), "gt_size": gt})
           for gt in args.gt_sizes for codec in args.codecs]
    out += [Group(f"clips-gt256-{codec}", "clips", codec, make_clips(args.clips, codec)) for codec in args.clip_codecs]
    return out


def _cells(args: argparse.Namespace, codec: str, on_gpu: bool) -> list[dict[str, Any]]:
    """The dali_sr settings of a group, as config overrides."""
    loads = args.hw_loads if on_gpu and codec == "jpeg" else [None]
    return [{"num_threads": t, "prefetch_queue_depth": p, **({"hw_decoder_load": h} if h is not None else {})}
            for t, h, p in itertools.product(args.threads, loads, args.prefetch)]


def _run_cell(section: dict[str, Any], overrides: dict[str, Any], args: argparse.Namespace, gpu: Optional[int],
              unit: str, refs: dict[str, dict]) -> dict[str, Any]:
    cfg = load_config(section, device=args.device, batch_size_per_gpu=args.batch, **overrides)
    base = gpu_memory.idle_mib(gpu)  # earlier cells' DALI pools returned first
    with build_loader(cfg) as loader:
        contender = dali_contender(loader)
        try:
            measure([contender], args.runs, args.batches, args.warmup, gpu, unit)
        finally:
            contender.stream.close()
        held = gpu_memory.held_since(gpu, base)
    result = summarize(contender, unit)
    rate = result[f"{unit}_per_s"]
    ratios = {f"x_{name}": round(rate / r[f"{unit}_per_s"], 3) for name, r in refs.items()}
    return {"num_threads": cfg.num_threads, "hw_decoder_load": overrides.get("hw_decoder_load"),
            "prefetch_queue_depth": cfg.prefetch_queue_depth, **ratios, "gpu_memory_mib": held, **result}


def run_group(group: Group, args: argparse.Namespace, on_gpu: bool, gpu: Optional[int]) -> dict[str, Any]:
    """One group: the baseline and both decode-only contenders in alternating runs, then every dali_sr cell."""
    cfg = load_config(group.section, device=args.device, batch_size_per_gpu=args.batch, num_threads=max(args.threads))
    print(f"== {group.name}", flush=True)
    with build_loader(cfg) as loader:
        work = workload(cfg, loader)
        refs = [baseline_contender(cfg, work, args.workers, on_gpu, BENCH.baselines[cfg.type]),
                *decode_contenders(cfg, work, args.workers, on_gpu)]
        try:
            measure(refs, args.runs, args.batches, args.warmup, gpu, work.unit)
        finally:
            for c in refs:
                c.stream.close()
        samples = len(work.index)
    summaries = {c.name: summarize(c, work.unit) for c in refs}
    cells = [_run_cell(group.section, o, args, gpu, work.unit, summaries) for o in _cells(args, group.codec, on_gpu)]
    best = max(range(len(cells)), key=lambda k: cells[k][f"{work.unit}_per_s"])
    return {"name": group.name, "kind": group.kind, "codec": group.codec, "unit": work.unit, "gt_size": cfg.gt_size,
            "batch_size": cfg.batch_size, "samples": samples, "dataroot_gt": cfg.dataroot_gt,
            "decode_dali_settings": {"num_threads": cfg.num_threads,
                                     "hw_decoder_load": cfg.hw_decoder_load if on_gpu and group.codec == "jpeg" else None,
                                     "prefetch_queue_depth": cfg.prefetch_queue_depth},
            **summaries, "cells": cells, "best": best}


def _default_name(device: str, cpus: int) -> str:
    """`h100-<date>` for an H100 (the first word of the GPU's name with a digit), else `cpu-<N>core-matrix-<date>`."""
    today = date.today().isoformat()
    if device == "cpu":
        return f"cpu-{cpus}core-matrix-{today}"
    model = next((w for w in device.split() if any(ch.isdigit() for ch in w)), "gpu")
    return f"{model.lower()}-{today}"


def _write(report: dict[str, Any], out: Path, name: str) -> tuple[Path, Path, bool]:
    """NAME.json, NAME.md and NAME.png (if matplotlib is there) in `out`; (json, md, plotted)."""
    paths = {ext: out / f"{name}.{ext}" for ext in ("json", "md", "png")}
    paths["json"].write_text(json.dumps(report, indent=2) + "\n")
    paths["md"].write_text(markdown(report, paths["png"].name))
    return paths["json"], paths["md"], plot(report, paths["png"])


def _measure(args: argparse.Namespace, out: Path) -> tuple[Path, Path, bool]:
    """Every group measured in turn; the files are rewritten after each, so a stopped run keeps what it finished."""
    groups = _groups(args)
    if not groups:
        raise DaliSRError("nothing to measure: give --codecs with --gt-sizes, or --clip-codecs")
    probe = load_config(groups[0].section, device=args.device)
    on_gpu = resolve_device(probe.device)
    gpu = probe.device_id if on_gpu else None
    env = environment(probe.device_id if on_gpu else None, PROG)
    settings = {k: getattr(args, k) for k in ("codecs", "gt_sizes", "clip_codecs", "threads", "hw_loads", "prefetch",
                                              "workers", "batch", "pairs", "clips", "runs", "batches", "warmup")}
    name = args.name or _default_name(env["device"], env["cpus_usable"])
    report = {**env, "settings": settings, "planned": [g.name for g in groups], "groups": []}
    for g in groups:
        report["groups"].append(run_group(g, args, on_gpu, gpu))
        files = _write(report, out, name)
    return files


_REPORT_KEYS = ("groups", "settings", "device", "cpus_usable", "date", "command")


def merge(paths: list[str]) -> dict[str, Any]:
    """One report from the JSON files of several matrix runs on one device (groups in file order)."""
    reports = []
    for path in paths:
        try:
            report = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise DaliSRError(f"--merge {path}: cannot read it as JSON ({e}); give benchmarks.matrix JSON "
                              f"files") from None
        lacking = [k for k in _REPORT_KEYS if k not in report] if isinstance(report, dict) else ["groups"]
        if lacking:
            raise DaliSRError(f"--merge {path}: not a benchmarks.matrix JSON file (no "
                              f"{', '.join(map(repr, lacking))}); give NAME.json files")
        reports.append((path, report))
    first_path, first = reports[0]
    merged = {**first, "command": command_line(PROG), "groups": [], "planned": [], "parts": []}
    seen: dict[str, str] = {}
    for path, r in reports:
        for key in ("device", "cpus_usable"):
            if r[key] != first[key]:
                raise DaliSRError(f"--merge: {path} ran with {key} {r[key]!r}, {first_path} with {first[key]!r}; "
                                  f"merge runs of one machine only")
        for key in ("workers", "batch", "pairs", "clips"):
            if r["settings"][key] != first["settings"][key]:
                raise DaliSRError(f"--merge: {path} has {key} {r['settings'][key]}, {first_path} has "
                                  f"{first['settings'][key]}; the groups of one table need the same {key}")
        for g in r["groups"]:
            if g["name"] in seen:
                raise DaliSRError(f"--merge: group {g['name']} is in both {seen[g['name']]} and {path}; "
                                  f"leave one of them out")
            seen[g["name"]] = path
            merged["groups"].append(g)
        merged["planned"] += r.get("planned", [g["name"] for g in r["groups"]])
        merged["parts"].append({"file": Path(path).name, "date": r["date"], "command": r["command"]})
    merged["settings"] = {**first["settings"], **{k: sorted({x for _, r in reports for x in r["settings"][k]})
                                                  for k in ("threads", "hw_loads", "prefetch", "gt_sizes")}}
    return merged


def run(args: argparse.Namespace) -> int:
    """The command: every group (or the merged --merge files), then the files."""
    out = Path(args.out)
    if not out.is_dir():
        raise DaliSRError(f"--out {out}: the folder does not exist")
    if args.merge:
        report = merge(args.merge)
        files = _write(report, out, args.name or _default_name(report["device"], report["cpus_usable"]))
    else:
        files = _measure(args, out)
    json_path, md_path, plotted = files
    print(md_path.read_text())
    print(f"wrote {json_path}, {md_path}" + (f", {md_path.with_suffix('.png')}" if plotted else
                                             " (no plot: pip install matplotlib, or dali_sr[bench])"))
    return 0


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Measure dali_sr on the synthetic DIV2K-like pairs (per GT size) and REDS-like clips, stored in "
                    "each codec, for every num_threads x hw_decoder_load x prefetch_queue_depth; per group also the "
                    "BasicSR-style DataLoader, cv2 decode-only and DALI decode-only. Writes NAME.json, NAME.md "
                    "(tables and the GPU throughput targets) and NAME.png (samples/s vs threads) into --out.")
    p.add_argument("--device", default="auto", choices=("auto", "gpu", "cpu"))
    p.add_argument("--codecs", type=choice_list(CODECS), default=list(CODECS), help="pair codecs (default all)")
    p.add_argument("--no-pairs", dest="codecs", action="store_const", const=[], help="leave the pairs out")
    p.add_argument("--gt-sizes", type=positive_int_list, default=[128, 256], help="pair GT sizes (default 128,256)")
    p.add_argument("--clip-codecs", type=choice_list(CODECS), default=["png", "jpeg"],
                   help="clip codecs (default png,jpeg)")
    p.add_argument("--no-clips", dest="clip_codecs", action="store_const", const=[], help="leave the clips out")
    p.add_argument("--threads", type=positive_int_list, default=DEFAULT_THREADS, help="DALI num_threads (2,4,8,16)")
    p.add_argument("--hw-loads", type=fraction_list, default=DEFAULT_HW_LOADS,
                   help="hw_decoder_load values, JPEG on a GPU only (0.65,0.9,1.0)")
    p.add_argument("--prefetch", type=positive_int_list, default=DEFAULT_PREFETCH, help="prefetch_queue_depth (2,3)")
    p.add_argument("--workers", type=positive_int, default=16, help="baseline DataLoader workers and cv2 threads (16)")
    p.add_argument("--batch", type=positive_int, default=16, help="batch size (default 16)")
    p.add_argument("--pairs", type=positive_int, default=512, help="synthetic pairs (default 512)")
    p.add_argument("--clips", type=positive_int, default=8, help="synthetic clips of 20 frames (default 8)")
    p.add_argument("--runs", type=positive_int, default=3, help="timed runs per contender (default 3)")
    p.add_argument("--batches", type=positive_int, default=20, help="batches per timed run (default 20)")
    p.add_argument("--warmup", type=positive_int, default=3, help="untimed batches per contender first (default 3)")
    p.add_argument("--out", default="benchmarks/results", help="folder for the files (default benchmarks/results)")
    p.add_argument("--merge", nargs="+", metavar="JSON", default=None,
                   help="measure nothing: merge these JSON files (runs of one machine, e.g. a grid "
                        "split over several commands) into NAME.json/.md/.png")
    p.add_argument("--name", default=None, help="file name stem (default h100-<date> on an H100, "
                                                "cpu-<N>core-matrix-<date> on a CPU)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command with `argv` (default: this process's arguments); the exit code."""
    return run_command(parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
