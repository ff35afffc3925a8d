"""The `dali-sr doctor` report: every figure as JSON, and the text a person reads."""
from __future__ import annotations

import argparse
from typing import Any, Optional

from .. import Config, Loader
from ..bench.report import environment
from .diagnosis import STAGES, Stages, bound_by, fixes, stage_times
from .loop import LoopRun
from .stages import SourceStage, Timing

WHERE = {"read": "source: storage reads, headers",
         "decode": "DALI's decoder (with the window cut, where it cuts), or the source's",
         "augment": "flips, float output, the graph's other operators",
         "degrade": "degradation: the source's draws and the graph's work", "copy": "to the GPU"}


def _rate(seconds: float) -> Optional[float]:
    return round(1.0 / seconds, 1) if seconds > 0 else None


def build_report(args: argparse.Namespace, cfg: Config, loader: Loader, st: Stages, source: SourceStage,
                 pipelines: dict[str, Timing], copy: Optional[Timing], alone: LoopRun,
                 training: Optional[LoopRun], device: Optional[str], elapsed: float) -> dict[str, Any]:
    """Every figure of a doctor session, its diagnosis, its settings and its environment."""
    times = stage_times(st)
    loop = training or alone
    measured = loop.samples / loop.seconds
    return {
        **environment(cfg.device_id if loader.on_gpu else None),
        "config": {"path": args.config if isinstance(args.config, str) else None, "name": cfg.name, "type": cfg.type,
                   "phase": cfg.phase, "io_backend": cfg.io_backend, "samples": len(loader.index),
                   "batch_size": cfg.batch_size, "gt_size": cfg.gt_size, "scale": cfg.scale,
                   "num_threads": cfg.num_threads, "source_workers": cfg.source_workers,
                   "prefetch_queue_depth": cfg.prefetch_queue_depth, "device": "gpu" if loader.on_gpu else "cpu",
                   "degradation": cfg.degradation is not None, "codecs": source.codecs},
        "settings": {"seconds": args.seconds, "step_ms": args.step_ms, "model": args.model, "set": args.overrides},
        "elapsed_s": round(elapsed, 2),
        "loader": alone.as_dict(),
        "stages": {name: {"ms_per_sample": round(1000 * times[name], 3), "samples_per_s": _rate(times[name])}
                   for name in STAGES},
        "source": {**source.timing.as_dict(), "draws_ms_per_sample": round(1000 * st.draws, 3),
                   "decode_ms_per_sample": round(1000 * st.source_decode, 3),
                   "page_cache_speedup": round(source.cached_speedup, 2)},
        "pipelines": {name: t.as_dict() for name, t in pipelines.items()},
        "copy": copy.as_dict() if copy is not None else None,
        "bound_by": bound_by(st),
        "cpus": st.cpus,
        "cores_busy": round(st.cores_busy, 2),
        "training": None if training is None else {**training.as_dict(), "device": device},
        "wait_fraction": training.as_dict()["wait_fraction"] if training is not None else None,
        "fixes": fixes(st, measured),
    }


def text(report: dict[str, Any]) -> str:
    """The printed report: the setting, the loader's rate, each stage, the bound, the wait, the fixes."""
    c, ld = report["config"], report["loader"]
    lines = [f"dali-sr doctor: {c['name']} ({c['type']}, {c['io_backend']}, {c['samples']} samples, batch "
             f"{c['batch_size']}, device {c['device']}, {c['num_threads']} threads, source_workers "
             f"{c['source_workers']}; {report['elapsed_s']:.0f} s)",
             f"loader: {ld['batches_per_s']:.2f} batches/s, {ld['samples_per_s']:.1f} samples/s; "
             f"{report['cores_busy']:.2f} of {report['cpus']} CPU cores busy",
             "",
             f"{'stage':<8} {'ms/sample':>10} {'samples/s':>10}  what"]
    for name, s in report["stages"].items():
        rate = f"{s['samples_per_s']:>10.1f}" if s["samples_per_s"] is not None else f"{'-':>10}"
        note = WHERE[name]
        if name == "copy" and report["copy"] is None:
            note += " (no GPU here)"
        if name == "read" and report["source"]["page_cache_speedup"] >= 1.5:
            note += f"; {report['source']['page_cache_speedup']:.1f}x faster read again"
        lines.append(f"{name:<8} {s['ms_per_sample']:>10.2f} {rate}  {note}")
    lines += ["", f"bound by: {report['bound_by']}"]
    t = report["training"]
    if t is not None:
        step = report["settings"]["model"] or f"{report['settings']['step_ms']:g} ms"
        lines.append(f"training step ({step}, on {t['device'] or 'the training thread'}): {t['step_ms']:.1f} ms; "
                     f"waits {t['wait_ms']['mean']:.1f} ms for data (p50 {t['wait_ms']['p50']:.1f}, p99 "
                     f"{t['wait_ms']['p99']:.1f}): {100 * t['wait_fraction']:.0f}% of each step waits for data; "
                     f"{t['samples_per_s']:.1f} samples/s")
    if report["fixes"]:
        lines.append("fixes, best first (estimated samples/s):")
        lines += [f"  {i}. {f['setting']}: ~{f['estimate_samples_per_s']:.1f} ({f['gain']:.1f}x): {f['why']}"
                  for i, f in enumerate(report["fixes"], 1)]
    else:
        lines.append("no change to the loader's settings is estimated to help by 10% or more")
    return "\n".join(lines)
