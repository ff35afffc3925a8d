"""The `dali-sr bench` session: the config, three contenders, alternating timed runs, the report.

Contenders: dali_sr's loader, the BasicSR-style DataLoader (`baseline.py` for
PairedImageDataset, `clip_baseline.py` for REDSDataset), plain `cv2.imdecode` of a
sample's images in a thread pool (decode only: a bound for any PNG loader) and the DALI
decoder alone on the same images (`decode_dali.py`: the decoder's ceiling); a sample is a
GT + LQ pair, or a clip (its T LQ frames + the GT centre frame). Per run: samples/s, CPU
cores busy (process tree), the gaps between batches (p50/p99 latency); for dali_sr on a
GPU also the device memory its loader holds.
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
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Optional, Union

import cv2
import numpy as np
import nvidia.dali
import torch
import yaml

from .. import __version__
from ..config import Config
from ..device import resolve_device
from ..datasets.clips.index import ClipIndex
from ..degrade.chain import bicubic_chain
from ..errors import ConfigError, DaliSRError
from ..loader import Loader, build_loader
from ..pipelines.registry import load_config
from ..parallel import ordered_map, usable_cpus
from ..progress import progress
from ..datasets.paired.index import PairedIndex
from ..synthetic import cache_dir
from ..synthetic.images import make_paired_dataset
from ..synthetic.clips import make_clip_dataset
from . import DEFAULT_SYNTHETIC, DEFAULT_SYNTHETIC_CLIPS, SYNTHETIC_CLIP_FRAMES, gpu_memory, proctree
from .baseline import PREFETCH_FACTOR, baseline_batches, imdecode
from .clip_baseline import CLIP_TYPE, basicsr_window, clip_baseline_batches, window_options
from .decode_dali import dali_decode_samples
from .realesrgan_baseline import realesrgan_baseline_batches, settings_per_batch

PAIRED_TYPE = "PairedImageDataset"
REALESRGAN_TYPE = "RealESRGANDataset"
DALI, BASELINE, DECODE, DECODE_DALI = "dali_sr", "baseline", "decode_only", "decode_dali"
GT_ONLY = "dali_sr_gt_only"  # the same GT, LQ made by bicubic in the graph instead of read
RUN_ORDER = (DALI, GT_ONLY, BASELINE, DECODE, DECODE_DALI)


@dataclass
class Contender:
    """A loader under test: an endless stream of batch sizes (samples), and its timed runs."""

    name: str
    stream: Iterator[int]
    queued: int  # batches its prefetching may hold ready when a run starts
    runs: list[dict] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds between timed batches, all runs


@dataclass
class Workload:
    """The samples the baseline and decode-only contenders load, and what one is called."""

    unit: str  # "pairs" or "clips"
    index: Union[PairedIndex, ClipIndex]
    baseline: Callable[..., Iterator[dict]]  # (cfg, index, workers, on_gpu) -> endless batches
    values: Callable[[int], list[tuple[np.ndarray, str]]]  # (i) -> the encoded images sample i reads, labelled
    baseline_makes_lq: bool = False  # the baseline degrades GT itself (RealESRGANDataset)


# -- the config -------------------------------------------------------------------------------
def _build(root: Path, what: str, make: Callable[[], dict[str, str]]) -> dict[str, str]:
    """Run `make` (which builds a synthetic dataset in `root` once); a one-line error if it cannot write."""
    print(f"synthetic dataset: {what} in {root}", file=sys.stderr)
    try:
        return make()
    except OSError as e:
        raise DaliSRError(f"cannot build the synthetic dataset in {root}: {e.strerror or e}; "
                          f"set DALI_SR_CACHE to a writable folder") from None


def _stored_as(roots: dict[str, str], root: Path, codec: str, preset: Optional[str]) -> dict[str, str]:
    """`roots` with `gt_lmdb`/`lq_lmdb` holding the PNG folders' images in `codec` (packed once, cached)."""
    if codec == "png":
        return roots
    from ..prep.pack import pack

    out = dict(roots)
    for side in ("gt", "lq"):
        db = root / f"{side}_{codec}.lmdb"
        if not (db / "meta_info.txt").is_file():
            print(f"packing {side} as {codec} into {db}", file=sys.stderr)
            pack(roots[side], str(db), codec=codec, lossy=True, preset=preset, force=True, resume=True,
                 workers=usable_cpus(), progress=False)
        out[f"{side}_lmdb"] = str(db)
    return out


