"""`python -m benchmarks.gpu_suite`: the GPU evidence in one command, most important first, within a time budget.

Steps, in order: the environment (versions, GPU, whether the hardware JPEG decoder works), the
synthetic datasets (built on every core, the time counted), the `gpu`-marked tests (JUnit XML),
the pairs throughput per storage codec against the BasicSR-style baseline and both decode-only
contenders (JPEG also over DALI threads x `hw_decoder_load`), RealESRGANDataset against BasicSR's
dataset + `feed_data` on the GPU, the ROI decode probe, the clips throughput, the loader's GPU memory
over several epochs, a short EDSR training run with the fastest lossless codec and a Real-ESRNet (RRDB)
run on RealESRGANDataset batches (data time against step time). After every step the JSON, markdown and
plot are rewritten, so a stopped run keeps what it finished; a step that would start after the
budget is spent is skipped and listed as such. `--device cpu --size tiny` runs the whole suite on
a CPU in a few minutes (the gpu tests then skip): a dry run before a GPU machine is booked.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import json
import shlex
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import cv2
import numpy as np
import nvidia.dali.backend as dali_backend
import torch

from dali_sr import build_loader, load_config
from dali_sr.bench import gpu_memory as memory
from dali_sr.bench.measure import loader_gpu_memory, rss_epochs
from dali_sr.bench.report import environment as bench_environment
from dali_sr.bench.runner import bench_report
from dali_sr.bench.synthetic_configs import synthetic_clips, synthetic_pairs
from dali_sr.cli_types import positive_int
from dali_sr.device import resolve_device
from dali_sr.errors import DaliSRError
from dali_sr.parallel import usable_cpus

from . import train_demo
from .command import run_command
from .matrix import Group, run_group
from .matrix_report import plot, results
from .realesrgan import COMPARISON as REALESRGAN, synthetic_realesrgan
from .roi_case import CODECS as ROI_CODECS, OPERATORS as ROI_OPERATORS
from .roi_probe import child_case

PROG = "python -m benchmarks.gpu_suite"
PAIR_CODECS = ("jpeg", "png", "htj2k", "jpeg2000", "raw")  # JPEG first: the headline target
CLIP_CODECS = ("png", "jpeg")
LOSSLESS_TRAIN = ("htj2k", "jpeg2000", "raw", "png")
GPU_DECODED = ("jpeg", "jpeg2000", "htj2k")
REPO = Path(__file__).resolve().parents[1]  # the checkout whose tests the gpu_tests step runs


@dataclass(frozen=True)
class SuiteSize:
    """How much data and how many timed batches every step uses."""

    pairs: int  # synthetic pairs
    side: int  # their GT side (x4 LQ)
    gt_size: int  # training patch of the pairs groups
    clips: int
    clip_frames: int
    clip_hw: tuple[int, int]
    clip_gt_size: int
    runs: int
    batches: int
    warmup: int
    workers: int  # baseline DataLoader workers and cv2 decode-only threads
    batch: int
    jpeg_threads: tuple[int, ...]
    hw_loads: tuple[float, ...]
    gpu_threads: int  # DALI threads for GPU-decoded codecs and raw
    memory_batch: int
    memory_gt_size: int
    memory_epochs: int
    train_gt_size: int
    train_batch: int
    train_steps: int
    probe_iterations: int
    resr_gt_size: int  # RealESRGANDataset: GT patch, window it is cut from, batch
    resr_window: int
    resr_batch: int


SIZES = {
    "full": SuiteSize(pairs=512, side=480, gt_size=128, clips=8, clip_frames=20, clip_hw=(720, 1280), clip_gt_size=256,
                      runs=3, batches=20, warmup=3, workers=16, batch=16, jpeg_threads=(2, 4), hw_loads=(0.65, 0.9),
                      gpu_threads=4, memory_batch=32, memory_gt_size=256, memory_epochs=5, train_gt_size=192,
                      train_batch=16, train_steps=30, probe_iterations=10, resr_gt_size=256, resr_window=400,
                      resr_batch=12),
    "tiny": SuiteSize(pairs=12, side=128, gt_size=32, clips=2, clip_frames=6, clip_hw=(64, 96), clip_gt_size=32,
                      runs=1, batches=2, warmup=1, workers=2, batch=4, jpeg_threads=(2,), hw_loads=(0.65,),
                      gpu_threads=2, memory_batch=4, memory_gt_size=32, memory_epochs=2, train_gt_size=32,
                      train_batch=4, train_steps=2, probe_iterations=1, resr_gt_size=32, resr_window=64,
                      resr_batch=2),
}


class Suite:
    """The steps, the budget, and the report files (`NAME.json`, `NAME.md`, `NAME.png` in `out`)."""

    def __init__(self, args: argparse.Namespace, size: SuiteSize, clock: Callable[[], float] = time.monotonic):
        self.args, self.size, self.clock = args, size, clock
        self.out = Path(args.out)
        self.start = clock()
        self.deadline = self.start + 60 * args.budget_min
        self.report: dict[str, Any] = {"command": shlex.join(PROG.split() + sys.argv[1:]), "size": args.size,
                                       "budget_min": args.budget_min, "sizes": asdict(size), "steps": [],
                                       "skipped": []}
        self.name = args.name

    def left(self) -> float:
        """Seconds of the budget left."""
        return self.deadline - self.clock()

    def step(self, name: str, run: Callable[[], Any], needs_s: float = 10.0) -> Any:
        """Run one step unless fewer than `needs_s` seconds of the budget are left; record it; rewrite the files."""
        if self.left() < needs_s:
            self.report["skipped"].append(name)
            print(f"gpu_suite: skipped {name}: {max(self.left(), 0):.0f} s of the budget left", flush=True)
            self.write()
            return None
        print(f"gpu_suite: {name} ({self.left():.0f} s of the budget left)", flush=True)
        t0 = self.clock()
        entry: dict[str, Any] = {"name": name}
        try:
            entry["result"] = result = run()
            entry["status"] = "ok"
        except Exception as e:  # noqa: BLE001 - a failed step is recorded and the suite goes on
            result = None
            entry["status"], entry["error"] = "failed", f"{type(e).__name__}: {e}".splitlines()[0]
            print(f"gpu_suite: {name} failed: {entry['error']}", flush=True)
        entry["seconds"] = round(self.clock() - t0, 1)
        self.report["steps"].append(entry)
        self.write()
        return result

    def write(self) -> None:
        """Rewrite NAME.json, NAME.md and (with throughput groups and matplotlib) NAME.png."""
        if self.name is None:  # named after the machine, once the environment step has read it
            return
        self.report["elapsed_s"] = round(self.clock() - self.start, 1)
        paths = {ext: self.out / f"{self.name}.{ext}" for ext in ("json", "md", "png")}
        paths["json"].write_text(json.dumps(self.report, indent=2) + "\n")
        paths["md"].write_text(markdown(self.report, paths["png"].name))
        groups = throughput_groups(self.report)
        if groups:
            env = self.report["environment"]
            plot({"device": env["device"], "versions": env["versions"], "settings": {"workers": self.size.workers},
                  "groups": groups}, paths["png"])


# -- the steps ----------------------------------------------------------------------------------------
def hardware_jpeg_decoder() -> str:
    """Whether nvImageCodec's hardware JPEG backend (the NVJPG engines) decodes a test JPEG on this GPU."""
    try:
        from nvidia import nvimgcodec

        decoder = nvimgcodec.Decoder(backends=[nvimgcodec.Backend(nvimgcodec.BackendKind.HW_GPU_ONLY)])
        jpeg = cv2.imencode(".jpg", np.full((256, 256, 3), 128, np.uint8))[1].tobytes()
        image = decoder.decode(nvimgcodec.CodeStream(jpeg))
    except Exception as e:  # noqa: BLE001 - no GPU, no nvImageCodec Python module, or no hardware backend
        return f"not in use ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'no detail'})"
    return "in use: the hardware backend decodes JPEG" if image is not None else "not in use: no hardware backend"


