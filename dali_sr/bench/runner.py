"""The `dali-sr bench` session: the config, three contenders, alternating timed runs, the report.

Contenders: dali_sr's loader, the BasicSR-style DataLoader (`baseline.py`) and plain
`cv2.imdecode` of GT + LQ in a thread pool (decode only: a bound for any PNG loader).
Each run first takes, untimed, the batches the contender's prefetch queue may hold, so the
timed batches are produced at steady state; afterwards it waits until the process tree is
idle again, so a contender's refill never runs in the next one's window.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shlex
import socket
import statistics
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Union

import cv2
import numpy as np
import nvidia.dali
import torch
import yaml
from tqdm import tqdm

from .. import __version__
from ..config import Config, load_config
from ..device import resolve_device
from ..errors import ConfigError, DaliSRError
from ..loader import Loader, build_loader
from ..paired_index import PairedIndex
from ..synthetic import make_paired_dataset
from . import DEFAULT_SYNTHETIC, proctree
from .baseline import PREFETCH_FACTOR, baseline_batches, imdecode

DALI, BASELINE, DECODE = "dali_sr", "baseline", "decode_only"
RUN_ORDER = (DALI, BASELINE, DECODE)


@dataclass
class Contender:
    """A loader under test: an endless stream of batch sizes (pairs), and its timed runs."""

    name: str
    stream: Iterator[int]
    queued: int  # batches its prefetching may hold ready when a run starts
    runs: list[dict] = field(default_factory=list)


# -- the config -------------------------------------------------------------------------------
def _synthetic(n: int) -> dict[str, Any]:
    """The issue's target setting on `n` cached synthetic pairs (480x480 PNG GT, x4, LMDB)."""
    root = Path(os.environ.get("DALI_SR_CACHE") or Path.home() / ".cache" / "dali_sr") / f"bench-{n}"
    print(f"synthetic dataset: {n} pairs in {root}", file=sys.stderr)
    try:
        roots = make_paired_dataset(str(root), n=n)
    except OSError as e:
        raise DaliSRError(f"cannot build the synthetic dataset in {root}: {e.strerror or e}; "
                          f"set DALI_SR_CACHE to a writable folder") from None
    return {"type": "PairedImageDataset", "name": f"synthetic-{n}", "io_backend": {"type": "lmdb"},
            "dataroot_gt": roots["gt_lmdb"], "dataroot_lq": roots["lq_lmdb"], "scale": 4, "gt_size": 128,
            "use_hflip": True, "use_rot": True, "batch_size_per_gpu": 16}