def _synthetic(n: int, codec: str, side: int = 480) -> dict[str, Any]:
    """The reference setting on `n` cached synthetic pairs (`side`x`side` GT, 480 by default, x4, LMDB of `codec`)."""
    root = cache_dir() / (f"bench-{n}" if side == 480 else f"bench-{n}-{side}px")
    roots = _build(root, f"{n} pairs", lambda: _stored_as(make_paired_dataset(str(root), n=n, size=side), root,
                                                          codec, None))
    return {"type": PAIRED_TYPE, "name": f"synthetic-{n}-{codec}", "io_backend": {"type": "lmdb"},
            "dataroot_gt": roots["gt_lmdb"], "dataroot_lq": roots["lq_lmdb"], "scale": 4, "gt_size": 128,
            "use_hflip": True, "use_rot": True, "batch_size_per_gpu": 16}


def _synthetic_clips(n: int, codec: str, frames: int = SYNTHETIC_CLIP_FRAMES,
                     gt_hw: tuple[int, int] = (720, 1280)) -> dict[str, Any]:
    """An EDVR-style REDS training setting on `n` cached synthetic clips (720x1280 GT by default, x4, LMDB of
    `codec`)."""
    default = frames == SYNTHETIC_CLIP_FRAMES and gt_hw == (720, 1280)
    root = cache_dir() / (f"bench-clips-{n}" if default else f"bench-clips-{n}x{frames}-{gt_hw[0]}x{gt_hw[1]}")
    roots = _build(root, f"{n} clips of {frames} frames",
                   lambda: _stored_as(make_clip_dataset(str(root), clips=n, frames=frames, gt_hw=gt_hw), root,
                                      codec, "reds"))
    return {"type": CLIP_TYPE, "name": f"synthetic-clips-{n}-{codec}", "io_backend": {"type": "lmdb"},
            "dataroot_gt": roots["gt_lmdb"], "dataroot_lq": roots["lq_lmdb"],
            "meta_info_file": roots["meta_info_file"], "scale": 4, "gt_size": 256, "num_frame": 5,
            "interval_list": [1], "random_reverse": False, "val_partition": "REDS4", "use_hflip": True,
            "use_rot": True, "batch_size_per_gpu": 16}


def _synthetic_realesrgan(n: int, codec: str, side: int = 480) -> dict[str, Any]:
    """Real-ESRGAN x4plus training (RealESRGANModel, batch 12, GT 256 from 400 x 400 windows) on the GT of the
    `n` cached synthetic pairs (`side` x `side`)."""
    pairs = _synthetic(n, codec, side)
    return {"type": REALESRGAN_TYPE, "name": f"synthetic-realesrgan-{n}-{codec}", "io_backend": {"type": "lmdb"},
            "dataroot_gt": pairs["dataroot_gt"], "scale": 4, "gt_size": 256, "use_hflip": True, "use_rot": False,
            "batch_size_per_gpu": 12, "model_type": "RealESRGANModel"}


# CONFIG words that build a synthetic dataset: (its config, the default --synthetic N)
SYNTHETIC: dict[str, tuple[Callable[[int, str], dict[str, Any]], int]] = {
    "synthetic": (_synthetic, DEFAULT_SYNTHETIC), "synthetic-clips": (_synthetic_clips, DEFAULT_SYNTHETIC_CLIPS),
    "synthetic-realesrgan": (_synthetic_realesrgan, DEFAULT_SYNTHETIC)}


def config_overrides(items: list[str], device: Optional[str]) -> dict[str, Any]:
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
    overrides = config_overrides(args.overrides, args.device)
    if isinstance(args.config, Mapping):
        source: Union[str, dict] = dict(args.config)
    elif args.config in SYNTHETIC:
        make, default = SYNTHETIC[args.config]
        source = make(args.synthetic or default, args.codec)
    elif args.synthetic is not None or args.codec != "png":
        option = "--synthetic N" if args.synthetic is not None else "--codec"
        raise ConfigError(f"{option} applies only to CONFIG {' or '.join(map(repr, SYNTHETIC))}; pack your own data "
                          f"with dali-sr pack --codec")
    else:
        source = args.config
    phase = overrides.pop("phase", args.phase)  # `--set phase=val` is the same as `--phase val`
    cfg = load_config(source, phase=phase, **overrides)
    if cfg.type not in (PAIRED_TYPE, CLIP_TYPE, REALESRGAN_TYPE):
        raise ConfigError(f"bench compares {PAIRED_TYPE}, {CLIP_TYPE} and {REALESRGAN_TYPE} loaders; type "
                          f"{cfg.type} is not supported")
    return cfg