def environment(device: str) -> dict[str, Any]:
    """Versions, the machine and the GPU; printed as well."""
    on_gpu = resolve_device(device)
    probe = load_config({"type": "PairedImageDataset", "scale": 4, "gt_size": 32, "device": device})
    env = bench_environment(probe.device_id if on_gpu else None, PROG)
    codec_builds = [d for d in ("nvidia-nvimgcodec-cu12", "nvidia-nvimgcodec-cu13")
                    if _installed(d)]
    dali_builds = [d for d in ("nvidia-dali-cuda120", "nvidia-dali-cuda130") if _installed(d)]
    env["versions"].update(dali_build=", ".join(dali_builds) or "unknown",
                           nvimgcodec=", ".join(f"{d} {importlib.metadata.version(d)}" for d in codec_builds)
                           or str(dali_backend.GetNvimgcodecVersion()),
                           torch_cuda=torch.version.cuda)
    env["cpu_cores"] = usable_cpus()
    env["on_gpu"] = on_gpu
    if on_gpu:
        props = torch.cuda.get_device_properties(probe.device_id)
        env["gpu"] = {"name": props.name, "multiprocessors": props.multi_processor_count,
                      "memory_gib": round(props.total_memory / 2 ** 30, 1), "driver": _driver_version()}
    env["hardware_jpeg_decoder"] = hardware_jpeg_decoder() if on_gpu else "not in use: no GPU"
    print(json.dumps({k: env[k] for k in ("device", "versions", "cpu_cores", "hardware_jpeg_decoder")}, indent=1))
    return env


