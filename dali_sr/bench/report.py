"""The `dali-sr bench` report: the environment of a measurement, the JSON report, the printed table."""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import socket
import sys
from dataclasses import asdict, is_dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Optional

import cv2
import nvidia.dali
import torch

from .. import Config, __version__
from ..errors import DaliSRError
from ..parallel import usable_cpus
from .contenders import BASELINE, DALI, GT_ONLY, Contender, Workload
from .measure import RUN_ORDER, summarize


def command_line(launcher: str = "dali-sr") -> str:
    """This process's command (`launcher`, then its arguments), shell-quoted."""
    return shlex.join(launcher.split() + sys.argv[1:])


def environment(device_id: Optional[int] = None, launcher: str = "dali-sr") -> dict[str, Any]:
    """When, where and with what a measurement ran (`device_id`: the GPU it ran on, if any; `launcher`: what
    preceded the arguments of the command that ran it)."""
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(launcher),
        "hostname": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable_cpus(),
        "device": torch.cuda.get_device_name(device_id) if device_id is not None else "cpu",
        "versions": {"dali_sr": __version__, "dali": nvidia.dali.__version__, "torch": torch.__version__,
                     "cv2": cv2.__version__, "python": platform.python_version()},
    }


def type_options(cfg: Config) -> dict[str, Any]:
    """The options of the config's type (`Config.options`), with the GT sharpening flags when one is set."""
    own = asdict(cfg.options) if is_dataclass(cfg.options) else {}
    flags = {"sharpen_gt": cfg.sharpen_gt, "gt_usm": cfg.gt_usm} if cfg.sharpen_gt or cfg.gt_usm else {}
    return {**own, **flags}


def build_report(args: argparse.Namespace, cfg: Config, work: Workload, workers: int, on_gpu: bool,
                 contenders: list[Contender], peak: Mapping[str, float], rss: Optional[dict],
                 loader_gpu: Optional[float], launcher: str) -> dict[str, Any]:
    """Every figure of a bench session, its settings and its environment."""
    unit = work.unit
    results = {c.name: summarize(c, unit) for c in sorted(contenders, key=lambda c: RUN_ORDER.index(c.name))}
    results[DALI]["gpu_memory_mib"] = loader_gpu
    dali = results[DALI][f"{unit}_per_s"]
    return {
        **environment(cfg.device_id if on_gpu else None, launcher),
        "config": {"path": args.config, "phase": cfg.phase, "name": cfg.name, "type": cfg.type,
                   "io_backend": cfg.io_backend, "dataroot_gt": cfg.dataroot_gt, "dataroot_lq": cfg.dataroot_lq,
                   "meta_info_file": cfg.meta_info_file, **type_options(cfg), "samples": len(work.index),
                   "scale": cfg.scale, "gt_size": cfg.gt_size, "use_hflip": cfg.use_hflip, "use_rot": cfg.use_rot,
                   "color": cfg.color, "batch_size": cfg.batch_size, "num_threads": cfg.num_threads,
                   "prefetch_queue_depth": cfg.prefetch_queue_depth, "hw_decoder_load": cfg.hw_decoder_load,
                   "dataset_enlarge_ratio": cfg.dataset_enlarge_ratio, "device": cfg.device, "seed": cfg.seed},
        "settings": {"workers": workers, "runs": args.runs, "batches": args.batches, "warmup": args.warmup,
                     "set": args.overrides},
        "unit": unit,
        "results": results,
        "ratios": {**{f"{DALI}/{name}": round(dali / r[f"{unit}_per_s"], 3)
                      for name, r in results.items() if name not in (DALI, GT_ONLY)},
                   **({f"{GT_ONLY}/{DALI}": round(results[GT_ONLY][f"{unit}_per_s"] / dali, 3)}
                      if GT_ONLY in results else {})},
        "peak_rss_mib": dict(peak),
        "rss_epochs": rss,
    }


def _samples_words(report: dict[str, Any]) -> str:
    c = report["config"]
    if report["unit"] == "clips":
        return f"{c['samples']} clips of {c['num_frame']} LQ frames, intervals {c.get('interval_list') or [1]}"
    return f"{c['samples']} {report['unit']}"