# -- the contenders ---------------------------------------------------------------------------
def _pair_values(index: PairedIndex, i: int) -> list[tuple[np.ndarray, str]]:
    """The stored images sample `i` reads: GT and LQ, or GT alone for a GT-only index."""
    sides = ((index.gt, index.gt_keys), (index.lq, index.lq_keys)) if index.lq is not None else ((index.gt,
                                                                                                   index.gt_keys),)
    return [(store.get(keys[i]), store.label(keys[i])) for store, keys in sides]


def _clip_values(index: ClipIndex, i: int, **window: Any) -> list[tuple[np.ndarray, str]]:
    """The frames sample `i` reads: its T LQ frames and the GT centre frame (window as the baseline draws it)."""
    clip, centre, frames = basicsr_window(index, i, **window)
    keys = [(index.lq, index.lq_keys[clip][f]) for f in frames] + [(index.gt, index.gt_keys[clip][centre])]
    return [(store.get(key), store.label(key)) for store, key in keys]


def workload(cfg: Config, loader: Loader) -> Workload:
    """Pairs or clips: the samples of the loader's own index."""
    if any(a is not None and a.edvr_shape for a in (loader.index.lq_arrays, loader.index.gt_arrays)):
        raise ConfigError(f"{cfg.name}: raw EDVR LMDBs are not supported by bench (BasicSR's "
                          f"{cfg.type} reads encoded images)")
    if cfg.type == CLIP_TYPE:
        if not cfg.is_train:
            raise ConfigError(f"{cfg.name}: bench measures {CLIP_TYPE} training samples (BasicSR's {CLIP_TYPE} "
                              f"always crops); use phase train")
        return Workload("clips", loader.index, clip_baseline_batches,
                        partial(_clip_values, loader.index, **window_options(cfg)))
    if cfg.type == REALESRGAN_TYPE:
        return Workload("pairs", loader.index, realesrgan_baseline_batches, partial(_pair_values, loader.index),
                        baseline_makes_lq=True)
    return Workload("pairs", loader.index, baseline_batches, partial(_pair_values, loader.index))


def _dali_samples(loader: Loader) -> Iterator[int]:
    while True:
        for batch in loader:
            yield len(batch["gt"])


def _baseline_samples(cfg: Config, work: Workload, workers: int, on_gpu: bool) -> Iterator[int]:
    for batch in work.baseline(cfg, work.index, workers, on_gpu):
        yield len(batch["gt"])


def cv2_decode(work: Workload, i: int) -> None:
    """`cv2.imdecode` every image sample `i` reads."""
    for buf, name in work.values(i):
        imdecode(buf, name)


def _decode_samples(work: Workload, threads: int, batch_size: int, seed: int) -> Iterator[int]:
    """Samples decoded (no crop, no augment) by `threads` threads, two batches in flight, shuffled."""
    rng = np.random.default_rng(seed)
    order = (int(i) for _ in itertools.count() for i in rng.permutation(len(work.index)))
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    decoded = ordered_map(partial(cv2_decode, work), order, threads, ahead=2 * batch_size)
    try:
        while True:
            for _ in range(batch_size):
                next(decoded)
            yield batch_size
    finally:
        decoded.close()
        cv2.setNumThreads(previous)


def baseline_contender(cfg: Config, work: Workload, workers: int, on_gpu: bool) -> Contender:
    """The BasicSR-style DataLoader with `workers` workers (pinned memory + side-stream copy on a GPU)."""
    if getattr(work.index, "lq", True) is None and not work.baseline_makes_lq:
        raise ConfigError(f"{cfg.name}: the BasicSR-style baseline reads stored LQ images, and this config makes "
                          f"its LQ from GT; pass --skip-baseline (or bench the stored pairs with --compare-gt-only)")
    queued = PREFETCH_FACTOR * workers + (2 if on_gpu else 0)  # + pin-memory thread and CUDA prefetcher
    return Contender(BASELINE, _baseline_samples(cfg, work, workers, on_gpu), queued)


