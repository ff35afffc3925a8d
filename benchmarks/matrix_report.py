"""The `python -m benchmarks.matrix` report as markdown (tables and the GPU throughput targets) and as a PNG plot."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Optional

LOSSLESS_GPU = ("jpeg2000", "htj2k", "raw")


def _rate(result: dict[str, Any], unit: str) -> float:
    return result[f"{unit}_per_s"]


def _load(value: Optional[float]) -> str:
    """A cell's hw_decoder_load; '—' where it steers nothing (CPU, or not JPEG)."""
    return "—" if value is None else f"{value:g}"


def _group_table(g: dict[str, Any]) -> list[str]:
    unit = g["unit"]
    d = g["decode_dali_settings"]
    lines = [f"### {g['name']}: {g['samples']} {unit}, GT {g['gt_size']}, batch {g['batch_size']}", "",
             f"baseline {_rate(g['baseline'], unit):.1f} {unit}/s ({g['baseline']['cores_busy']:.1f} cores busy); "
             f"cv2 decode-only {_rate(g['decode_only'], unit):.1f}; DALI decode-only {_rate(g['decode_dali'], unit):.1f} "
             f"({d['num_threads']} threads, hw_decoder_load {_load(d['hw_decoder_load'])}, prefetch "
             f"{d['prefetch_queue_depth']})", "",
             f"| threads | hw load | prefetch | {unit}/s | × baseline | × DALI decode | cores busy | p50 ms | p99 ms "
             "| GPU MiB |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for k, c in enumerate(g["cells"]):
        rate = f"**{_rate(c, unit):.1f}**" if k == g["best"] else f"{_rate(c, unit):.1f}"
        gpu = "—" if c["gpu_memory_mib"] is None else f"{c['gpu_memory_mib']:.0f}"
        lines.append(f"| {c['num_threads']} | {_load(c['hw_decoder_load'])} | {c['prefetch_queue_depth']} | {rate} | "
                     f"{c['x_baseline']:.2f} | {c['x_decode_dali']:.2f} | {c['cores_busy']:.2f} | "
                     f"{c['latency_ms']['p50']:.1f} | {c['latency_ms']['p99']:.1f} | {gpu} |")
    return lines + [""]


def _best(g: dict[str, Any], max_threads: Optional[int] = None) -> Optional[dict[str, Any]]:
    cells = [c for c in g["cells"] if max_threads is None or c["num_threads"] <= max_threads]
    return max(cells, key=lambda c: _rate(c, g["unit"])) if cells else None


def _targets(report: dict[str, Any]) -> Iterator[tuple[str, str, str, bool]]:
    """(what, measured, target, met) for every GPU throughput target the groups can answer."""
    pairs = {(g["gt_size"], g["codec"]): g for g in report["groups"] if g["kind"] == "pairs"}
    workers = report["settings"]["workers"]
    for (gt, codec), g in sorted(pairs.items()):
        if codec == "jpeg" and (c := _best(g, 4)):
            x = c["x_baseline"]
            yield (f"JPEG GT {gt}: best with ≤ 4 threads ({c['num_threads']}) vs baseline ({workers} workers)",
                   f"{x:.2f}×", "≥ 3×", x >= 3)
            x = c["x_decode_dali"]
            yield f"JPEG GT {gt}: same cell vs DALI decode-only", f"{x:.2f}×", "≥ 0.8×", x >= 0.8
        if codec == "png" and (c := _best(g, workers)):
            x = c["x_baseline"]
            yield (f"PNG GT {gt}: best with ≤ {workers} threads vs baseline ({workers} workers)", f"{x:.2f}×",
                   "≥ 1.5×", x >= 1.5)
        if codec == "png":
            lossless = [(_best(pairs[(gt, k)]), k) for k in LOSSLESS_GPU if (gt, k) in pairs]
            if lossless:
                c, k = max(lossless, key=lambda ck: _rate(ck[0], "pairs"))
                x = _rate(c, "pairs") / _rate(g["baseline"], "pairs")
                yield (f"Lossless GT {gt}: best of {'/'.join(LOSSLESS_GPU)} ({k}, {c['num_threads']} threads) vs "
                       f"PNG baseline", f"{x:.2f}×", "≥ 5×", x >= 5)


def markdown(report: dict[str, Any], plot_name: str) -> str:
    """Environment, the targets, a summary row per group and a table per group."""
    s = report["settings"]
    v = report["versions"]
    lines = [f"# benchmarks.matrix on {report['device']}", "",
             f"- date {report['date']}, host {report['hostname']}, {report['cpus_usable']} CPUs usable",
             f"- dali_sr {v['dali_sr']}, DALI {v['dali']}, torch {v['torch']}, OpenCV {v['cv2']}, "
             f"Python {v['python']}",
             f"- command: `{report['command']}`",
             *(f"  - part {p['file']} ({p['date']}): `{p['command']}`" for p in report.get("parts", [])),
             f"- {s['runs']} runs x {s['batches']} batches per contender (medians), {s['warmup']} warm-up batches; "
             f"baseline: BasicSR-style DataLoader with {s['workers']} workers"
             + (" + pinned memory + side-stream copy to the GPU" if report["device"] != "cpu" else ""),
             f"- plot: [{plot_name}]({plot_name})"]
    missing = [name for name in report.get("planned", []) if name not in {g["name"] for g in report["groups"]}]
    if missing:
        lines.append(f"- partial: {len(report['groups'])} of {len(report['planned'])} groups measured; "
                     f"not measured: {', '.join(missing)}")
    return "\n".join(lines + results(report))


def results(report: dict[str, Any]) -> list[str]:
    """The report's targets, a summary row per group and a table per group (markdown lines)."""
    lines = ["", "## Targets", ""]
    if report["device"] == "cpu":
        lines += ["These targets are set for the GPU machine (baseline with 16 workers); judged on a CPU they only "
                  "show where the CPU path stands.", ""]
    lines += ["| target | measured | wanted | met |", "|---|---:|---:|---|"]
    lines += [f"| {what} | {got} | {want} | {'yes' if met else 'no'} |" for what, got, want, met in _targets(report)]
    lines += ["", "## Summary", "", "| group | baseline | DALI decode-only | best dali_sr | settings | × baseline |",
              "|---|---:|---:|---:|---|---:|"]
    for g in report["groups"]:
        unit, c = g["unit"], g["cells"][g["best"]]
        lines.append(f"| {g['name']} | {_rate(g['baseline'], unit):.1f} | {_rate(g['decode_dali'], unit):.1f} | "
                     f"{_rate(c, unit):.1f} {unit}/s | {c['num_threads']} threads, hw {_load(c['hw_decoder_load'])}, "
                     f"prefetch {c['prefetch_queue_depth']} | {c['x_baseline']:.2f} |")
    lines += ["", "## Groups", ""]
    for g in report["groups"]:
        lines += _group_table(g)
    return lines


def _workload(g: dict[str, Any]) -> str:
    return f"{g['kind']}, GT {g['gt_size']}"


def plot(report: dict[str, Any], path: Path) -> bool:
    """Samples/s vs DALI threads (best over decoder load and prefetch), a line per codec, the baseline dashed.

    One panel per workload. False (nothing written) when matplotlib is not installed.
    """
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    workloads = list(dict.fromkeys(_workload(g) for g in report["groups"]))
    fig, axes = plt.subplots(1, len(workloads), figsize=(5.5 * len(workloads), 4.5), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    codecs = list(dict.fromkeys(g["codec"] for g in report["groups"]))
    workers = report["settings"]["workers"]
    for ax, name in zip(axes[0], workloads):
        for g in (g for g in report["groups"] if _workload(g) == name):
            color, unit = colors[codecs.index(g["codec"]) % len(colors)], g["unit"]
            threads = sorted({c["num_threads"] for c in g["cells"]})
            best = [max(_rate(c, unit) for c in g["cells"] if c["num_threads"] == t) for t in threads]
            ax.plot(threads, best, marker="o", color=color, label=f"dali_sr {g['codec']}")
            ax.axhline(_rate(g["baseline"], unit), color=color, linestyle="--", linewidth=1,
                       label=f"baseline {g['codec']} ({workers} workers)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ticks = sorted({c["num_threads"] for g in report["groups"] if _workload(g) == name for c in g["cells"]})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_xlabel("DALI num_threads")
        ax.set_ylabel(f"{unit}/s (median)")
        ax.set_title(name)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"benchmarks.matrix, {report['device']}, DALI {report['versions']['dali']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