def _geometry_words(c: dict[str, Any]) -> str:
    """The crop and augmentation of the setting: BasicSR's gt_size and flips, or DL-Art-School's target_size,
    flip and corruptions."""
    if "target_size" not in c:
        aug = "+".join(name for name, on in (("hflip", c["use_hflip"]), ("rot", c["use_rot"])) if on) or "no flips"
        return f"gt_size {c['gt_size']}, {aug}"
    flip = "" if c.get("disable_flip", True) else ", hflip"
    corruptions = "+".join(c["fixed_corruptions"] + [f"{c['num_corrupts_per_image']} of {c['random_corruptions']}"]
                           * bool(c["num_corrupts_per_image"])) or "no corruptions"
    return f"target_size {c['target_size']}{flip}, {corruptions}"


def table(report: dict[str, Any], title: str = "dali-sr bench") -> str:
    """The printed report: the setting, a row per contender, the ratios and the memory figures."""
    c, s, unit = report["config"], report["settings"], report["unit"]
    lines = [f"{title}: {c['name']} ({c['type']}, {c['io_backend']}, {_samples_words(report)}, x{c['scale']}, "
             f"{_geometry_words(c)}, batch {c['batch_size']}, phase {c['phase']})",
             f"device {report['device']}; dali_sr {c['num_threads']} threads, "
             + (f"baseline {s['workers']} workers, " if BASELINE in report["results"] else "")
             + f"decode_only (cv2) {s['workers']} threads, decode_dali {c['num_threads']} threads; "
             f"median of {s['runs']} runs x {s['batches']} batches",
             ""]
    width = max(len("contender"), *map(len, report["results"]))
    lines += [f"{'contender':<{width}} {unit + '/s':>9}  {'CPU s/1000 ' + unit:>16}  {'cores':>5}  {'p50 ms':>7}  "
              f"{'p99 ms':>7}  runs ({unit}/s)"]
    for name, r in report["results"].items():
        runs = " ".join(f"{run[f'{unit}_per_s']:.1f}" for run in r["runs"])
        lines.append(f"{name:<{width}} {r[f'{unit}_per_s']:>9.1f}  {r[f'cpu_s_per_1000_{unit}']:>16.2f}  "
                     f"{r['cores_busy']:>5.2f}  {r['latency_ms']['p50']:>7.1f}  {r['latency_ms']['p99']:>7.1f}  {runs}")
    lines.append("")
    lines.append("   ".join(f"{k}: {v:.2f}x" for k, v in report["ratios"].items()))
    if report["results"][DALI]["gpu_memory_mib"] is not None:
        lines.append(f"dali_sr loader GPU memory: {report['results'][DALI]['gpu_memory_mib']:.0f} MiB")
    p = report["peak_rss_mib"]
    lines.append(f"peak RSS: process tree {p['tree']:.0f} MiB (main {p['main']:.0f}, "
                 f"{p['worker_processes']} workers {p['workers']:.0f})")
    rss = report["rss_epochs"]
    if rss:
        lines.append(f"RSS after each of {rss['epochs']} dali_sr epochs (MiB): "
                     f"{' '.join(f'{v:.1f}' for v in rss['rss_mib'])}; growth {rss['growth_mib']:+.1f} MiB")
        if "gpu_mib" in rss:
            lines.append(f"loader GPU memory after each epoch (MiB): {' '.join(f'{v:.0f}' for v in rss['gpu_mib'])}; "
                         f"growth {rss['gpu_growth_mib']:+.1f} MiB")
    if report.get("baseline_note"):
        lines.append(report["baseline_note"])
    return "\n".join(lines)


def check_json_path(path: Optional[str]) -> None:
    """Refuse a `--json` path whose folder does not exist, before any work."""
    if path and not Path(path).resolve().parent.is_dir():
        raise DaliSRError(f"--json {path}: its folder does not exist")


def write_json(path: Optional[str], report: dict[str, Any]) -> None:
    """Write `report` to the `--json` path, if one was given; a one-line error if it cannot."""
    if not path:
        return
    try:
        Path(path).write_text(json.dumps(report, indent=2) + "\n")
    except OSError as e:
        raise DaliSRError(f"cannot write --json {path}: {e.strerror}") from None