def dali_contender(loader: Loader, name: str = DALI) -> Contender:
    return Contender(name, _dali_samples(loader), loader.cfg.prefetch_queue_depth)


def decode_contenders(cfg: Config, work: Workload, workers: int, on_gpu: bool) -> list[Contender]:
    """cv2 on `workers` threads, and DALI's decoder with the config's threads, device and decoder settings."""
    dali = dali_decode_samples(work.values, len(work.index), cfg.batch_size, cfg.num_threads, on_gpu, cfg.device_id,
                               cfg.hw_decoder_load, cfg.prefetch_queue_depth, cfg.seed)
    return [Contender(DECODE, _decode_samples(work, workers, cfg.batch_size, cfg.seed), 2),
            Contender(DECODE_DALI, dali, cfg.prefetch_queue_depth)]


def _contenders(cfg: Config, loader: Loader, work: Workload, workers: int, on_gpu: bool,
                baseline: bool) -> list[Contender]:
    """In warm-up order: the baseline first, so its workers fork before DALI starts threads."""
    out = [baseline_contender(cfg, work, workers, on_gpu)] if baseline else []
    return out + [dali_contender(loader)] + decode_contenders(cfg, work, workers, on_gpu)


# -- measuring --------------------------------------------------------------------------------
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


def _percentiles_ms(seconds: list[float]) -> tuple[float, float]:
    p50, p99 = np.percentile(seconds, [50, 99]) * 1000.0
    return round(float(p50), 2), round(float(p99), 2)


def _run_rank(c: Contender) -> int:
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
        order = sorted(contenders, key=_run_rank)
        for _ in range(runs):
            for c in order:
                _timed_run(c, batches, bar, gpu, unit)


def _peak_rss() -> dict[str, float]:
    """Peak RSS (VmHWM) of the main process and of its live descendants (the DataLoader workers)."""
    pids = proctree.tree()
    main = proctree.memory_mib(pids[0], "VmHWM")
    workers = sum(proctree.memory_mib(pid, "VmHWM") for pid in pids[1:])
    return {"main": round(main, 1), "workers": round(workers, 1), "tree": round(main + workers, 1),
            "worker_processes": len(pids) - 1}


def _loader_gpu_memory(loader: Loader, gpu: Optional[int], gpu_base: Optional[float]) -> Optional[float]:
    """MiB the loader holds on the GPU after one epoch alone: the other contenders' pooled DALI memory is
    returned first, then dali_sr's pools fill to what it needs (scratch included). None on a CPU."""
    if gpu is None:
        return None
    gpu_memory.release_unused(gpu)
    loader.set_epoch(loader.epoch + 1)
    for _ in loader:
        pass
    return gpu_memory.held_since(gpu, gpu_base)


def _rss_epochs(loader: Loader, epochs: int, gpu: Optional[int], gpu_base: Optional[float]) -> Optional[dict]:
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


# -- the report -------------------------------------------------------------------------------
def summarize(c: Contender, unit: str) -> dict[str, Any]:
    """Medians over the contender's runs; latency percentiles over all its timed batches."""
    p50, p99 = _percentiles_ms(c.latencies)
    return {f"{unit}_per_s": round(statistics.median(r[f"{unit}_per_s"] for r in c.runs), 2),
            f"cpu_s_per_1000_{unit}": round(statistics.median(1000 * r["cpu_seconds"] / r[unit] for r in c.runs), 3),
            "cores_busy": round(statistics.median(r["cores_busy"] for r in c.runs), 2),
            "latency_ms": {"p50": p50, "p99": p99}, "runs": c.runs}


def command_line() -> str:
    """This process's `dali-sr ...` command, shell-quoted."""
    return shlex.join(["dali-sr"] + sys.argv[1:])


def environment(device_id: Optional[int] = None) -> dict[str, Any]:
    """When, where and with what a measurement ran (`device_id`: the GPU it ran on, if any)."""
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(),
        "hostname": socket.gethostname(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable_cpus(),
        "device": torch.cuda.get_device_name(device_id) if device_id is not None else "cpu",
        "versions": {"dali_sr": __version__, "dali": nvidia.dali.__version__, "torch": torch.__version__,
                     "cv2": cv2.__version__, "python": platform.python_version()},
    }