def _installed(name: str) -> bool:
    try:
        importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _driver_version() -> Optional[str]:
    try:
        run = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return run.stdout.strip().splitlines()[0] if run.returncode == 0 and run.stdout.strip() else None


def build_datasets(size: SuiteSize) -> dict[str, Any]:
    """Every dataset the measuring steps read, built (or found in the cache) now, on every core."""
    times = {}
    for codec in PAIR_CODECS:
        t0 = time.monotonic()
        synthetic_pairs(size.pairs, codec, size.side)
        times[f"pairs-{codec}"] = round(time.monotonic() - t0, 2)
    for codec in CLIP_CODECS:
        t0 = time.monotonic()
        synthetic_clips(size.clips, codec, size.clip_frames, size.clip_hw)
        times[f"clips-{codec}"] = round(time.monotonic() - t0, 2)
    return {"seconds": times, "total_s": round(sum(times.values()), 2)}


def gpu_tests(out: Path, timeout: float, repo: Path = REPO) -> dict[str, Any]:
    """`pytest -m gpu` of the checkout's tests (its pytest `testpaths`) in `repo`, JUnit XML into `out`; the
    counts."""
    xml = out.resolve() / "gpu-tests.xml"
    run = subprocess.run([sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-rs", "-p", "no:cacheprovider",
                          f"--junitxml={xml}"], capture_output=True, text=True, timeout=max(timeout, 1), cwd=repo)
    suites = ElementTree.parse(xml).getroot()
    suite = suites if suites.tag == "testsuite" else suites[0]
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    counts["exit_code"] = run.returncode
    counts["summary"] = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    if counts["failures"] or counts["errors"]:
        raise AssertionError(f"{counts['failures']} failed, {counts['errors']} errors: {counts['summary']}")
    return counts


def _group_args(size: SuiteSize, device: str, codec: str, on_gpu: bool) -> argparse.Namespace:
    """A `benchmarks.matrix` group's settings: JPEG over threads x decoder load; codecs decoded on the GPU (and raw)
    with a few threads; PNG (decoded on the CPU) with the baseline's CPU budget."""
    if codec == "jpeg":
        threads = list(size.jpeg_threads)
    elif on_gpu and (codec in GPU_DECODED or codec == "raw"):
        threads = [size.gpu_threads]
    else:
        threads = [size.workers]
    return argparse.Namespace(device=device, batch=size.batch, runs=size.runs, batches=size.batches,
                              warmup=size.warmup, workers=size.workers, threads=threads,
                              hw_loads=list(size.hw_loads), prefetch=[2])


def throughput_group(size: SuiteSize, device: str, on_gpu: bool, kind: str, codec: str) -> dict[str, Any]:
    """One `benchmarks.matrix` group: the baseline and both decode-only contenders, then the dali_sr cells."""
    if kind == "pairs":
        section = {**synthetic_pairs(size.pairs, codec, size.side), "gt_size": size.gt_size}
    else:
        section = {**synthetic_clips(size.clips, codec, size.clip_frames, size.clip_hw), "gt_size": size.clip_gt_size}
    gpu = load_config(section, device=device).device_id if on_gpu else None
    return run_group(Group(f"{kind}-gt{section['gt_size']}-{codec}", kind, codec, section),
                      _group_args(size, device, codec, on_gpu), on_gpu, gpu)


