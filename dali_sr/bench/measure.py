"""Timing contenders in alternating runs, and what a loader holds in memory.

Per run: samples/s, CPU cores busy (process tree), the gaps between batches (p50/p99 latency).
Each run first takes, untimed, the batches the contender's prefetch queue may hold, so the
timed batches are produced at steady state; afterwards it waits until the process tree is
idle again, so a contender's refill never runs in the next one's window.
"""
from __future__ import annotations

import os
import statistics
import time
from typing import Any, Optional

import numpy as np
import torch

from .. import Loader
from ..progress import progress
from . import gpu_memory, proctree
from .contenders import BASELINE, DALI, DECODE, DECODE_DALI, GT_ONLY, Contender

RUN_ORDER = (DALI, GT_ONLY, BASELINE, DECODE, DECODE_DALI)


def _take(c: Contender, batches: int, bar: Any, latencies: Optional[list[float]] = None) -> int:
    """Samples in the next `batches` batches; the wait for each is appended to `latencies` if given."""
    samples, t = 0, time.perf_counter()
    for _ in range(batches):
        samples += next(c.stream)
        if latencies is not None:
            now = time.perf_counter()
            latencies.append(now - t)
            t = now
        bar.update()
    return samples


def _percentiles_ms(seconds: list[float]) -> tuple[float, float]:
    p50, p99 = np.percentile(seconds, [50, 99]) * 1000.0
    return round(float(p50), 2), round(float(p99), 2)


def _timed_run(c: Contender, batches: int, bar: Any, gpu: Optional[int], unit: str) -> None:
    bar.set_description(c.name)
    _take(c, c.queued + 1, bar)  # drain what was prefetched: the producers now run flat out
    pids = proctree.tree()
    latencies: list[float] = []
    cpu0, t0 = proctree.cpu_seconds(pids), time.perf_counter()
    samples = _take(c, batches, bar, latencies)
    if gpu is not None:
        torch.cuda.synchronize(gpu)
    seconds = time.perf_counter() - t0
    cpu = proctree.cpu_seconds(pids) - cpu0
    proctree.settle(pids)
    c.latencies += latencies
    p50, p99 = _percentiles_ms(latencies)
    c.runs.append({unit: samples, "seconds": round(seconds, 6), "cpu_seconds": round(cpu, 6),
                   f"{unit}_per_s": round(samples / seconds, 2), "cores_busy": round(cpu / seconds, 2),
                   "latency_ms": {"p50": p50, "p99": p99}})


def run_rank(c: Contender) -> int:
    """Timed runs follow RUN_ORDER; contenders it does not name keep their given order, after it."""
    return RUN_ORDER.index(c.name) if c.name in RUN_ORDER else len(RUN_ORDER)


def measure(contenders: list[Contender], runs: int, batches: int, warmup: int, gpu: Optional[int],
            unit: str) -> None:
    """Warm every contender up, then alternate `runs` timed runs; `gpu`: the device to synchronize, if any."""
    total = sum(warmup + runs * (c.queued + 1 + batches) for c in contenders)
    with progress(total, "measuring", "batch") as bar:
        for c in contenders:
            bar.set_description(f"warm-up {c.name}")
            _take(c, warmup, bar)
            proctree.settle(proctree.tree())
        order = sorted(contenders, key=run_rank)
        for _ in range(runs):
            for c in order:
                _timed_run(c, batches, bar, gpu, unit)


def summarize(c: Contender, unit: str) -> dict[str, Any]:
    """Medians over the contender's runs; latency percentiles over all its timed batches."""
    p50, p99 = _percentiles_ms(c.latencies)
    return {f"{unit}_per_s": round(statistics.median(r[f"{unit}_per_s"] for r in c.runs), 2),
            f"cpu_s_per_1000_{unit}": round(statistics.median(1000 * r["cpu_seconds"] / r[unit] for r in c.runs), 3),
            "cores_busy": round(statistics.median(r["cores_busy"] for r in c.runs), 2),
            "latency_ms": {"p50": p50, "p99": p99}, "runs": c.runs}


def peak_rss() -> dict[str, float]:
    """Peak RSS (VmHWM) of the main process and of its live descendants (the DataLoader workers)."""
    pids = proctree.tree()
    main = proctree.memory_mib(pids[0], "VmHWM")
    workers = sum(proctree.memory_mib(pid, "VmHWM") for pid in pids[1:])
    return {"main": round(main, 1), "workers": round(workers, 1), "tree": round(main + workers, 1),
            "worker_processes": len(pids) - 1}


def loader_gpu_memory(loader: Loader, gpu: Optional[int], gpu_base: Optional[float]) -> Optional[float]:
    """MiB the loader holds on the GPU after one epoch alone: the other contenders' pooled DALI memory is
    returned first, then dali_sr's pools fill to what it needs (scratch included). None on a CPU."""
    if gpu is None:
        return None
    gpu_memory.release_unused(gpu)
    loader.set_epoch(loader.epoch + 1)
    for _ in loader:
        pass
    return gpu_memory.held_since(gpu, gpu_base)


def rss_epochs(loader: Loader, epochs: int, gpu: Optional[int], gpu_base: Optional[float]) -> Optional[dict]:
    """RSS of this process (and the loader's GPU memory) after each of `epochs` full dali_sr epochs, and growth."""
    if not epochs:
        return None
    rss, held = [], []
    with progress(epochs * len(loader), "dali_sr epochs (RSS)", "batch") as bar:
        for _ in range(epochs):
            loader.set_epoch(loader.epoch + 1)
            for _ in loader:
                bar.update()
            rss.append(round(proctree.memory_mib(os.getpid()), 1))
            held.append(gpu_memory.held_since(gpu, gpu_base))
    out = {"epochs": epochs, "rss_mib": rss, "growth_mib": round(rss[-1] - rss[0], 1)}
    if gpu is not None:
        out.update(gpu_mib=held, gpu_growth_mib=round(held[-1] - held[0], 1))
    return out