def _overrides(items: list[str], device: Optional[str]) -> dict[str, Any]:
    """`--set KEY=VALUE` items (VALUE parsed as YAML) and `--device` as config overrides."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set needs KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ConfigError(f"--set {key.strip()}: {value!r} is not a valid YAML value") from None
    if device:
        out["device"] = device
    return out


def _config(args: argparse.Namespace) -> Config:
    overrides = _overrides(args.overrides, args.device)
    if args.config == "synthetic":
        source: Union[str, dict] = _synthetic(args.synthetic or DEFAULT_SYNTHETIC)
    elif args.synthetic is not None:
        raise ConfigError("--synthetic N applies only to CONFIG 'synthetic'")
    else:
        source = args.config
    cfg = load_config(source, phase=args.phase, **overrides)
    if cfg.type != "PairedImageDataset":
        raise ConfigError(f"bench compares PairedImageDataset loaders; type {cfg.type} is not supported")
    return cfg


# -- the contenders ---------------------------------------------------------------------------
def _dali_pairs(loader: Loader) -> Iterator[int]:
    while True:
        for batch in loader:
            yield len(batch["gt"])


def _baseline_pairs(cfg: Config, index: PairedIndex, workers: int, on_gpu: bool) -> Iterator[int]:
    for batch in baseline_batches(cfg, index, workers, on_gpu):
        yield len(batch["gt"])


def _decode_pair(index: PairedIndex, i: int) -> None:
    for store, key in ((index.gt, index.gt_keys[i]), (index.lq, index.lq_keys[i])):
        imdecode(store.get(key), store.label(key))


def _decode_pairs(index: PairedIndex, threads: int, batch_size: int, seed: int) -> Iterator[int]:
    """Pairs decoded (no crop, no augment) by `threads` threads, two batches in flight, shuffled."""
    rng = np.random.default_rng(seed)
    order = (int(i) for _ in itertools.count() for i in rng.permutation(len(index)))
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        with ThreadPoolExecutor(threads, thread_name_prefix="decode") as pool:
            pending = deque(pool.submit(_decode_pair, index, next(order)) for _ in range(2 * batch_size))
            while True:
                for _ in range(batch_size):
                    pending.popleft().result()
                    pending.append(pool.submit(_decode_pair, index, next(order)))
                yield batch_size
    finally:
        cv2.setNumThreads(previous)


def _contenders(cfg: Config, loader: Loader, workers: int, on_gpu: bool, baseline: bool) -> list[Contender]:
    """In warm-up order: the baseline first, so its workers fork before DALI starts threads."""
    queued = PREFETCH_FACTOR * workers + (2 if on_gpu else 0)  # + pin-memory thread and CUDA prefetcher
    out = [Contender(BASELINE, _baseline_pairs(cfg, loader.index, workers, on_gpu), queued)] if baseline else []
    out.append(Contender(DALI, _dali_pairs(loader), cfg.prefetch_queue_depth))
    out.append(Contender(DECODE, _decode_pairs(loader.index, workers, cfg.batch_size, cfg.seed), 2))
    return out


# -- measuring --------------------------------------------------------------------------------
def _take(c: Contender, batches: int, bar: tqdm) -> int:
    pairs = 0
    for _ in range(batches):
        pairs += next(c.stream)
        bar.update()
    return pairs


def _timed_run(c: Contender, batches: int, bar: tqdm, gpu: Optional[int]) -> None:
    bar.set_description(c.name)
    _take(c, c.queued + 1, bar)  # drain what was prefetched: the producers now run flat out
    pids = proctree.tree()
    cpu0, t0 = proctree.cpu_seconds(pids), time.perf_counter()
    pairs = _take(c, batches, bar)
    if gpu is not None:
        torch.cuda.synchronize(gpu)
    seconds = time.perf_counter() - t0
    cpu = proctree.cpu_seconds(pids) - cpu0
    proctree.settle(pids)
    c.runs.append({"pairs": pairs, "seconds": round(seconds, 4), "cpu_seconds": round(cpu, 4),
                   "pairs_per_s": round(pairs / seconds, 2)})


def _measure(contenders: list[Contender], args: argparse.Namespace, gpu: Optional[int]) -> None:
    """Warm every contender up, then alternate timed runs; `gpu`: the device to synchronize, if any."""
    total = sum(args.warmup + args.runs * (c.queued + 1 + args.batches) for c in contenders)
    with tqdm(total=total, unit="batch", file=sys.stderr) as bar:
        for c in contenders:
            bar.set_description(f"warm-up {c.name}")
            _take(c, args.warmup, bar)
            proctree.settle(proctree.tree())
        order = sorted(contenders, key=lambda c: RUN_ORDER.index(c.name))
        for _ in range(args.runs):
            for c in order:
                _timed_run(c, args.batches, bar, gpu)


def _peak_rss() -> dict[str, float]:
    """Peak RSS (VmHWM) of the main process and of its live descendants (the DataLoader workers)."""
    pids = proctree.tree()
    main = proctree.memory_mib(pids[0], "VmHWM")
    workers = sum(proctree.memory_mib(pid, "VmHWM") for pid in pids[1:])
    return {"main": round(main, 1), "workers": round(workers, 1), "tree": round(main + workers, 1),
            "worker_processes": len(pids) - 1}


def _rss_epochs(loader: Loader, epochs: int) -> Optional[dict[str, Any]]:
    """RSS of this process after each of `epochs` full dali_sr epochs, and its growth first -> last."""
    if not epochs:
        return None
    rss = []
    with tqdm(total=epochs * len(loader), desc="dali_sr epochs (RSS)", unit="batch", file=sys.stderr) as bar:
        for _ in range(epochs):
            loader.set_epoch(loader.epoch + 1)
            for _ in loader:
                bar.update()
            rss.append(round(proctree.memory_mib(os.getpid()), 1))
    return {"epochs": epochs, "rss_mib": rss, "growth_mib": round(rss[-1] - rss[0], 1)}


# -- the report -------------------------------------------------------------------------------
def _summary(c: Contender) -> dict[str, Any]:
    return {"pairs_per_s": round(statistics.median(r["pairs_per_s"] for r in c.runs), 2),
            "cpu_s_per_1000_pairs": round(statistics.median(1000 * r["cpu_seconds"] / r["pairs"] for r in c.runs), 3),
            "runs": c.runs}


def _report(args: argparse.Namespace, cfg: Config, samples: int, workers: int, on_gpu: bool,
            contenders: list[Contender], peak: Mapping[str, float], rss: Optional[dict]) -> dict[str, Any]:
    results = {c.name: _summary(c) for c in sorted(contenders, key=lambda c: RUN_ORDER.index(c.name))}
    dali = results[DALI]["pairs_per_s"]
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join(["dali-sr"] + sys.argv[1:]),
        "hostname": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "device": torch.cuda.get_device_name(cfg.device_id) if on_gpu else "cpu",
        "versions": {"dali_sr": __version__, "dali": nvidia.dali.__version__, "torch": torch.__version__,
                     "cv2": cv2.__version__, "python": platform.python_version()},
        "config": {"path": args.config, "phase": cfg.phase, "name": cfg.name, "type": cfg.type,
                   "io_backend": cfg.io_backend, "dataroot_gt": cfg.dataroot_gt, "dataroot_lq": cfg.dataroot_lq,
                   "samples": samples, "scale": cfg.scale, "gt_size": cfg.gt_size, "use_hflip": cfg.use_hflip,
                   "use_rot": cfg.use_rot, "color": cfg.color, "batch_size": cfg.batch_size,
                   "num_threads": cfg.num_threads, "prefetch_queue_depth": cfg.prefetch_queue_depth,
                   "dataset_enlarge_ratio": cfg.dataset_enlarge_ratio, "device": cfg.device, "seed": cfg.seed},
        "settings": {"workers": workers, "runs": args.runs, "batches": args.batches, "warmup": args.warmup,
                     "set": args.overrides},
        "results": results,
        "ratios": {f"{DALI}/{name}": round(dali / r["pairs_per_s"], 3) for name, r in results.items() if name != DALI},
        "peak_rss_mib": dict(peak),
        "rss_epochs": rss,
    }


def _table(report: dict[str, Any]) -> str:
    c, s = report["config"], report["settings"]
    aug = "+".join(name for name, on in (("hflip", c["use_hflip"]), ("rot", c["use_rot"])) if on) or "no flips"
    lines = [f"dali-sr bench: {c['name']} ({c['type']}, {c['io_backend']}, {c['samples']} pairs, x{c['scale']}, "
             f"gt_size {c['gt_size']}, {aug}, batch {c['batch_size']}, phase {c['phase']})",
             f"device {report['device']}; dali_sr {c['num_threads']} threads, "
             + (f"baseline {s['workers']} workers, " if BASELINE in report["results"] else "")
             + f"decode-only {s['workers']} threads; median of {s['runs']} runs x {s['batches']} batches",
             "",
             f"{'contender':<12} {'pairs/s':>9}  {'CPU s/1000 pairs':>16}  runs (pairs/s)"]
    for name, r in report["results"].items():
        runs = " ".join(f"{run['pairs_per_s']:.1f}" for run in r["runs"])
        lines.append(f"{name:<12} {r['pairs_per_s']:>9.1f}  {r['cpu_s_per_1000_pairs']:>16.2f}  {runs}")
    lines.append("")
    lines.append("   ".join(f"{k}: {v:.2f}x" for k, v in report["ratios"].items()))
    p = report["peak_rss_mib"]
    lines.append(f"peak RSS: process tree {p['tree']:.0f} MiB (main {p['main']:.0f}, "
                 f"{p['worker_processes']} workers {p['workers']:.0f})")
    rss = report["rss_epochs"]
    if rss:
        lines.append(f"RSS after each of {rss['epochs']} dali_sr epochs (MiB): "
                     f"{' '.join(f'{v:.1f}' for v in rss['rss_mib'])}; growth {rss['growth_mib']:+.1f} MiB")
    return "\n".join(lines)


def bench(args: argparse.Namespace) -> int:
    """The `dali-sr bench` command."""
    cfg = _config(args)
    if args.json and not Path(args.json).resolve().parent.is_dir():
        raise DaliSRError(f"--json {args.json}: its folder does not exist")
    on_gpu = resolve_device(cfg.device)
    workers = args.workers or cfg.num_threads
    with build_loader(cfg) as loader:
        if loader.index.raw:
            raise ConfigError(f"{cfg.name}: raw EDVR LMDBs are not supported by bench (BasicSR's "
                              f"PairedImageDataset reads encoded images)")
        contenders = _contenders(cfg, loader, workers, on_gpu, not args.skip_baseline)
        try:
            _measure(contenders, args, cfg.device_id if on_gpu else None)
            peak = _peak_rss()
        finally:
            for c in contenders:
                c.stream.close()
        rss = _rss_epochs(loader, args.rss_epochs)
        report = _report(args, cfg, len(loader.index), workers, on_gpu, contenders, peak, rss)
    print(_table(report))
    if args.json:
        try:
            Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
        except OSError as e:
            raise DaliSRError(f"cannot write --json {args.json}: {e.strerror}") from None
    return 0