def _report(args: argparse.Namespace, cfg: Config, work: Workload, workers: int, on_gpu: bool,
            contenders: list[Contender], peak: Mapping[str, float], rss: Optional[dict],
            loader_gpu: Optional[float], settings: Optional[dict]) -> dict[str, Any]:
    unit = work.unit
    results = {c.name: summarize(c, unit) for c in sorted(contenders, key=lambda c: RUN_ORDER.index(c.name))}
    results[DALI]["gpu_memory_mib"] = loader_gpu
    dali = results[DALI][f"{unit}_per_s"]
    return {
        **environment(cfg.device_id if on_gpu else None),
        "config": {"path": args.config, "phase": cfg.phase, "name": cfg.name, "type": cfg.type,
                   "io_backend": cfg.io_backend, "dataroot_gt": cfg.dataroot_gt, "dataroot_lq": cfg.dataroot_lq,
                   "meta_info_file": cfg.meta_info_file, **cfg.extra, "samples": len(work.index),
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
        "degradation_settings_per_batch": settings,
    }


def _samples_words(report: dict[str, Any]) -> str:
    c = report["config"]
    if report["unit"] == "clips":
        return f"{c['samples']} clips of {c['num_frame']} LQ frames, intervals {c.get('interval_list') or [1]}"
    return f"{c['samples']} pairs"


def _table(report: dict[str, Any]) -> str:
    c, s, unit = report["config"], report["settings"], report["unit"]
    aug = "+".join(name for name, on in (("hflip", c["use_hflip"]), ("rot", c["use_rot"])) if on) or "no flips"
    lines = [f"dali-sr bench: {c['name']} ({c['type']}, {c['io_backend']}, {_samples_words(report)}, x{c['scale']}, "
             f"gt_size {c['gt_size']}, {aug}, batch {c['batch_size']}, phase {c['phase']})",
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
    settings = report.get("degradation_settings_per_batch")
    if settings:
        lines.append(f"distinct settings of BasicSR's per-batch draws (resize direction and mode, noise kind, second "
                     f"blur, final order) per batch of {settings['batch_size']}: dali_sr {settings['dali_sr']:.1f}, "
                     f"baseline {settings['baseline']:.0f}")
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


@contextmanager
def _gt_only_loader(cfg: Config, wanted: bool) -> Iterator[Optional[Loader]]:
    """With `wanted`, a second loader over the same GT that makes its LQ by bicubic instead of reading it."""
    if not wanted:
        yield None
        return
    if cfg.type != PAIRED_TYPE or cfg.degradation is not None:
        raise ConfigError(f"--compare-gt-only needs a {PAIRED_TYPE} config with stored LQ (dataroot_lq)")
    with build_loader(replace(cfg, dataroot_lq=None, degradation=bicubic_chain(cfg.scale))) as loader:
        yield loader


def bench_report(args: argparse.Namespace) -> dict[str, Any]:
    """Measure what `args` (the command's options; `config` may also be a dataset section dict) describe."""
    cfg = _config(args)
    on_gpu = resolve_device(cfg.device)
    gpu = cfg.device_id if on_gpu else None
    workers = args.workers or cfg.num_threads
    gpu_base = gpu_memory.idle_mib(gpu)
    with build_loader(cfg) as loader, _gt_only_loader(cfg, args.compare_gt_only) as gt_only:
        work = workload(cfg, loader)
        contenders = _contenders(cfg, loader, work, workers, on_gpu, not args.skip_baseline)
        if gt_only is not None:
            contenders.insert(contenders.index(next(c for c in contenders if c.name == DALI)) + 1,
                              dali_contender(gt_only, GT_ONLY))
        try:
            measure(contenders, args.runs, args.batches, args.warmup, gpu, work.unit)
            peak = _peak_rss()
        finally:
            for c in contenders:
                c.stream.close()
        loader_gpu = _loader_gpu_memory(loader, gpu, gpu_base)
        rss = _rss_epochs(loader, args.rss_epochs, gpu, gpu_base)
        settings = settings_per_batch(loader) if cfg.type == REALESRGAN_TYPE else None
        return _report(args, cfg, work, workers, on_gpu, contenders, peak, rss, loader_gpu, settings)


def bench(args: argparse.Namespace) -> int:
    """The `dali-sr bench` command."""
    check_json_path(args.json)
    report = bench_report(args)
    print(_table(report))
    write_json(args.json, report)
    return 0