def roi_probe(on_gpu: bool, iterations: int, budget_left: Callable[[], float]) -> dict[str, Any]:
    """Every (codec, ROI operator) case in its own process while 15 s of the budget are left; crashes recorded,
    not fatal."""
    cases, skipped = [], []
    for codec in ROI_CODECS:
        for op in ROI_OPERATORS:
            left = budget_left()
            if left < 15:
                skipped.append(f"{codec}/{op}")
                continue
            cases.append({"codec": codec, "operator": op,
                          **child_case(codec, op, on_gpu, iterations, min(120.0, left))})
    return {"cases": cases, "skipped": skipped}


def gpu_memory(size: SuiteSize, device: str, on_gpu: bool) -> dict[str, Any]:
    """The loader's GPU memory (and RSS) after each of several epochs at the memory batch and GT size (PNG pairs)."""
    cfg = load_config({**synthetic_pairs(size.pairs, "png", size.side), "gt_size": size.memory_gt_size},
                      device=device, batch_size_per_gpu=size.memory_batch)
    gpu = cfg.device_id if on_gpu else None
    base = memory.idle_mib(gpu)
    with build_loader(cfg) as loader:
        first = loader_gpu_memory(loader, gpu, base)
        epochs = rss_epochs(loader, size.memory_epochs, gpu, base)
    return {"batch": cfg.batch_size, "gt_size": cfg.gt_size, "after_first_epoch_mib": first, **(epochs or {})}


