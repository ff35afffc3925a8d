"""`python -m benchmarks.train_demo`: how much of a training step waits for data, dali_sr vs the BasicSR-style baseline.

Both loaders feed the same training loop (Adam, L1, AMP) on the bench's cached synthetic DIV2K-like
LMDB dataset: an EDSR-baseline on stored pairs, or, with `--dataset realesrgan`, Real-ESRNet's RRDB on
LQ made by Real-ESRGAN's degradation (dali_sr's RealESRGANDataset against BasicSR's dataset + the
model's `feed_data`). Per step, the data time is how long the loop is blocked
getting the next batch and the step time is forward + backward + optimizer step (synchronized
on a GPU). The baseline runs first, so its DataLoader workers fork before DALI starts threads.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from typing import Any, Iterator, Optional, Sequence

import numpy as np
import nvidia.dali
import torch
from torch import nn

from dali_sr import Loader, __version__, build_loader
from dali_sr.bench import DEFAULT_SYNTHETIC
from dali_sr.bench.baseline import baseline_batches
from dali_sr.bench.contenders import BASELINE, DALI
from dali_sr.bench.report import check_json_path, write_json
from dali_sr.bench.runner import config_overrides
from dali_sr.bench.synthetic_configs import synthetic_pairs
from dali_sr.cli_types import non_negative_int, positive_int
from dali_sr.errors import ConfigError
from dali_sr.models import TinySR
from dali_sr.progress import tracked
from dali_sr.storage.formats import CODECS

from .command import run_command
from .models import EDSR, RRDBNet
from .realesrgan import synthetic_realesrgan
from .realesrgan_baseline import realesrgan_baseline_batches

PROG = "python -m benchmarks.train_demo"

BOTH = "both"
MODELS = ("edsr-baseline", "rrdb", "tiny")
DATASETS = ("pairs", "realesrgan")
LEARNING_RATE = 1e-4


def _model(name: str, scale: int, device: torch.device) -> nn.Module:
    """The network to train, initialized from seed 0 (the same weights for every loader)."""
    torch.manual_seed(0)
    if name == "rrdb":
        if scale != 4:
            raise ConfigError(f"the RRDB network is the x4 one; scale {scale} needs --model edsr-baseline or tiny")
        return RRDBNet().to(device)
    model = EDSR(upscale=scale) if name == "edsr-baseline" else TinySR(scale=scale)
    return model.to(device)


def _step(model: nn.Module, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
          amp_dtype: Optional[torch.dtype], batch: dict[str, Any]) -> torch.Tensor:
    """One training step (L1 loss under autocast when `amp_dtype`); waits for the GPU to finish it."""
    device = batch["lq"].device
    with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
        loss = nn.functional.l1_loss(model(batch["lq"]), batch["gt"])
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return loss


def _train(name: str, batches: Iterator[dict[str, Any]], args: argparse.Namespace, scale: int,
           device: torch.device, amp_dtype: Optional[torch.dtype]) -> dict[str, Any]:
    """`args.warmup` untimed then `args.steps` timed training steps on `batches`; the per-step figures."""
    model = _model(args.model, scale, device)
    opt = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    data_ms, step_ms, losses, samples = [], [], [], 0
    for i in tracked(range(args.warmup + args.steps), args.warmup + args.steps, name, "step"):
        t_data = time.perf_counter()
        batch = next(batches)
        t_step = time.perf_counter()
        loss = _step(model, opt, scaler, amp_dtype, batch)
        t_end = time.perf_counter()
        if i >= args.warmup:
            data_ms.append(round(1000 * (t_step - t_data), 3))
            step_ms.append(round(1000 * (t_end - t_step), 3))
            losses.append(round(loss.item(), 6))
            samples += len(batch["gt"])
    return {"steps": args.steps, "samples": samples, "lq_shape": list(batch["lq"].shape),
            "gt_shape": list(batch["gt"].shape), "data_ms": data_ms, "step_ms": step_ms, "loss": losses}


def _summary(r: dict[str, Any]) -> dict[str, Any]:
    """Median / p99 data ms, median step ms, data share (%), samples/s and first / last loss of a run."""
    data_s, step_s = sum(r["data_ms"]) / 1000, sum(r["step_ms"]) / 1000
    return {"median_data_ms": round(float(np.median(r["data_ms"])), 3),
            "p99_data_ms": round(float(np.percentile(r["data_ms"], 99)), 3),
            "median_step_ms": round(float(np.median(r["step_ms"])), 3),
            "data_share_pct": round(100 * data_s / (data_s + step_s), 2),
            "samples_per_s": round(r["samples"] / (data_s + step_s), 2),
            "first_loss": r["loss"][0], "last_loss": r["loss"][-1]}


def _run_loaders(args: argparse.Namespace, loader: Loader, workers: int,
                 amp_dtype: Optional[torch.dtype]) -> dict[str, dict[str, Any]]:
    """Train on the baseline's batches (then close its workers), then on dali_sr's, as `--loaders` asks."""
    cfg = loader.cfg
    device = torch.device("cuda", cfg.device_id) if loader.on_gpu else torch.device("cpu")
    results = {}
    if args.loaders in (BOTH, BASELINE):
        make = realesrgan_baseline_batches if args.dataset == "realesrgan" else baseline_batches
        batches = make(cfg, loader.index, workers, loader.on_gpu)
        try:
            results[BASELINE] = _train(BASELINE, batches, args, cfg.scale, device, amp_dtype)
        finally:
            batches.close()
    if args.loaders in (BOTH, DALI):
        epochs = itertools.chain.from_iterable(itertools.repeat(loader))
        results[DALI] = _train(DALI, epochs, args, cfg.scale, device, amp_dtype)
    return {name: {**_summary(r), **r} for name, r in results.items()}


def _settings(args: argparse.Namespace, loader: Loader, workers: int, amp_dtype: Optional[torch.dtype]) -> dict:
    """What was run, where and with which versions (the report's `settings`)."""
    cfg = loader.cfg
    network = _model(args.model, cfg.scale, torch.device("cpu"))
    return {"device": torch.cuda.get_device_name(cfg.device_id) if loader.on_gpu else "cpu",
            "versions": {"dali_sr": __version__, "dali": nvidia.dali.__version__, "torch": torch.__version__},
            "dataset": cfg.name, "type": cfg.type, "codec": args.codec, "pairs": len(loader.index), "scale": cfg.scale,
            "gt_size": cfg.gt_size, "batch": cfg.batch_size,
            "amp": str(amp_dtype).removeprefix("torch.") if amp_dtype else None, "model": args.model,
            "network": type(network).__name__, "params": sum(p.numel() for p in network.parameters()),
            "steps": args.steps, "warmup": args.warmup, "workers": workers, "num_threads": cfg.num_threads,
            "set": args.overrides}


def table(report: dict[str, Any]) -> str:
    """The printed report: settings, one row per loader, the data-share comparison."""
    s, results = report["settings"], report["results"]
    lines = [f"{PROG}: {s['network']} ({s['params']:,} params) x{s['scale']} on {s['dataset']} "
             f"({s['pairs']} pairs), gt_size {s['gt_size']}, batch {s['batch']}, device {s['device']}, "
             f"AMP {s['amp'] or 'off'}",
             f"dali_sr {s['num_threads']} DALI threads, baseline {s['workers']} DataLoader workers; "
             f"{s['warmup']} warm-up + {s['steps']} timed steps per loader",
             "",
             f"{'loader':<9} {'steps':>5} {'data ms':>9} {'p99 data':>9} {'step ms':>9} {'data share':>10} "
             f"{'samples/s':>9}  L1 first -> last"]
    for name, r in results.items():
        lines.append(f"{name:<9} {r['steps']:>5} {r['median_data_ms']:>9.1f} {r['p99_data_ms']:>9.1f} "
                     f"{r['median_step_ms']:>9.1f} {r['data_share_pct']:>8.1f} % {r['samples_per_s']:>9.1f}  "
                     f"{r['first_loss']:.4f} -> {r['last_loss']:.4f}")
    lines.append("(data ms, step ms: medians per step)")
    if len(results) == 2:
        lines.append(f"data time share: {DALI} {results[DALI]['data_share_pct']:.1f} % vs "
                     f"{BASELINE} {results[BASELINE]['data_share_pct']:.1f} %")
    return "\n".join(lines)


def _load(args: argparse.Namespace) -> Loader:
    """The dali_sr loader over the cached synthetic pairs with the command's settings (for `--dataset realesrgan`:
    their GT, Real-ESRNet's setting: the GT sharpened, then degraded)."""
    n, side = args.pairs or DEFAULT_SYNTHETIC, getattr(args, "side", 480)
    if args.dataset == "realesrgan":
        section = {**synthetic_realesrgan(n, args.codec, side), "model_type": "RealESRNetModel", "gt_usm": True}
    else:
        section = synthetic_pairs(n, args.codec, side)
    overrides = {"gt_size": args.gt_size, "batch_size_per_gpu": args.batch, "seed": 0,
                 **config_overrides(args.overrides, args.device)}
    return build_loader(section, **overrides)


def train_report(args: argparse.Namespace) -> dict[str, Any]:
    """Train on the loaders `args` names (the command's options) and return the report: settings and results."""
    with _load(args) as loader:
        cfg = loader.cfg
        if cfg.color == "y":
            raise ConfigError(f"{PROG} trains RGB networks; color: y is not supported")
        workers = args.workers or cfg.num_threads
        amp_dtype = None if args.no_amp else (torch.float16 if loader.on_gpu else torch.bfloat16)
        return {"settings": _settings(args, loader, workers, amp_dtype),
                "results": _run_loaders(args, loader, workers, amp_dtype)}


def run(args: argparse.Namespace) -> int:
    """Train, print the table, write the JSON; the exit code."""
    check_json_path(args.json)
    report = train_report(args)
    print(table(report))
    write_json(args.json, report)
    last, steps = next(iter(report["results"].values())), args.warmup + args.steps
    print(f"OK: {steps} batches of lq {tuple(last['lq_shape'])} / gt {tuple(last['gt_shape'])} flowed into "
          f"{steps} {report['settings']['network']} training steps per loader")
    return 0


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Trains an EDSR-baseline network (Adam, L1, AMP) for a few steps on the bench's cached synthetic "
                    "DIV2K-like LMDB pairs (480x480 GT, x4; built once under $DALI_SR_CACHE or ~/.cache/dali_sr), fed "
                    "first by the BasicSR-style DataLoader baseline, then by dali_sr; reports per-step data time "
                    "(blocked on the next batch) against step time (forward + backward + optimizer step).")
    p.add_argument("--pairs", type=positive_int, default=None,
                   help=f"pairs in the synthetic dataset (default {DEFAULT_SYNTHETIC}, the bench's)")
    p.add_argument("--codec", choices=CODECS, default="png", help="how the images are stored (default png)")
    p.add_argument("--gt-size", type=positive_int, default=192, help="GT patch size (default 192)")
    p.add_argument("--batch", type=positive_int, default=16, help="batch size (default 16)")
    p.add_argument("--steps", type=positive_int, default=100, help="timed steps per loader (default 100)")
    p.add_argument("--warmup", type=non_negative_int, default=10,
                   help="untimed steps per loader first (default 10)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="baseline DataLoader workers (default: the config's num_threads)")
    p.add_argument("--loaders", choices=(BOTH, DALI, BASELINE), default=BOTH, help="which loaders to train on")
    p.add_argument("--dataset", choices=DATASETS, default="pairs",
                   help="pairs (stored LQ) or realesrgan (GT only, Real-ESRGAN's degradation; the baseline is "
                        "BasicSR's RealESRGANDataset + feed_data)")
    p.add_argument("--model", choices=MODELS, default="edsr-baseline",
                   help="edsr-baseline (BasicSR's EDSR, 1.5M params at x4), rrdb (Real-ESRNet's RRDBNet, 16.7M) "
                        "or tiny (the demo's network)")
    p.add_argument("--no-amp", action="store_true",
                   help="train in float32 (default: float16 autocast + GradScaler on a GPU, bfloat16 on CPU)")
    p.add_argument("--device", default="auto", choices=("auto", "gpu", "cpu"))
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a dataset config key (VALUE is YAML), e.g. --set num_threads=3; repeatable")
    p.add_argument("--json", default=None, metavar="PATH", help="write the settings and every step's figures to PATH")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command with `argv` (default: this process's arguments); the exit code."""
    return run_command(parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
