"""The `dali-sr bench` session: the config, the contenders, alternating timed runs, the report.

What is compared is a `Comparison`: the dataset types a command accepts, the BasicSR-style baseline of
each, and the CONFIG words that build a synthetic dataset. `dali-sr bench` compares PairedImageDataset
and REDSDataset configs with their baselines, and RealESRGANDataset configs with the decode-only
contenders only (BasicSR's RealESRGANDataset + `feed_data` is measured by `python -m
benchmarks.realesrgan`, in a checkout of the repository).
"""
from __future__ import annotations

import argparse
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator, Mapping, Optional, Union

import yaml

from .. import Config, Loader, build_loader, load_config
from ..degrade.chain import bicubic_chain
from ..device import resolve_device
from ..errors import ConfigError
from . import gpu_memory
from .baseline import PAIRED_TYPE, baseline_batches
from .clip_baseline import CLIP_TYPE, clip_baseline_batches
from .dlas_baseline import CHUNK_TYPE, FOLDER_TYPE, chunk_batches, folder_batches
from .dlas_synthetic import DLAS_SYNTHETIC
from .contenders import GT_ONLY, Baseline, Contender, baseline_contender, dali_contender, decode_contenders, workload
from .measure import loader_gpu_memory, measure, peak_rss, rss_epochs
from .report import build_report, check_json_path, table, write_json
from .synthetic_configs import SYNTHETIC, MakeSection

REALESRGAN_TYPE = "RealESRGANDataset"


@dataclass(frozen=True)
class Comparison:
    """What a bench command measures: each dataset type it accepts with its baseline (or, where it has none, the
    sentence saying where one is), the CONFIG words that build a synthetic dataset (word -> (section maker,
    default N)), and figures added to the report from the loader."""

    title: str  # how the command is named in its table and errors
    launcher: str  # what precedes its arguments in the recorded command line
    baselines: Mapping[str, Union[Baseline, str]]
    synthetic: Mapping[str, tuple[MakeSection, int]]
    extra: Optional[Callable[[Loader], dict[str, Any]]] = None


BENCH = Comparison(
    title="dali-sr bench", launcher="dali-sr",
    baselines={PAIRED_TYPE: Baseline(baseline_batches), CLIP_TYPE: Baseline(clip_baseline_batches),
               CHUNK_TYPE: Baseline(chunk_batches, makes_lq=True), FOLDER_TYPE: Baseline(folder_batches, makes_lq=True),
               REALESRGAN_TYPE: f"no BasicSR-style baseline in dali-sr bench for {REALESRGAN_TYPE}: BasicSR's dataset "
                                f"+ feed_data is measured by `python -m benchmarks.realesrgan CONFIG` in a checkout "
                                f"of the dali_sr repository"},
    synthetic={**SYNTHETIC, **DLAS_SYNTHETIC})


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


def resolve_config(args: argparse.Namespace, comparison: Comparison = BENCH) -> Config:
    """The config `args.config` names (a path, a dataset section dict or a synthetic word), with the overrides."""
    overrides = config_overrides(args.overrides, args.device)
    if isinstance(args.config, Mapping):
        source: Union[str, dict] = dict(args.config)
    elif args.config in comparison.synthetic:
        make, default = comparison.synthetic[args.config]
        source = make(args.synthetic or default, args.codec)
    elif args.synthetic is not None or args.codec != "png":
        option = "--synthetic N" if args.synthetic is not None else "--codec"
        raise ConfigError(f"{option} applies only to CONFIG {' or '.join(map(repr, comparison.synthetic))}; pack "
                          f"your own data with dali-sr pack --codec")
    else:
        source = args.config
    phase = overrides.pop("phase", args.phase)  # `--set phase=val` is the same as `--phase val`
    cfg = load_config(source, phase=phase, **overrides)
    if cfg.type not in comparison.baselines:
        types = list(comparison.baselines)
        raise ConfigError(f"{comparison.title} compares {', '.join(types[:-1])}{' and ' if len(types) > 1 else ''}"
                          f"{types[-1]} loaders; type {cfg.type} is not supported")
    return cfg


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


def bench_report(args: argparse.Namespace, comparison: Comparison = BENCH) -> dict[str, Any]:
    """Measure what `args` (the command's options; `config` may also be a dataset section dict) describe."""
    cfg = resolve_config(args, comparison)
    on_gpu = resolve_device(cfg.device)
    gpu = cfg.device_id if on_gpu else None
    workers = args.workers or cfg.num_threads
    baseline = comparison.baselines[cfg.type]
    gpu_base = gpu_memory.idle_mib(gpu)
    with build_loader(cfg) as loader, _gt_only_loader(cfg, args.compare_gt_only) as gt_only:
        work = workload(cfg, loader)
        contenders: list[Contender] = []
        if isinstance(baseline, Baseline) and not args.skip_baseline:  # first: its workers fork before DALI's threads
            contenders.append(baseline_contender(cfg, work, workers, on_gpu, baseline))
        contenders.append(dali_contender(loader))
        if gt_only is not None:
            contenders.append(dali_contender(gt_only, GT_ONLY))
        contenders += decode_contenders(cfg, work, workers, on_gpu)
        try:
            measure(contenders, args.runs, args.batches, args.warmup, gpu, work.unit)
            peak = peak_rss()
        finally:
            for c in contenders:
                c.stream.close()
        loader_gpu = loader_gpu_memory(loader, gpu, gpu_base)
        rss = rss_epochs(loader, args.rss_epochs, gpu, gpu_base)
        report = build_report(args, cfg, work, workers, on_gpu, contenders, peak, rss, loader_gpu,
                              comparison.launcher)
        report["baseline_note"] = None if isinstance(baseline, Baseline) or args.skip_baseline else baseline
        if comparison.extra is not None:
            report.update(comparison.extra(loader))
        return report


def bench(args: argparse.Namespace, comparison: Comparison = BENCH) -> dict[str, Any]:
    """Run a bench command: measure, print the table, write the JSON; the report."""
    check_json_path(args.json)
    report = bench_report(args, comparison)
    print(table(report, comparison.title))
    write_json(args.json, report)
    return report