def train(size: SuiteSize, device: str, codec: str) -> dict[str, Any]:
    """A short EDSR-baseline run (AMP) with `codec`, fed by the baseline and by dali_sr: data against step time."""
    args = argparse.Namespace(pairs=size.pairs, side=size.side, codec=codec, gt_size=size.train_gt_size,
                              batch=size.train_batch, steps=size.train_steps, warmup=max(1, size.train_steps // 5),
                              workers=size.workers, loaders="both", model="edsr-baseline", dataset="pairs",
                              no_amp=False, device=device, overrides=[], json=None)
    report = train_demo.train_report(args)
    return {"codec": codec, "settings": report["settings"],
            "results": {name: {k: v for k, v in r.items() if k not in ("data_ms", "step_ms", "loss")}
                        for name, r in report["results"].items()}}


def _realesrgan_section(size: SuiteSize) -> dict[str, Any]:
    return {**synthetic_realesrgan(size.pairs, "png", size.side), "gt_size": size.resr_gt_size,
            "crop_pad_size": size.resr_window, "batch_size_per_gpu": size.resr_batch}


def realesrgan(size: SuiteSize, device: str, on_gpu: bool) -> dict[str, Any]:
    """`RealESRGANDataset` (Real-ESRGAN x4plus) against BasicSR's dataset in `workers` DataLoader workers + its
    `feed_data` on the same device: pairs/s, the ratio, distinct settings per batch."""
    threads = size.gpu_threads if on_gpu else size.workers
    args = argparse.Namespace(config=_realesrgan_section(size), phase=None, device=device, codec="png",
                              synthetic=None, overrides=[f"num_threads={threads}"], workers=size.workers,
                              runs=size.runs, batches=max(2, size.batches // 2), warmup=size.warmup, rss_epochs=0,
                              skip_baseline=False, compare_gt_only=False, json=None)
    report = bench_report(args, REALESRGAN)
    return {"num_threads": threads, "workers": size.workers, "results": report["results"],
            "ratios": report["ratios"], "settings_per_batch": report["degradation_settings_per_batch"]}


def train_realesrnet(size: SuiteSize, device: str) -> dict[str, Any]:
    """Real-ESRNet training (RRDB, AMP) on RealESRGANDataset batches, fed by BasicSR's work and by dali_sr."""
    args = argparse.Namespace(pairs=size.pairs, side=size.side, codec="png", gt_size=size.resr_gt_size,
                              batch=size.resr_batch, steps=size.train_steps, warmup=max(1, size.train_steps // 5),
                              workers=size.workers, loaders="both", model="rrdb", dataset="realesrgan", no_amp=False,
                              device=device, overrides=[f"crop_pad_size={size.resr_window}"], json=None)
    report = train_demo.train_report(args)
    return {"settings": report["settings"],
            "results": {name: {k: v for k, v in r.items() if k not in ("data_ms", "step_ms", "loss")}
                        for name, r in report["results"].items()}}


def fastest_lossless(report: dict[str, Any]) -> str:
    """The lossless codec whose pairs group gave dali_sr's highest rate (png if none was measured)."""
    rates = {}
    for s in report["steps"]:
        g = s.get("result") if s["status"] == "ok" else None
        if g and s["name"].startswith("pairs-") and g["codec"] in LOSSLESS_TRAIN:
            rates[g["codec"]] = g["cells"][g["best"]]["pairs_per_s"]
    return max(rates, key=rates.get) if rates else "png"


# -- the report ---------------------------------------------------------------------------------------
def markdown(report: dict[str, Any], plot_name: str) -> str:
    """Environment, every step's status and time, its figures, the throughput targets, and what was skipped."""
    env = report.get("environment", {})
    lines = [f"# benchmarks.gpu_suite on {env.get('device', '?')}", "",
             f"- command: `{report['command']}` (size {report['size']}, budget {report['budget_min']} min)",
             f"- date {env.get('date', '?')}, {env.get('cpu_cores', '?')} CPU cores, "
             f"elapsed {report.get('elapsed_s', 0)} s",
             "- versions: " + ", ".join(f"{k} {v}" for k, v in env.get("versions", {}).items()),
             f"- hardware JPEG decoder: {env.get('hardware_jpeg_decoder', '?')}", "", "## Steps", "",
             "| step | status | seconds | figures |", "|---|---|---:|---|"]
    for s in report["steps"]:
        lines.append(f"| {s['name']} | {s['status']} | {s['seconds']} | {_figures(s)} |")
    for name in report["skipped"]:
        lines.append(f"| {name} | skipped: budget spent | — | |")
    groups = throughput_groups(report)
    if groups:
        lines += ["", f"Throughput plot: [{plot_name}]({plot_name}); baseline: BasicSR-style DataLoader with "
                      f"{report['sizes']['workers']} workers" + (" + pinned memory + side-stream copy to the GPU"
                                                                   if env.get("on_gpu") else "")]
        lines += results({"device": env.get("device", "cpu"), "groups": groups,
                          "settings": {"workers": report["sizes"]["workers"]}})
    return "\n".join(lines) + "\n"


def throughput_groups(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The pairs and clips groups measured so far (`benchmarks.matrix` groups)."""
    return [s["result"] for s in report["steps"] if s["status"] == "ok" and s["name"].startswith(("pairs-", "clips-"))]


def _figures(step: dict[str, Any]) -> str:
    """A short summary of a step's result for the steps table."""
    r = step.get("result")
    if step["status"] != "ok" or r is None:
        return step.get("error", "")
    name = step["name"]
    if name == "datasets":
        return f"built or found in {r['total_s']} s"
    if name == "gpu_tests":
        return f"{r['passed']} passed, {r['skipped']} skipped of {r['tests']}"
    if name.startswith(("pairs-", "clips-")):
        best = r["cells"][r["best"]]
        unit = r["unit"]
        return (f"best {best[f'{unit}_per_s']:.1f} {unit}/s ({best['num_threads']} threads"
                f"{', hw ' + str(best['hw_decoder_load']) if best.get('hw_decoder_load') is not None else ''}): "
                f"{best['x_baseline']:.2f}x baseline, {best['x_decode_dali']:.2f}x DALI decode-only")
    if name == "roi_probe":
        bad = [f"{c['codec']}/{c['operator']}: {c['status']}" for c in r["cases"] if c["status"] != "ok"]
        return f"{len(r['cases'])} cases, " + ("all ok" if not bad else "; ".join(bad))
    if name == "gpu_memory":
        mem = r.get("gpu_mib")
        return (f"GPU {mem} MiB per epoch" if mem else f"RSS {r.get('rss_mib')} MiB per epoch") + \
            f" (batch {r['batch']}, GT {r['gt_size']})"
    if name == "train":
        return "; ".join(f"{k}: data {v['data_share_pct']} % of the loop, step {v['median_step_ms']} ms"
                         for k, v in r["results"].items()) + f" ({r['codec']})"
    if name == "realesrgan":
        dali, base = r["results"]["dali_sr"], r["results"]["baseline"]
        per_batch = r["settings_per_batch"]
        return (f"dali_sr {dali['pairs_per_s']:.1f} pairs/s ({r['num_threads']} threads) = "
                f"{r['ratios']['dali_sr/baseline']:.2f}x BasicSR's {base['pairs_per_s']:.1f} ({r['workers']} workers "
                f"+ feed_data; target 3x); {per_batch['dali_sr']:.1f} degradation settings per batch of "
                f"{per_batch['batch_size']} (BasicSR 1)")
    if name == "train-realesrnet":
        return "; ".join(f"{k}: data {v['data_share_pct']} % of the loop, step {v['median_step_ms']} ms"
                         for k, v in r["results"].items()) + " (RRDB, target: dali_sr data <= 5 %)"
    return ""


def run(args: argparse.Namespace, clock: Callable[[], float] = time.monotonic) -> int:
    """Every step in turn within the budget (read from `clock`), then the report; the exit code (1 if a step
    failed)."""
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise DaliSRError(f"--out {out} is a file; give a folder for the suite's files")
    out.mkdir(parents=True, exist_ok=True)
    size = SIZES[args.size]
    if args.workers:
        size = replace(size, workers=args.workers)
    suite = Suite(args, size, clock)
    env = suite.step("environment", lambda: environment(args.device), needs_s=0)
    if env is None:
        return 1
    suite.report["environment"] = env
    on_gpu, device = env["on_gpu"], args.device
    suite.name = args.name or f"gpu-suite-{_machine(env)}-{date.today().isoformat()}"
    suite.write()
    suite.step("datasets", lambda: build_datasets(size), needs_s=0)
    suite.step("gpu_tests", lambda: gpu_tests(out, suite.left()), needs_s=30)
    for codec in PAIR_CODECS:
        suite.step(f"pairs-{codec}", lambda c=codec: throughput_group(size, device, on_gpu, "pairs", c))
    suite.step("realesrgan", lambda: realesrgan(size, device, on_gpu))
    suite.step("roi_probe", lambda: roi_probe(on_gpu, size.probe_iterations, suite.left), needs_s=20)
    for codec in CLIP_CODECS:
        suite.step(f"clips-{codec}", lambda c=codec: throughput_group(size, device, on_gpu, "clips", c))
    suite.step("gpu_memory", lambda: gpu_memory(size, device, on_gpu))
    suite.step("train", lambda: train(size, device, fastest_lossless(suite.report)))
    suite.step("train-realesrnet", lambda: train_realesrnet(size, device))
    suite.write()
    print((out / f"{suite.name}.md").read_text())
    failed = [s["name"] for s in suite.report["steps"] if s["status"] != "ok"]
    print(f"{PROG}: {len(suite.report['steps'])} steps run, {len(failed)} failed"
          + (f" ({', '.join(failed)})" if failed else "") + f", {len(suite.report['skipped'])} skipped; "
          f"files {out / suite.name}.json/.md/.png")
    return 1 if failed else 0


def _machine(env: dict[str, Any]) -> str:
    """`h200` for an NVIDIA H200 (the first word of the GPU's name with a digit), `cpu` without a GPU."""
    if not env["on_gpu"]:
        return "cpu"
    return next((w.lower() for w in env["device"].split() if any(ch.isdigit() for ch in w)), "gpu")


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="benchmarks/results", help="folder for NAME.json/.md/.png and gpu-tests.xml")
    p.add_argument("--name", default=None, help="file name stem (default gpu-suite-<gpu>-<date>)")
    p.add_argument("--budget-min", type=float, default=8.0, help="minutes for the whole suite (default 8)")
    p.add_argument("--device", default="gpu", choices=("gpu", "cpu", "auto"), help="default gpu")
    p.add_argument("--size", default="full", choices=tuple(SIZES),
                   help="full (the reference settings, for a GPU machine) or tiny (a CPU dry run in a few minutes)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="baseline DataLoader workers (default 16 for full, 2 for tiny)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command with `argv` (default: this process's arguments); the exit code."""
    return run_command(parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
